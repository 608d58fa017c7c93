#!/usr/bin/env python3
"""Draw the Mermaid diagrams of the docs as SVG files, once, instead of in every reader's browser.

    .venv/bin/python tools/render_diagrams.py          # after editing a docs/assets/diagrams/*.mmd

For each NAME.mmd in docs/assets/diagrams/ it writes NAME.light.svg and
NAME.dark.svg (Mermaid's default and dark themes); pages show them with
Material's #only-light / #only-dark. Each SVG starts with the SHA-256 of its
source, and tests/test_site.py fails when a source no longer matches its
drawings, so a changed diagram cannot ship without being drawn again.

Drawing in the browser cost every reader about 300 KB of JavaScript and a
second of main-thread work on a phone; a pre-drawn SVG is a few KB and needs
no script. Mermaid (tools/vendor/, self-hosted) runs in Debian's Chromium
through Playwright, the same browser the tests use.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIAGRAMS = ROOT / "docs" / "assets" / "diagrams"
MERMAID = "tools/vendor/mermaid-11.17.2/mermaid.esm.min.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
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


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def header(source: str) -> str:
    """First line of each SVG; tests/test_site.py compares it with the source."""
    return f"<!-- drawn by tools/render_diagrams.py from sha256:{source_hash(source)} -->\n"


def fail(message: str) -> int:
    print(f"render_diagrams.py: {message}", file=sys.stderr)
    return 1


def main() -> int:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return fail("Playwright is missing; run `make test` once, then use .venv/bin/python")
    if not os.access(CHROMIUM, os.X_OK):
        return fail(f"no Chromium at {CHROMIUM}; `sudo apt-get install chromium` or set CHROMIUM")
    sources = sorted(DIAGRAMS.glob("*.mmd"))
    if not sources:
        return fail(f"no .mmd files in {DIAGRAMS}")
    handler = functools.partial(QuietHandler, directory=str(ROOT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-background-networking"],
            )
            page = browser.new_page()
            page.goto(base + "/tools/")  # any page of that origin: import() needs one
            for path in sources:
                source = path.read_text()
                for variant, theme in THEMES.items():
                    svg = page.evaluate(DRAW, [f"{base}/{MERMAID}", source, theme])
                    out = path.with_suffix(f".{variant}.svg")
                    out.write_text(header(source) + svg + "\n")
                    print(f"{out.relative_to(ROOT)}  {len(svg) / 1024:.0f} KB")
            browser.close()
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
