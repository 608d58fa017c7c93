"""The site builds strictly and its notebooks run without error."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

BIN = Path(sys.executable).parent
NOTEBOOKS = sorted((ROOT / "docs").rglob("*.ipynb"))


def test_site_builds_strictly(built_site: Path):
    pages = list(built_site.rglob("index.html"))
    assert len(pages) >= 5
    assert (built_site / "404.html").is_file()


def test_snippet_includes_show_the_real_file(built_site: Path):
    """A page that includes scripts/create_sandbox.py shows that file's code."""
    html = (built_site / "under-the-hood" / "chroot" / "index.html").read_text()
    assert "closure" in html and "Resolver" in html and "PT_INTERP" in html


def test_a_broken_snippet_fails_the_build(tmp_path: Path):
    """check_paths is on: a page that includes a missing file must not build."""
    (tmp_path / "docs" / "includes").mkdir(parents=True)
    (tmp_path / "docs" / "includes" / "abbreviations.md").write_text("")
    (tmp_path / "docs" / "index.md").write_text('```python\n--8<-- "scripts/nope.py"\n```\n')
    (tmp_path / "docs" / ".overrides").symlink_to(ROOT / "docs" / ".overrides")
    # Our mkdocs.yml, with only this one page and no notebooks.
    (tmp_path / "mkdocs.yml").write_text(f"INHERIT: {ROOT / 'mkdocs.yml'}\n"
                                         "nav: [index.md]\nplugins: [search]\n")
    proc = subprocess.run([BIN / "mkdocs", "build", "--strict", "-d", tmp_path / "site"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode != 0
    assert "scripts/nope.py" in proc.stderr


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_runs(notebook: Path):
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs, "the notebook ran but printed nothing"
    assert not [o for o in outputs if o.output_type == "error"]


def test_zensical_builds_the_same_config(tmp_path: Path):
    """Material's successor reads mkdocs.yml; the site must keep building with it.
    (Differences are listed in docs/about/contributing.md.)"""
    for part in ("docs", "scripts", "images", "tests"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns(
            "__pycache__", ".pytest_cache"))
    shutil.copy(ROOT / "mkdocs.yml", tmp_path)
    proc = subprocess.run([BIN / "zensical", "build", "--strict", "--clean", "-f", "mkdocs.yml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    site = tmp_path / "site"
    assert (site / "under-the-hood" / "cgroups" / "index.html").is_file()
    assert "cgroups.py" in (site / "under-the-hood" / "cgroups" / "index.html").read_text()


# --- diagrams: Mermaid sources drawn once into SVG files (tools/render_diagrams.py) ---

DIAGRAMS = sorted((ROOT / "docs" / "assets" / "diagrams").glob("*.mmd"))


def test_there_are_diagrams():
    assert len(DIAGRAMS) >= 3


@pytest.mark.parametrize("source", DIAGRAMS, ids=lambda p: p.stem)
def test_each_diagram_is_drawn_from_its_current_source(source: Path):
    """Editing a .mmd without running tools/render_diagrams.py fails here."""
    import hashlib
    import xml.etree.ElementTree as ET

    digest = hashlib.sha256(source.read_text().encode()).hexdigest()
    for variant in ("light", "dark"):
        svg = source.with_suffix(f".{variant}.svg")
        assert svg.exists(), f"{svg.name} is missing: run tools/render_diagrams.py"
        first_line = svg.read_text().splitlines()[0]
        assert digest in first_line, (
            f"{svg.name} was drawn from an older {source.name}: run tools/render_diagrams.py")
        root = ET.parse(svg).getroot()  # well-formed: <img> draws nothing otherwise
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert not root.findall(".//{http://www.w3.org/2000/svg}foreignObject")


@pytest.mark.parametrize("source", DIAGRAMS, ids=lambda p: p.stem)
def test_each_diagram_is_shown_in_both_palettes(source: Path):
    pages = "".join(p.read_text() for p in (ROOT / "docs").rglob("*.md"))
    for variant in ("light", "dark"):
        assert f"diagrams/{source.stem}.{variant}.svg#only-{variant})" in pages
