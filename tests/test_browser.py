"""The built site in a real browser (Debian's Chromium driven by Playwright).

Every page: loads without console errors or failed requests, sends no request
beyond 127.0.0.1, and has no serious or critical axe-core violation. Then the
features a reader uses: search, copy buttons, the light/dark toggle, linked
content tabs, the pre-drawn diagrams in both palettes, the notebook's outputs,
the 404 page and the keyboard. Screenshots of key pages go to artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("host_network_quiet")]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("ARTIFACTS", ROOT / "artifacts")) / "screenshots"


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site; a missing path gets 404.html with status 404, as on Pages."""

    def send_error(self, code, message=None, explain=None):
        if code == 404:
            body = (Path(self.directory) / "404.html").read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            super().send_error(code, message, explain)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    handler = functools.partial(SiteHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def base_url(built_site: Path) -> Iterator[str]:
    with serve(built_site) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, base_url):
    """A fresh page that records console errors, failed and outside requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    pg = context.new_page()
    pg.problems = []  # type: ignore[attr-defined]

    def outside(route):
        if urlparse(route.request.url).hostname not in ("127.0.0.1", None):
            pg.problems.append(f"request leaves the site: {route.request.url}")
            return route.abort()
        return route.continue_()

    pg.route("**/*", outside)
    pg.on("console", lambda m: m.type == "error" and pg.problems.append(f"console: {m.text}"))
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    pg.on("requestfailed", lambda r: pg.problems.append(f"failed: {r.url} {r.failure}"))
    pg.on("response", lambda r: r.status >= 400 and "/404" not in r.url and
          pg.problems.append(f"HTTP {r.status}: {r.url}"))
    yield pg
    context.close()


def site_pages(site: Path) -> list[str]:
    return sorted("/" + p.parent.relative_to(site).as_posix() + "/"
                  for p in site.rglob("index.html") if "assets" not in p.parts)


def test_the_site_has_the_pages_of_the_nav(built_site: Path):
    pages = site_pages(built_site)
    assert len(pages) >= 17, pages
    assert "/notebooks/am-i-in-a-container/" in pages


def test_every_page_loads_cleanly_and_passes_axe(page, base_url, built_site: Path):
    axe = AXE.read_text() if AXE.exists() else None
    if axe is None and os.environ.get("CI") == "true":
        pytest.fail("axe-core is missing under CI: .ci/run must `npm ci`")
    violations = {}
    for path in [p.replace("//", "/") for p in site_pages(built_site)]:
        page.goto(base_url + path, wait_until="networkidle")
        if axe:
            page.evaluate(axe)
            found = page.evaluate("""async () => (await axe.run(document, {
                resultTypes: ['violations']})).violations
                .filter(v => ['serious', 'critical'].includes(v.impact))
                .map(v => `${v.id} (${v.impact}): ${v.nodes.length} nodes, `
                          + `e.g. ${v.nodes[0].target}`)""")
            if found:
                violations[path] = found
    assert page.problems == []
    assert violations == {}


def test_search_finds_a_chapter_by_a_word_from_its_body(page, base_url):
    page.goto(base_url + "/", wait_until="networkidle")
    page.keyboard.press("/")  # Material's shortcut focuses the search box
    page.keyboard.type("throttled")
    first = page.locator(".md-search-result__item").first
    first.wait_for(timeout=15000)
    assert "cgroups" in page.locator(".md-search-result").inner_text()
    assert page.problems == []


def test_the_search_index_loads_only_when_a_search_starts(page, base_url):
    """lazy-search.js: no page downloads the index until the reader opens search."""
    asked = []
    page.on("request", lambda r: r.url.endswith("/search_index.json") and asked.append(r.url))
    page.goto(base_url + "/under-the-hood/", wait_until="networkidle")
    page.goto(base_url + "/containers/", wait_until="networkidle")
    assert asked == []
    page.locator(".md-search__input").click()  # the search box in the header
    page.keyboard.type("namespace")
    page.locator(".md-search-result__item").first.wait_for(timeout=15000)
    assert len(asked) == 1
    assert page.problems == []


def test_a_shared_search_link_opens_with_its_results(page, base_url):
    page.goto(base_url + "/?q=pivot_root", wait_until="networkidle")  # search.share
    page.locator(".md-search-result__item").first.wait_for(timeout=15000)
    assert "pivot_root" in page.locator(".md-search-result").inner_text()
    assert page.problems == []


def test_the_copy_button_copies_a_code_block(page, base_url):
    page.goto(base_url + "/under-the-hood/cgroups/", wait_until="networkidle")
    block = page.locator("div.highlight").first
    block.hover()
    block.locator("button[data-md-type=copy]").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "cgroups.py --version" in copied
    assert "memory: cgroup v" in copied  # Material copies the block's text as shown


def scheme_of(page) -> str:
    return page.evaluate("document.body.getAttribute('data-md-color-scheme')")


def test_the_palette_toggle_works_and_is_remembered(page, base_url):
    page.goto(base_url + "/", wait_until="networkidle")
    toggle = page.locator("form[data-palette] label:visible")
    assert toggle.count() == 1
    seen = {scheme_of(page)}
    for _ in range(2):  # system -> light -> dark
        toggle.first.click()
        seen.add(scheme_of(page))
    assert {"default", "slate"} <= seen
    chosen = scheme_of(page)
    # The browser's toolbar colour follows the header.
    header = page.evaluate("getComputedStyle(document.querySelector('.md-header')).backgroundColor")
    assert page.get_attribute("meta[name=theme-color]", "content") == header
    page.goto(base_url + "/containers/", wait_until="networkidle")
    assert scheme_of(page) == chosen
    page.locator("form[data-palette] input:checked").focus()
    page.keyboard.press("Enter")  # Enter on the toggle moves to the next palette
    assert scheme_of(page) != chosen


@pytest.mark.parametrize("system", ["light", "dark"])
def test_a_first_visit_follows_the_system_palette_before_the_bundle_runs(browser, base_url,
                                                                          system):
    """The palette is applied while the header is parsed: a reader whose system is
    dark never sees a light page first, even before (or without) Material's bundle."""
    context = browser.new_context(color_scheme=system)
    page = context.new_page()
    page.route("**/bundle.*.min.js", lambda route: route.abort())
    page.goto(base_url + "/containers/", wait_until="domcontentloaded")
    assert scheme_of(page) == ("slate" if system == "dark" else "default")
    assert page.get_attribute("meta[name=color-scheme]", "content") == system
    context.close()


def test_the_system_palette_follows_a_change_of_the_system_setting(browser, base_url):
    context = browser.new_context(color_scheme="light")
    page = context.new_page()
    page.goto(base_url + "/", wait_until="networkidle")
    assert scheme_of(page) == "default"
    page.emulate_media(color_scheme="dark")
    page.wait_for_function("document.body.dataset.mdColorScheme === 'slate'", timeout=5000)
    context.close()


def test_without_javascript_the_page_keeps_its_no_js_styles(browser, base_url):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + "/containers/")
    assert "no-js" in page.get_attribute("html", "class").split()
    context.close()


def test_linked_content_tabs_switch_together(page, base_url):
    page.goto(base_url + "/containers/", wait_until="networkidle")
    sets = page.locator(".tabbed-set")
    assert sets.count() >= 2
    sets.nth(0).locator("label", has_text="Windows").click()
    for i in range(2):
        checked = sets.nth(i).locator("input:checked")
        label = sets.nth(i).locator(f"label[for='{checked.get_attribute('id')}']")
        assert label.inner_text().strip() == "Windows"


@pytest.mark.parametrize("scheme", ["default", "slate"])
def test_diagrams_show_as_svg_in_either_palette(browser, base_url, scheme):
    """Pre-drawn Mermaid diagrams: the drawing for the palette in use is shown and loaded."""
    context = browser.new_context(color_scheme="dark" if scheme == "slate" else "light")
    page = context.new_page()
    variant = "dark" if scheme == "slate" else "light"
    for path in ("/containers/", "/data-science/", "/under-the-hood/together/"):
        page.goto(base_url + path, wait_until="networkidle")
        shown = page.locator(f"article img[src$='.{variant}.svg#only-{variant}']")
        assert shown.count() == 1
        shown.scroll_into_view_if_needed()
        assert shown.is_visible()
        shown.evaluate("img => img.decode()")  # waits until it is loaded and drawable
        assert shown.evaluate("img => img.naturalWidth") > 300
        other = "light" if variant == "dark" else "dark"
        assert not page.locator(f"article img[src$='.{other}.svg#only-{other}']").is_visible()
    context.close()


def test_the_notebook_page_shows_its_outputs(page, base_url):
    page.goto(base_url + "/notebooks/am-i-in-a-container/", wait_until="networkidle")
    text = page.inner_text("article")
    assert "cgroup v" in text and "os.cpu_count()" in text and "MemTotal" in text
    assert page.locator("article img").count() >= 1  # the plot


# Every computed style of each element, and of each ::before and ::after that is
# drawn, except custom properties (the trimmed CSS drops those nothing reads).
COMPUTED_STYLES = """() => {
  const styles = (el, pseudo) => {
    const style = getComputedStyle(el, pseudo), out = [];
    for (const name of style) {
      if (!name.startsWith("--")) out.push(name + ": " + style.getPropertyValue(name));
    }
    return out.sort().join("; ");
  };
  return Array.from(document.querySelectorAll("body *")).map(el => [
    el.tagName + " " + styles(el, null),
    ...["::before", "::after"].map(pseudo => {
      const content = getComputedStyle(el, pseudo).content;
      return pseudo + " " + (["none", "normal"].includes(content) ? content : styles(el, pseudo));
    }),
  ].join("\\n"));
}"""


def test_the_trimmed_notebook_css_styles_every_element_as_the_whole_one(
    browser, base_url, built_site: Path, tmp_path: Path
):
    """tools/trim_notebook_css.py keeps only the notebook CSS the page uses: the page
    must look exactly as with mkdocs-jupyter's whole stylesheet."""
    whole = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "KEEP_NOTEBOOK_CSS": "1"}
    subprocess.run([Path(sys.executable).parent / "mkdocs", "build", "-q", "-d", whole],
                   cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)
    path = "/notebooks/am-i-in-a-container/"
    trimmed_size = (built_site / path.strip("/") / "index.html").stat().st_size
    whole_size = (whole / path.strip("/") / "index.html").stat().st_size
    assert trimmed_size < whole_size / 3, (trimmed_size, whole_size)
    with serve(whole) as whole_url:
        # The trimmed stylesheets' @media rules are for print and very wide screens;
        # one phone and one desktop width, each palette once.
        for scheme, width in (("light", 1280), ("dark", 390)):
            styles = []
            for url in (base_url, whole_url):
                context = browser.new_context(viewport={"width": width, "height": 900},
                                              color_scheme=scheme)
                page = context.new_page()
                page.goto(url + path, wait_until="networkidle")
                styles.append(page.evaluate(COMPUTED_STYLES))
                context.close()
            assert len(styles[0]) == len(styles[1]) > 500
            differ = [a.split(" ", 1)[0] for a, b in zip(*styles, strict=True) if a != b]
            assert not differ, f"{scheme}, {width}px: {len(differ)} elements differ: {differ[:5]}"


def test_the_404_page(page, base_url):
    response = page.goto(base_url + "/no/such/page/")
    assert response.status == 404
    assert "404" in page.inner_text("article")


def test_keyboard_navigation(page, base_url):
    page.goto(base_url + "/containers/", wait_until="networkidle")
    page.keyboard.press("Tab")
    first = page.evaluate("document.activeElement.textContent.trim()")
    assert first.lower().startswith("skip to content")
    focused = set()
    for _ in range(15):
        page.keyboard.press("Tab")
        focused.add(page.evaluate("document.activeElement.tagName"))
    assert "A" in focused  # links are reachable by Tab
    page.keyboard.press("Escape")
    page.keyboard.press("n")  # Material: next page
    page.wait_for_url("**/under-the-hood/", timeout=10000)


KEY_PAGES = ["/", "/under-the-hood/chroot/", "/limits/", "/notebooks/am-i-in-a-container/"]


@pytest.mark.parametrize("scheme", ["default", "slate"])
@pytest.mark.parametrize("viewport", [(1280, 900), (390, 844)], ids=["desktop", "phone"])
def test_screenshots(browser, base_url, scheme, viewport):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                  color_scheme="dark" if scheme == "slate" else "light")
    page = context.new_page()
    for path in KEY_PAGES:
        page.goto(base_url + path, wait_until="networkidle")
        assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") in (
            scheme, None)
        name = (path.strip("/").replace("/", "-") or "home")
        out = SHOTS / f"{name}-{scheme}-{'phone' if viewport[0] < 600 else 'desktop'}.png"
        page.screenshot(path=out, full_page=False)
        assert out.stat().st_size > 10_000
    context.close()
