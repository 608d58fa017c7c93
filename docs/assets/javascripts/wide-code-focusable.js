// Code that scrolls sideways must be reachable by keyboard (axe-core:
// scrollable-region-focusable). Material makes a code block focusable when it
// mounts it, and with the content.lazy feature (mkdocs.yml) it mounts a block
// only once the block scrolls into view: a keyboard user tabbing down the page
// would pass the blocks below. Here every wide block is made focusable after
// load, measured in one go (all reads, then all writes: one layout in all).
// Notebook cells get theirs at build time (tools/hooks/notebook_keyboard.py).
(() => {
  const mark = () => {
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
