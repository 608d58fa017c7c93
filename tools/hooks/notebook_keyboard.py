"""MkDocs hook: a notebook page's code cells and text outputs scroll by keyboard too.

Code that scrolls sideways must be reachable by keyboard (axe-core:
scrollable-region-focusable). Material makes its own code blocks focusable;
on a notebook page, mkdocs-jupyter's code cells (<div class="highlight-ipynb">),
the <pre> of a text output and the <pre> of a code block in a Markdown cell
(<div class="highlight"><pre>) are not, so each gets tabindex="0" in the built
page.
"""

from __future__ import annotations

import re

CELL = re.compile(r'<div class="highlight-ipynb(?: [^"]*)?"(?![^>]*tabindex)')
OUTPUT_PRE = re.compile(r'(<div class="[^"]*\bjp-OutputArea-output\b[^"]*"[^>]*>\s*<pre)>')
MARKDOWN_PRE = re.compile(r'(<div class="highlight"><pre)>')


def focusable(html: str) -> str:
    html = CELL.sub(lambda m: m[0] + ' tabindex="0"', html)
    html = OUTPUT_PRE.sub(r'\1 tabindex="0">', html)
    return MARKDOWN_PRE.sub(r'\1 tabindex="0">', html)


def on_post_page(output: str, page, config) -> str:
    return focusable(output) if page.file.src_uri.endswith(".ipynb") else output
