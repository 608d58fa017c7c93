"""The site builds strictly and its notebooks run without error."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import ROOT
from nbclient import NotebookClient
from site_helpers import build_small_site, sha256

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
    proc = build_small_site(tmp_path, '```python\n--8<-- "scripts/nope.py"\n```\n')
    assert proc.returncode != 0
    assert "scripts/nope.py" in proc.stderr


def test_a_console_block_the_tests_cannot_see_fails_the_build(tmp_path: Path):
    """tools/hooks/console_copy.py gives each console block the commands the tests
    run, found in the page's Markdown. A block included from another file is not
    there (tests/test_docs.py would not run it either): the build fails."""
    (tmp_path / "docs" / "includes").mkdir(parents=True)
    (tmp_path / "docs" / "includes" / "more.md").write_text("```console\n$ true\n```\n")
    proc = build_small_site(tmp_path, '# Page\n\n--8<-- "docs/includes/more.md"\n')
    assert proc.returncode != 0
    assert "index.md renders 1 console blocks but its Markdown has 0" in proc.stderr


def test_the_console_hook_builds_a_page_whose_blocks_it_can_see(tmp_path: Path):
    """The same block written in the page builds, with the command to copy."""
    proc = build_small_site(tmp_path, "# Page\n\n```console\n$ true\n```\n")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'data-copy="true"' in (tmp_path / "site" / "index.html").read_text()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_runs(notebook: Path):
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(notebook.parent)}},
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs, "the notebook ran but printed nothing"
    assert not [o for o in outputs if o.output_type == "error"]


def test_zensical_builds_the_same_config(tmp_path: Path):
    """Material's successor reads mkdocs.yml; the site must keep building with it.
    (Differences are listed in docs/about/contributing.md.)"""
    for part in ("docs", "scripts", "images", "tests"):
        shutil.copytree(
            ROOT / part,
            tmp_path / part,
            ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"),
        )
    # Zensical renders no notebook (mkdocs-jupyter is an MkDocs plugin), so the notebook's
    # old address has nothing to lead to: a known difference (docs/about/contributing.md).
    config = (ROOT / "mkdocs.yml").read_text()
    notebook_redirect = ("        notebooks/am-i-in-a-container.md: "
                         "run-well/am-i-in-a-container.ipynb\n")
    assert notebook_redirect in config
    (tmp_path / "mkdocs.yml").write_text(config.replace(notebook_redirect, ""))
    shutil.copytree(ROOT / "tools" / "hooks", tmp_path / "tools" / "hooks")  # mkdocs.yml names them
    proc = subprocess.run(
        [BIN / "zensical", "build", "--strict", "--clean", "-f", "mkdocs.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
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
            f"{svg.name} was drawn from an older {source.name}: run tools/render_diagrams.py"
        )
        root = ET.parse(svg).getroot()  # well-formed: <img> draws nothing otherwise
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert not root.findall(".//{http://www.w3.org/2000/svg}foreignObject")


@pytest.mark.parametrize("source", DIAGRAMS, ids=lambda p: p.stem)
def test_each_diagram_is_shown_in_both_palettes(source: Path):
    pages = "".join(p.read_text() for p in (ROOT / "docs").rglob("*.md"))
    for variant in ("light", "dark"):
        assert f"diagrams/{source.stem}.{variant}.svg#only-{variant})" in pages


# --- tools/hooks/trim_notebook_css.py: the notebook page keeps only the CSS it uses ---
# (tests/test_browser.py compares the built page with the untrimmed one.)


def load_trimmer():
    spec = importlib.util.spec_from_file_location(
        "trim_notebook_css", ROOT / "tools" / "hooks" / "trim_notebook_css.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_trim_keeps_the_rules_whose_classes_are_on_the_page():
    trim = load_trimmer().trim
    css = (
        ".a .b{color:red}.a .gone{color:blue}.gone,.b>p{margin:0}"
        "p:not(.gone){padding:1px}div:is(.gone,.b){top:0}/* .gone */.a{left:0}"
    )
    assert trim([css], {"a", "b"}) == [
        ".a .b{color:red}.b>p{margin:0}p:not(.gone){padding:1px}div:is(.gone,.b){top:0}.a{left:0}"
    ]


def test_trim_drops_at_rules_and_keyframes_left_unused():
    trim = load_trimmer().trim
    css = (
        "@media print{.gone{color:red}}@media screen{.a{color:red}.gone{top:0}}"
        "@keyframes spin{to{rotate:1turn}}@keyframes blink{50%{opacity:0}}"
        ".a{animation:spin 1s}"
    )
    assert trim([css], {"a"}) == [
        "@media screen{.a{color:red}}@keyframes spin{to{rotate:1turn}}.a{animation:spin 1s}"
    ]


def test_trim_keeps_the_custom_properties_something_reads():
    trim = load_trimmer().trim
    wrapper = (
        ".w{--used:var(--chained);--chained:1px;--unused:var(--only-unused);"
        "--only-unused:2px;--read-by-theme:3px}"
    )
    rule = ".w .a{margin:var(--used)}"
    # Properties may be declared in one <style> of the page and read in another,
    # or read by the theme's own stylesheets (passed as used_elsewhere).
    assert trim([wrapper, rule], {"w", "a"}, frozenset({"--read-by-theme"})) == [
        ".w{--used:var(--chained);--chained:1px;--read-by-theme:3px}",
        rule,
    ]


def test_trim_leaves_strings_and_urls_as_they_are():
    trim = load_trimmer().trim
    css = '.a::before{content:"};{.gone";background:url(data:image/png;base64,AA==)}'
    assert trim([css], {"a"}) == [css]


# --- what our customisations of Material depend on ---------------------------------
# Each entry: our file, what of Material's it relies on, that Material file (a glob
# under the installed package) and its SHA-256 when we last checked the two together.
# When Material changes one of these files, the test fails: re-check our file against
# the new one (docs/about/contributing.md, "Customising Material"), then record the
# new hash here.
MATERIAL = Path(importlib.util.find_spec("material").origin).parent
BUNDLE = "templates/assets/javascripts/bundle.*.min.js"
MATERIAL_DEPENDENCIES = [
    (
        "docs/.overrides/main.html",
        "base.html's blocks extrahead and scripts",
        "templates/base.html",
        "a919e32d2225e09ecbdeb8076ca6ce9ca0836329760bf7871a04172569b77842",
    ),
    (
        "docs/assets/javascripts/lazy-search.js",
        "the bundle asks for search/search_index.json with XMLHttpRequest when it starts",
        BUNDLE,
        "b9a1ef14b5e91ad61fa8d7dd42e1f55e6af0ebd224bc8970dff0e7d7311b172f",
    ),
    (
        "docs/assets/javascripts/wide-code-focusable.js",
        "with content.lazy (mkdocs.yml), the bundle makes a wide code block focusable "
        "only once it is in view",
        BUNDLE,
        "b9a1ef14b5e91ad61fa8d7dd42e1f55e6af0ebd224bc8970dff0e7d7311b172f",
    ),
    (
        "tools/hooks/console_copy.py",
        "the copy button copies the closest [data-copy]",
        BUNDLE,
        "b9a1ef14b5e91ad61fa8d7dd42e1f55e6af0ebd224bc8970dff0e7d7311b172f",
    ),
    (
        "tools/hooks/theme_fixes.py",
        "the search dialog's markup (it has no name)",
        "templates/partials/search.html",
        "bfd556535abcddb99396ab2a7e3acc2ebcd3f36756007d3969396caa4126be30",
    ),
    (
        "tools/hooks/theme_fixes.py",
        'the repository link\'s data-md-component="source" (fetches from api.github.com)',
        "templates/partials/source.html",
        "6847616d67be4920d39c278c2799bf20222bbc02ee2a8393aca85e3eaa518752",
    ),
]


@pytest.mark.parametrize(
    ("ours", "relies_on", "upstream", "digest"),
    MATERIAL_DEPENDENCIES,
    ids=[f"{ours}:{Path(upstream).name}" for ours, _, upstream, _ in MATERIAL_DEPENDENCIES],
)
def test_material_files_our_customisations_rely_on_are_unchanged(
    ours: str, relies_on: str, upstream: str, digest: str
):
    assert (ROOT / ours).is_file(), f"{ours} is gone: drop its entry here"
    found = sorted(MATERIAL.glob(upstream))
    assert len(found) == 1, f"installed Material has no single {upstream} ({found})"
    assert sha256(found[0]) == digest, (
        f"Material's {upstream} changed: check that {ours} still holds ({relies_on}), "
        f"then record sha256 {sha256(found[0])} in tests/test_site.py"
    )


def test_the_overrides_folder_holds_only_what_is_listed():
    """A template added to docs/.overrides/ must be listed above with its upstream file."""
    overrides = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "docs" / ".overrides").rglob("*")
        if p.is_file()
    }
    assert overrides <= {ours for ours, *_ in MATERIAL_DEPENDENCIES}


def test_every_page_has_the_theme_fixes(built_site: Path):
    """tools/hooks/theme_fixes.py: a named search dialog and a repository link that
    does not call GitHub's API, on every page and the 404 page."""
    pages = [*built_site.rglob("index.html"), built_site / "404.html"]
    for page in pages:
        html = page.read_text()
        if 'class="md-search"' in html:
            assert 'role="dialog" aria-label="Search"' in html, page
        assert 'data-md-component="source"' not in html, page
    assert len(pages) > 10


def test_the_docs_tree_mirrors_the_navigation():
    """Each section of the navigation is one folder of docs/, and each of its pages is in
    that folder: a maintainer finds a page where the reader finds it."""
    loader = type("Loader", (yaml.SafeLoader,), {})  # mkdocs.yml names Python objects
    loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    loader.add_constructor("!ENV", lambda *_: None)
    nav = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=loader)["nav"]

    def pages(entry) -> list[str]:
        if isinstance(entry, str):
            return [entry]
        if isinstance(entry, dict):
            return [p for value in entry.values() for p in pages(value)]
        return [p for item in entry for p in pages(item)]

    folders = {}
    for section in nav:
        title, content = next(iter(section.items()))
        if isinstance(content, list):
            folders[title] = {Path(p).parts[0] if len(Path(p).parts) > 1 else "" for p in
                              pages(content)}
    assert len(folders) >= 6
    mixed = {title: found for title, found in folders.items() if len(found) != 1 or "" in found}
    assert mixed == {}, f"sections whose pages are not all in one folder: {mixed}"
    assert len({next(iter(f)) for f in folders.values()}) == len(folders), folders
    listed = set(pages(nav))
    on_disk = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*")
               if p.suffix in (".md", ".ipynb") and "includes" not in p.parts}
    assert on_disk - listed == set(), "pages on disk that the navigation does not show"
