// Fetch the search index only when the reader starts a search, not on every
// page load: it is the largest file a page would otherwise download (about a
// third of its bytes). Material requests it with XMLHttpRequest as soon as its
// bundle runs, so this file must run first (see docs/.overrides/main.html);
// it holds that one request back until the search box is opened or focused, a
// search shortcut is pressed, or the address carries a search (?q=, ?h=).
(() => {
  const INDEX = /(^|\/)search\/search_index\.json$/;
  const { open, send } = XMLHttpRequest.prototype;
  const held = [];
  let started = false;

  const start = () => {
    if (started) return;
    started = true;
    for (const [request, args] of held.splice(0)) send.apply(request, args);
  };

  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this.searchIndex = INDEX.test(new URL(String(url), location.href).pathname);
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (...args) {
    if (this.searchIndex && !started) held.push([this, args]);
    else send.apply(this, args);
  };

  const params = new URLSearchParams(location.search);
  if (params.has("q") || params.has("h")) start();
  document.addEventListener("focusin", (event) => {
    if (event.target.matches?.("[data-md-component=search-query]")) start();
  });
  document.addEventListener("change", (event) => {
    if (event.target.id === "__search" && event.target.checked) start();
  });
  document.addEventListener("keydown", (event) => {
    if (["/", "s", "S", "f", "F"].includes(event.key)) start();  // Material's shortcuts
  }, true);
})();
