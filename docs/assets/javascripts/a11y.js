// Code that scrolls sideways must be reachable by keyboard (axe-core:
// scrollable-region-focusable).
// - Notebook cells: mkdocs-jupyter's markup; made focusable as they are.
// - Code blocks: Material makes a block focusable when it mounts it, and with
//   content.lazy it mounts a block only once it scrolls into view, so a
//   keyboard user tabbing down the page would pass the blocks below. Here all
//   blocks are measured in one go after load (all reads, then all writes: one
//   layout, instead of one per block).
(() => {
  const mark = () => {
    for (const cell of document.querySelectorAll(".highlight-ipynb, .jp-OutputArea-output pre")) {
      if (!cell.hasAttribute("tabindex")) cell.setAttribute("tabindex", "0");
    }
    const blocks = [...document.querySelectorAll(".md-typeset pre > code")];
    const wide = blocks.filter((code) => code.scrollWidth > code.clientWidth);
    for (const code of wide) code.setAttribute("tabindex", "0");
  };
  let pending = 0;
  addEventListener("load", mark);
  addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(mark, 200);
  });
})();
