"""What the site's tests share: its pages, their console blocks, Material's files.

The pages and blocks are found, not listed: a page added to docs/ is covered
by the next run.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from console_blocks import Block, find_blocks

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def doc_pages() -> list[Path]:
    """The Markdown pages, by the rule tests/test_docs.py runs their blocks with."""
    return sorted(p for p in DOCS.rglob("*.md") if "includes" not in p.relative_to(DOCS).parts)


def url_of(page: Path) -> str:
    """docs/a/b.md -> /a/b/ and docs/a/index.md -> /a/ (MkDocs' directory URLs)."""
    parts = page.relative_to(DOCS).with_suffix("").parts
    if parts[-1] == "index":
        parts = parts[:-1]
    return "/" + "".join(f"{p}/" for p in parts)


def site_pages(site: Path) -> list[str]:
    """Every page of a built site, as a path from its root."""
    return sorted(
        ("/" + p.parent.relative_to(site).as_posix() + "/").replace("/./", "/")
        for p in site.rglob("index.html")
        if "assets" not in p.relative_to(site).parts
    )


def console_blocks() -> dict[str, list[Block]]:
    """The ```console blocks of each page, in page order, keyed by the page's URL."""
    pages = {url_of(p): [b for b in find_blocks(p) if b.lang == "console"] for p in doc_pages()}
    return {url: blocks for url, blocks in pages.items() if blocks}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_small_site(project: Path, page: str) -> subprocess.CompletedProcess[str]:
    """Build, strictly, a site of one page (docs/index.md) with our mkdocs.yml: theme,
    overrides, hooks and Markdown extensions, without notebooks. Files the page
    includes go in project/docs/includes/ (not pages of their own)."""
    docs = project / "docs"
    (docs / "includes").mkdir(parents=True, exist_ok=True)
    (docs / "includes" / "abbreviations.md").touch()  # mkdocs.yml appends it to every page
    (docs / "index.md").write_text(page)
    (docs / ".overrides").symlink_to(DOCS / ".overrides")
    (docs / "assets").symlink_to(DOCS / "assets")  # extra.css and the site's scripts
    (project / "tools").symlink_to(ROOT / "tools")  # the hooks mkdocs.yml names
    (project / "mkdocs.yml").write_text(
        f"INHERIT: {ROOT / 'mkdocs.yml'}\nnav: [index.md]\nplugins: [search]\n"
    )
    return subprocess.run(
        [Path(sys.executable).parent / "mkdocs", "build", "--strict", "-d", project / "site"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
