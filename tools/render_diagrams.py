#!/usr/bin/env python3
"""Draw the Mermaid diagrams of the docs as SVG files, once, instead of in every reader's browser.

    .venv/bin/python tools/render_diagrams.py          # after editing a docs/assets/diagrams/*.mmd

For each NAME.mmd in docs/assets/diagrams/ it writes NAME.light.svg and
NAME.dark.svg (Mermaid's default and dark themes); pages show them with
Material's #only-light / #only-dark. Each SVG starts with the SHA-256 of its
source, and tests/site/test_site.py fails when a source no longer matches its
drawings, so a changed diagram cannot ship without being drawn again.

Drawing in the browser cost every reader about 300 KB of JavaScript and a
second of main-thread work on a phone; a pre-drawn SVG is a few KB and needs
no script. Mermaid (from npm: package.json pins it, `npm ci` installs it into
node_modules/) runs in Debian's Chromium through Playwright, the same browser
the tests use.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from static_server import CHROMIUM, CHROMIUM_ARGS, chromium_problem, serve

ROOT = Path(__file__).resolve().parent.parent
DIAGRAMS = ROOT / "docs" / "assets" / "diagrams"
MERMAID = ROOT / "node_modules" / "mermaid" / "dist" / "mermaid.esm.min.mjs"
THEMES = {"light": "default", "dark": "dark"}

# Labels as SVG text rather than HTML in <foreignObject>: the files are shown
# with <img>, where only well-formed SVG is drawn.
DRAW = r"""async ([url, source, theme]) => {
  const mermaid = (await import(url)).default;
  mermaid.initialize({ startOnLoad: false, theme, htmlLabels: false,
                       flowchart: { htmlLabels: false }, securityLevel: "strict" });
  const { svg } = await mermaid.render("diagram", source);
  const element = new DOMParser().parseFromString(svg, "image/svg+xml").documentElement;
  // A size of its own (Mermaid says width="100%"): as an <img>, the drawing
  // then has a natural size and the page's max-width: 100% scales it down.
  const [, , width, height] = element.getAttribute("viewBox").split(/\s+/).map(Number);
  element.setAttribute("width", String(Math.ceil(width)));
  element.setAttribute("height", String(Math.ceil(height)));
  element.removeAttribute("style");
  return new XMLSerializer().serializeToString(element);
}"""


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def header(source: str) -> str:
    """First line of each SVG; tests/site/test_site.py compares it with the source."""
    return f"<!-- drawn by tools/render_diagrams.py from sha256:{source_hash(source)} -->\n"


def fail(message: str) -> int:
    print(f"render_diagrams.py: {message}", file=sys.stderr)
    return 1


def main() -> int:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return fail("Playwright is missing; run `make test` once, then use .venv/bin/python")
    if problem := chromium_problem():
        return fail(problem)
    if not MERMAID.is_file():
        return fail(f"no {MERMAID.relative_to(ROOT)}; run `npm ci` in {ROOT}")
    sources = sorted(DIAGRAMS.glob("*.mmd"))
    if not sources:
        return fail(f"no .mmd files in {DIAGRAMS}")
    with serve(MERMAID.parent) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(base + "/")  # any page of that origin: import() needs one
        for path in sources:
            source = path.read_text()
            for variant, theme in THEMES.items():
                svg = page.evaluate(DRAW, [f"{base}/{MERMAID.name}", source, theme])
                out = path.with_suffix(f".{variant}.svg")
                out.write_text(header(source) + svg + "\n")
                print(f"{out.relative_to(ROOT)}  {len(svg) / 1024:.0f} KB")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
