// Render ```mermaid fences with a self-hosted Mermaid, only on pages that have one.
// Material would fetch Mermaid from a CDN; this keeps every request on the site.
// The ES-module build loads only the parts a page's diagrams need (a flowchart
// needs a few hundred KB, not the whole 3.5 MB bundle).
(() => {
  const script = document.currentScript;
  const url = new URL("vendor/mermaid-11.17.2/mermaid.esm.min.mjs",
                      script ? script.src : location.href).href;
  let loading = null;
  const load = () => (loading ??= import(url).then((module) => module.default));

  const dark = () => document.body.getAttribute("data-md-color-scheme") === "slate";

  async function render() {
    const blocks = document.querySelectorAll(".mermaid-diagram");
    if (!blocks.length) return;
    const mermaid = await load();
    mermaid.initialize({ startOnLoad: false, theme: dark() ? "dark" : "default" });
    for (const block of blocks) {
      // Keep the source so the diagram can be drawn again when the palette changes.
      block.dataset.source ??= block.textContent;
      const id = `diagram-${Math.random().toString(36).slice(2)}`;
      const { svg } = await mermaid.render(id, block.dataset.source);
      block.innerHTML = svg;
      block.setAttribute("data-rendered", "true");
    }
  }

  // Material's instant navigation swaps pages without a reload: document$ tells us.
  if (window.document$) window.document$.subscribe(() => render());
  else document.addEventListener("DOMContentLoaded", render);
  new MutationObserver(() => render()).observe(document.body, {
    attributes: true,
    attributeFilter: ["data-md-color-scheme"],
  });
})();
