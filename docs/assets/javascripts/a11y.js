// Code cells of notebook pages scroll sideways: make them reachable by keyboard
// (axe-core: scrollable-region-focusable). Runs after every instant navigation.
(() => {
  const fix = () => {
    for (const cell of document.querySelectorAll(".highlight-ipynb, .jp-OutputArea-output pre")) {
      if (!cell.hasAttribute("tabindex")) cell.setAttribute("tabindex", "0");
    }
  };
  if (window.document$) window.document$.subscribe(fix);
  else document.addEventListener("DOMContentLoaded", fix);
})();
