"""The built site in a real browser (Debian's Chromium driven by Playwright).

Every page: loads without console errors or failed requests, sends no request
beyond 127.0.0.1, and has no serious or critical axe-core violation. Then the
features a reader uses: search, copy buttons, the light/dark toggle, linked
content tabs, the pre-drawn diagrams in both palettes, the notebook's outputs,
the 404 page and the keyboard. Screenshots of key pages go to artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from conftest import ROOT
from console_blocks import find_blocks, parse_console
from site_helpers import build_small_site, console_blocks, site_pages
from static_server import CHROMIUM, CHROMIUM_ARGS, serve

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("host_network_quiet")]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = Path(os.environ.get("ARTIFACTS", ROOT / "artifacts")) / "screenshots"

# Browser, contexts and pages come from pytest-playwright; these fixtures point it
# at Debian's Chromium and the built site.


@pytest.fixture(scope="session")
def base_url(built_site: Path):
    """Every new context's address for relative page.goto() paths."""
    with serve(built_site) as url:
        yield url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def page(page, base_url):
    """pytest-playwright's page, recording console errors, failed and outside requests."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page.problems = []  # type: ignore[attr-defined]

    def outside(route):
        if urlparse(route.request.url).hostname not in ("127.0.0.1", None):
            page.problems.append(f"request leaves the site: {route.request.url}")
            return route.abort()
        return route.continue_()

    page.route("**/*", outside)
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: page.problems.append(f"failed: {r.url} {r.failure}"))
    page.on(
        "response",
        lambda r: (
            r.status >= 400
            and "/404" not in r.url
            and page.problems.append(f"HTTP {r.status}: {r.url}")
        ),
    )
    return page


def test_the_site_has_the_pages_of_the_nav(built_site: Path):
    pages = site_pages(built_site)
    assert len(pages) >= 17, pages
    assert "/run-well/am-i-in-a-container/" in pages


def test_old_addresses_lead_to_the_moved_pages(page):
    """The pages moved when the docs tree came to mirror the navigation: a bookmark of
    an old address still lands on the page (mkdocs-redirects, mkdocs.yml)."""
    loader = type("Loader", (yaml.SafeLoader,), {})  # mkdocs.yml names Python objects
    loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    loader.add_constructor("!ENV", lambda *_: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=loader)
    redirects = next(p["redirects"]["redirect_maps"] for p in config["plugins"]
                     if isinstance(p, dict) and "redirects" in p)
    assert len(redirects) >= 11
    for old, new in redirects.items():
        page.goto("/" + old.removesuffix(".md") + "/", wait_until="networkidle")
        target = "/" + new.rsplit(".", 1)[0] + "/"
        assert page.url.endswith(target), f"{old} -> {page.url}, not {target}"
        assert page.locator("article h1").count() == 1
    assert page.problems == []


def test_every_page_loads_cleanly_and_passes_axe(page, built_site: Path):
    axe = AXE.read_text() if AXE.exists() else None
    if axe is None and os.environ.get("CI") == "true":
        pytest.fail("axe-core is missing under CI: .ci/run must `npm ci`")
    violations = {}
    for path in [p.replace("//", "/") for p in site_pages(built_site)]:
        page.goto(path, wait_until="networkidle")
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


def test_search_finds_a_chapter_by_a_word_from_its_body(page):
    page.goto("/", wait_until="networkidle")
    page.keyboard.press("/")  # Material's shortcut focuses the search box
    page.keyboard.type("throttled")
    first = page.locator(".md-search-result__item").first
    first.wait_for(timeout=15000)
    assert "cgroups" in page.locator(".md-search-result").inner_text()
    assert page.problems == []


def test_the_search_index_loads_only_when_a_search_starts(page):
    """lazy-search.js: no page downloads the index until the reader opens search."""
    asked = []
    page.on("request", lambda r: r.url.endswith("/search_index.json") and asked.append(r.url))
    page.goto("/under-the-hood/", wait_until="networkidle")
    page.goto("/start/containers/", wait_until="networkidle")
    assert asked == []
    page.locator(".md-search__input").click()  # the search box in the header
    page.keyboard.type("namespace")
    page.locator(".md-search-result__item").first.wait_for(timeout=15000)
    assert len(asked) == 1
    assert page.problems == []


def test_a_shared_search_link_opens_with_its_results(page):
    page.goto("/?q=pivot_root", wait_until="networkidle")  # search.share
    page.locator(".md-search-result__item").first.wait_for(timeout=15000)
    assert "pivot_root" in page.locator(".md-search-result").inner_text()
    assert page.problems == []


# --- copying code: a console block's button copies the commands the tests run ----
# (tools/hooks/console_copy.py); a selection leaves out prompts and output too.

CONSOLE = console_blocks()

# Opens the closed content tabs and collapsed details around a block, as a
# reader would before copying it.
REVEAL = """block => {
  for (let el = block; el; el = el.parentElement) {
    if (el.tagName === "DETAILS") el.open = true;
    if (el.classList.contains("tabbed-block")) {
      const index = [...el.parentElement.children].indexOf(el);
      el.closest(".tabbed-set").querySelectorAll(":scope > .tabbed-labels > label")[index].click();
    }
  }
}"""
SELECT = """code => {
  const range = document.createRange();
  range.selectNodeContents(code);
  getSelection().removeAllRanges();
  getSelection().addRange(range);
}"""


def clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def copy_with_button(page, block) -> str:
    block.evaluate(REVEAL)
    assert block.is_visible(), "the block is still hidden after opening its tabs and details"
    page.evaluate("navigator.clipboard.writeText('')")
    block.scroll_into_view_if_needed()
    block.hover()
    block.locator("button[data-md-type=copy]").click()
    return clipboard(page)


def copy_a_selection(page, block) -> str:
    """Select the whole block with the mouse's means (a range) and press Ctrl+C."""
    page.evaluate("navigator.clipboard.writeText('')")
    block.locator("code").evaluate(SELECT)
    page.keyboard.press("Control+c")
    return clipboard(page)


def bash_syntax_error(text: str) -> str | None:
    proc = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True, timeout=30)
    return proc.stderr.strip() or f"exit {proc.returncode}" if proc.returncode else None


def test_the_built_site_has_the_console_blocks_of_the_docs(built_site: Path):
    """No page escapes the copy test below: the console blocks it takes from docs/
    are all the console blocks of the built site (notebooks have none)."""
    on_site = {}
    for path in site_pages(built_site):
        html = (built_site / path.strip("/") / "index.html").read_text()
        if count := html.count('<div class="language-console highlight"'):
            on_site[path] = count
    assert on_site == {url: len(blocks) for url, blocks in CONSOLE.items()}


def copy_problems(page, url: str, blocks: list) -> list[str]:
    """Load the page and copy each of its console blocks with the button and with a
    selection; what is wrong with each copy (nothing when it is the commands)."""
    page.goto(url, wait_until="networkidle")
    shown = page.locator("div.language-console")
    assert shown.count() == len(blocks), url
    wrong = []
    for i, block in enumerate(blocks):
        commands = "\n".join(c.command for c in parse_console(block.source))
        copied = copy_with_button(page, shown.nth(i))
        selected = copy_a_selection(page, shown.nth(i))
        problems = []
        if copied != commands:
            problems.append(f"button copies {copied!r}")
        if selected.rstrip("\n") != commands:
            problems.append(f"selection copies {selected!r}")
        if error := bash_syntax_error(copied):
            problems.append(f"bash -n: {error}")
        if problems:
            wrong.append(f"{block} (expected {commands!r}): " + "; ".join(problems))
    return wrong


def test_every_console_block_copies_exactly_the_commands_the_tests_run(page):
    """For every console block on every page, the copy button and a mouse selection
    give the commands tests/test_docs.py runs (the same parser; `sudo` kept), one per
    line, which bash parses. Blocks in closed tabs and collapsed details are opened."""
    total = sum(len(blocks) for blocks in CONSOLE.values())
    wrong = [w for url, blocks in CONSOLE.items() for w in copy_problems(page, url, blocks)]
    print(
        f"console blocks: {total} on {len(CONSOLE)} pages; {total - len(wrong)} copy exactly "
        "what runs"
    )
    assert total >= 30  # the docs had 34 when this test was written
    assert not wrong, "\n".join(wrong)


TRICKY_PAGE = """# Tricky

=== "Shown"

    Nothing to copy here.

=== "Hidden"

    ```console
    $ echo "one
    two"
    one
    two
    $ cat > f.txt <<'EOF'
    $ not a prompt, the heredoc's text
    EOF
    $ sudo true
    ```

??? example "Collapsed"

    ```{.console data-ci="root"}
    $ printf '%s\\n' a \\
        b
    a
    b
    ```
"""


def test_console_blocks_in_closed_tabs_and_details_copy_their_commands(page, tmp_path: Path):
    """Open quotes, heredocs, continuations and sudo, in a closed tab and a collapsed
    details block of a small site built with our mkdocs.yml."""
    proc = build_small_site(tmp_path, TRICKY_PAGE)
    assert proc.returncode == 0, proc.stderr[-2000:]
    blocks = [b for b in find_blocks(tmp_path / "docs" / "index.md") if b.lang == "console"]
    assert len(blocks) == 2
    with serve(tmp_path / "site") as url:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        wrong = copy_problems(page, url + "/", blocks)
        assert not wrong, "\n".join(wrong)
        copied = clipboard(page)
    assert copied == "printf '%s\\n' a \\\n    b"


def test_other_code_blocks_copy_their_whole_text(page, built_site: Path):
    """Python, Dockerfile, YAML...: the first block of each language on the site copies
    exactly the text it shows."""
    first = {}
    for path in site_pages(built_site):
        html = (built_site / path.strip("/") / "index.html").read_text()
        for lang in set(re.findall(r'<div class="language-([\w+-]+) highlight', html)):
            first.setdefault(lang, path)
    first.pop("console")
    assert {"python", "text"} <= first.keys(), first
    for lang, path in sorted(first.items()):
        page.goto(path, wait_until="networkidle")
        block = page.locator(f"div.language-{lang}").first
        copied = copy_with_button(page, block)
        text = block.locator("code").evaluate("code => code.textContent")
        assert copied == text.rstrip(), f"{lang} block on {path}"
        assert copied.count("\n") >= 1 or lang != "python"


def scheme_of(page) -> str:
    return page.evaluate("document.body.getAttribute('data-md-color-scheme')")


def test_the_palette_toggle_works_and_is_remembered(page):
    page.goto("/", wait_until="networkidle")
    toggle = page.locator("form[data-md-component=palette] label:visible")
    assert toggle.count() == 1
    seen = {scheme_of(page)}
    for _ in range(2):  # system -> light -> dark
        toggle.first.click()
        seen.add(scheme_of(page))
    assert {"default", "slate"} <= seen
    chosen = scheme_of(page)
    # The browser's toolbar colour follows the header.
    header = page.evaluate("getComputedStyle(document.querySelector('.md-header')).backgroundColor")
    red, green, blue = map(int, re.findall(r"\d+", header)[:3])
    assert (
        page.get_attribute("meta[name=theme-color]", "content")
        == f"#{red:02x}{green:02x}{blue:02x}"
    )
    page.goto("/start/containers/", wait_until="networkidle")
    assert scheme_of(page) == chosen
    # By keyboard: Tab reaches the toggle, Enter moves to the next palette.
    page.locator("form[data-md-component=palette] input").first.focus()
    by_keyboard = set()
    for _ in range(3):
        page.keyboard.press("Enter")
        by_keyboard.add(scheme_of(page))
    assert by_keyboard == {"default", "slate"}


@pytest.mark.parametrize("system", ["light", "dark"])
def test_a_first_visit_follows_the_system_palette(new_context, system):
    """The first palette option is "follow the system": a reader whose system is dark
    gets the dark palette without choosing it."""
    page = new_context(color_scheme=system).new_page()
    page.goto("/start/containers/", wait_until="networkidle")
    assert scheme_of(page) == ("slate" if system == "dark" else "default")


def test_the_system_palette_follows_a_change_of_the_system_setting(new_context):
    context = new_context(color_scheme="light")
    page = context.new_page()
    page.goto("/", wait_until="networkidle")
    assert scheme_of(page) == "default"
    page.emulate_media(color_scheme="dark")
    page.wait_for_function("document.body.dataset.mdColorScheme === 'slate'", timeout=5000)
    context.close()


def test_without_javascript_the_page_keeps_its_no_js_styles(new_context):
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto("/start/containers/")
    assert "no-js" in page.get_attribute("html", "class").split()
    context.close()


def test_linked_content_tabs_switch_together(page):
    """Choosing Podman in one tab set of a page chooses it in all of them."""
    page.goto("/start/first-container/", wait_until="networkidle")
    sets = page.locator(".tabbed-set")
    assert sets.count() >= 2
    sets.nth(0).locator("label", has_text="Podman").click()
    # (Material leaves the tabs inside a closed details block as they are.)
    shown = [i for i in range(sets.count())
             if not sets.nth(i).evaluate("e => !!e.closest('details:not([open])')")]
    assert len(shown) >= 2
    for i in shown:
        checked = sets.nth(i).locator("input:checked")
        label = sets.nth(i).locator(f"label[for='{checked.get_attribute('id')}']")
        assert label.inner_text().strip() == "Podman"


@pytest.mark.parametrize("scheme", ["default", "slate"])
def test_diagrams_show_as_svg_in_either_palette(new_context, scheme):
    """Pre-drawn Mermaid diagrams: the drawing for the palette in use is shown and loaded."""
    context = new_context(color_scheme="dark" if scheme == "slate" else "light")
    page = context.new_page()
    variant = "dark" if scheme == "slate" else "light"
    for path in ("/start/containers/", "/data-science/when-docker-helps/",
                 "/under-the-hood/together/"):
        page.goto(path, wait_until="networkidle")
        shown = page.locator(f"article img[src$='.{variant}.svg#only-{variant}']")
        assert shown.count() == 1
        shown.scroll_into_view_if_needed()
        assert shown.is_visible()
        shown.evaluate("img => img.decode()")  # waits until it is loaded and drawable
        assert shown.evaluate("img => img.naturalWidth") > 300
        other = "light" if variant == "dark" else "dark"
        assert not page.locator(f"article img[src$='.{other}.svg#only-{other}']").is_visible()
    context.close()


def test_the_notebook_page_shows_its_outputs(page):
    page.goto("/run-well/am-i-in-a-container/", wait_until="networkidle")
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
    new_context, base_url, built_site: Path, tmp_path: Path
):
    """tools/hooks/trim_notebook_css.py keeps only the notebook CSS the page uses: the page
    must look exactly as with mkdocs-jupyter's whole stylesheet."""
    whole = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "KEEP_NOTEBOOK_CSS": "1"}
    subprocess.run(
        [Path(sys.executable).parent / "mkdocs", "build", "-q", "-d", whole],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    path = "/run-well/am-i-in-a-container/"
    trimmed_size = (built_site / path.strip("/") / "index.html").stat().st_size
    whole_size = (whole / path.strip("/") / "index.html").stat().st_size
    assert trimmed_size < whole_size / 3, (trimmed_size, whole_size)
    with serve(whole) as whole_url:
        # The trimmed stylesheets' @media rules are for print and very wide screens;
        # one phone and one desktop width, each palette once.
        for scheme, width in (("light", 1280), ("dark", 390)):
            styles = []
            for url in (base_url, whole_url):
                context = new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
                page = context.new_page()
                page.goto(url + path, wait_until="networkidle")
                styles.append(page.evaluate(COMPUTED_STYLES))
                context.close()
            assert len(styles[0]) == len(styles[1]) > 500
            differ = [a.split(" ", 1)[0] for a, b in zip(*styles, strict=True) if a != b]
            assert not differ, f"{scheme}, {width}px: {len(differ)} elements differ: {differ[:5]}"


def test_the_404_page(page):
    response = page.goto("/no/such/page/")
    assert response.status == 404
    assert "404" in page.inner_text("article")


def test_keyboard_navigation(page):
    page.goto("/start/containers/", wait_until="networkidle")
    page.keyboard.press("Tab")
    first = page.evaluate("document.activeElement.textContent.trim()")
    assert first.lower().startswith("skip to content")
    focused = set()
    for _ in range(15):
        page.keyboard.press("Tab")
        focused.add(page.evaluate("document.activeElement.tagName"))
    assert "A" in focused  # links are reachable by Tab
    page.keyboard.press("Escape")
    following = page.evaluate("document.querySelector('a.md-footer__link--next').href")
    page.keyboard.press("n")  # Material: next page, the footer's "Next" link
    page.wait_for_url(following, timeout=10000)
    assert not page.url.endswith("/start/containers/")


KEY_PAGES = ["/", "/under-the-hood/chroot/", "/run-well/limits/", "/run-well/am-i-in-a-container/"]


@pytest.mark.parametrize("scheme", ["default", "slate"])
@pytest.mark.parametrize("viewport", [(1280, 900), (390, 844)], ids=["desktop", "phone"])
def test_screenshots(new_context, scheme, viewport):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = new_context(
        viewport={"width": viewport[0], "height": viewport[1]},
        color_scheme="dark" if scheme == "slate" else "light",
    )
    page = context.new_page()
    for path in KEY_PAGES:
        page.goto(path, wait_until="networkidle")
        assert page.evaluate("document.body.getAttribute('data-md-color-scheme')") in (scheme, None)
        name = path.strip("/").replace("/", "-") or "home"
        out = SHOTS / f"{name}-{scheme}-{'phone' if viewport[0] < 600 else 'desktop'}.png"
        page.screenshot(path=out, full_page=False)
        assert out.stat().st_size > 10_000
    context.close()


# The learning path: what a reader follows on a phone, page by page.
PATH_SECTIONS = ("/start/", "/project/", "/sharing/")
# "At most a few" code blocks of a page may still scroll sideways on a phone (a long
# URL or digest cannot always be broken).
MOST_WIDE_BLOCKS = 3
WIDE = """() => {
    const wide = [...document.querySelectorAll('article pre > code')].filter(
        c => c.scrollWidth > c.clientWidth + 1);
    return {page: document.documentElement.scrollWidth,
            blocks: wide.map(c => c.innerText.split('\\n').find(l => l.length > 40) || '')};
}"""


def test_the_path_fits_a_phone(new_context, built_site: Path):
    """At 390 px, no page of the path scrolls sideways as a whole, and few code blocks
    do: open tabs and details count too (they are revealed first)."""
    context = new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    too_wide = {}
    for path in [p for p in site_pages(built_site) if p.startswith(PATH_SECTIONS)]:
        page.goto(path, wait_until="networkidle")
        page.evaluate("""() => {
            document.querySelectorAll('details').forEach(d => d.open = true);
            document.querySelectorAll('.tabbed-set > input').forEach(i => i.checked = true);
        }""")
        found = page.evaluate(WIDE)
        if found["page"] > 390 or len(found["blocks"]) > MOST_WIDE_BLOCKS:
            too_wide[path] = found
    context.close()
    assert too_wide == {}, "\n".join(f"{p}: page {f['page']} px, {len(f['blocks'])} wide "
                                     f"blocks: {f['blocks']}" for p, f in too_wide.items())
