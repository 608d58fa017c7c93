"""MkDocs hook: what a page and each of its blocks need, from the kinds the tests use.

The tests choose how to run a block by its fence's data-ci kinds (tools/ci_kinds.py).
From the same kinds this hook writes, so that the page and the tests cannot disagree:

- a "What you need" box at the top of each page with code blocks (after the page's
  "What you will learn" box, if it has one): a terminal in the top folder of a clone of
  this repository, and what the page's blocks need, in a reader's words;
- the badge on each block that needs something: its data-ci-label attribute, which
  extra.css shows above the block;
- the table of kinds, where a page asks for it with a line `<!-- ci-kinds -->`.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# MkDocs loads a hook from its file: tools/ is not on the path by itself.
sys.path.insert(0, str(ROOT / "tools"))
import ci_kinds  # noqa: E402
import console_blocks  # noqa: E402

# Kinds every block of the page's path needs; the rest are needed by some blocks only.
ENGINES = ("docker", "podman")
DATA_CI = re.compile(r'data-ci="(?P<kinds>[^"]*)"')
OBJECTIVES = re.compile(r'^!!! abstract "What you will learn[^"]*"\n(?:\n|    .*\n)*', re.M)


BEFORE_YOU_START = "start/before-you-start.md"


def needs_box(blocks: list[console_blocks.Block], page_url: str, linked: bool = True) -> str:
    kinds = set().union(*(b.kinds for b in blocks))
    lines = []
    if any(b.lang == "console" and not b.is_include for b in blocks):
        where = "a terminal in the top folder of your clone of this repository"
        if linked:
            where += f" ([Before you start](/{BEFORE_YOU_START}))"
        lines.append("- a terminal" if page_url == BEFORE_YOU_START else f"- {where}")
    engines = [ci_kinds.KINDS[k].need for k in ENGINES if k in kinds]
    if engines:
        lines.append("- " + " or ".join(engines))
    if "root" in kinds:
        lines.append(f"- {ci_kinds.KINDS['root'].need}")
    some = sorted(kinds - {"root", *ENGINES})
    if some:
        needs = "; ".join(ci_kinds.KINDS[k].need for k in some)
        lines.append(f"- for the blocks marked so: {needs}")
    if not lines:
        return ""
    body = "\n".join(f"    {line}" for line in lines)
    return f'!!! info "What you need"\n\n{body}\n\n'


KINDS_TABLE = "<!-- ci-kinds -->"


def kinds_table() -> str:
    rows = ["| `data-ci` | Badge | The reader needs | Where CI runs it |", "|---|---|---|---|"]
    for kind in ci_kinds.KINDS.values():
        if kind.page:
            rows.append(f"| `{kind.name}` | {kind.badge} | {kind.need} | {kind.runs} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page, config, files) -> str:
    markdown = markdown.replace(KINDS_TABLE, kinds_table())
    blocks = console_blocks.find_blocks_in(markdown, Path(page.file.src_uri))
    # A site without that page (a test's one-page site) gets no link to it.
    linked = files.get_file_from_path(BEFORE_YOU_START) is not None
    box = needs_box(blocks, page.file.src_uri, linked)
    if not box:
        return markdown
    # Links in the box are relative to the page, like the page's own.
    depth = page.file.src_uri.count("/")
    box = box.replace("(/start/", "(" + "../" * depth + "start/")
    if objectives := OBJECTIVES.search(markdown):
        at = objectives.end()
    else:
        h1 = re.search(r"^# .*\n", markdown, re.M)
        at = h1.end() if h1 else 0
    return markdown[:at] + "\n" + box + markdown[at:].lstrip("\n")


def label(kinds: str) -> str:
    return " · ".join(ci_kinds.KINDS[k].badge for k in kinds.split() if k in ci_kinds.KINDS)


def on_page_content(content: str, page, config, files) -> str:
    return DATA_CI.sub(
        lambda m: f'{m[0]} data-ci-label="{html.escape(label(m["kinds"]), quote=True)}"',
        content,
    )
