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

  async function draw(block) {
    const mermaid = await load();
    mermaid.initialize({ startOnLoad: false, theme: dark() ? "dark" : "default" });
    // Keep the source so the diagram can be drawn again when the palette changes.
    block.dataset.source ??= block.textContent;
    const id = `diagram-${Math.random().toString(36).slice(2)}`;
    const { svg } = await mermaid.render(id, block.dataset.source);
    block.innerHTML = svg;
    block.setAttribute("data-rendered", "true");
  }

  // Mermaid is loaded and run only when a diagram comes near the screen: a page
  // whose diagram is further down is ready (and scrolls) without waiting for it.
  const nearScreen = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      nearScreen.unobserve(entry.target);
      draw(entry.target);
    }
  }, { rootMargin: "200px 0px" });

  function render() {
    for (const block of document.querySelectorAll(".mermaid-diagram")) {
      if (block.dataset.rendered) draw(block);  // palette changed: redraw now
      else nearScreen.observe(block);
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
