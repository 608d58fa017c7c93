"""Every code block on the site is run here, or listed with a reason.

- ```python blocks: pytest-examples, linted, `#>` output checked.
- ```console blocks: each page is walked as a reader walks it (reader_walk.py: one
  bash session per page and path, in a fresh copy of the repository, as a normal
  user), and each `$ command`'s output is compared with the page
  (tools/console_blocks.py).
- blocks that only include a real file (pymdownx.snippets): the file is tested
  by its own suite (tests/scripts/, tests/images/).
- diagrams are not code blocks: Mermaid sources drawn into SVG files by
  tools/render_diagrams.py, checked up to date by tests/site/test_site.py.
- blocks that need what our CI machine lacks (data-ci="gpu", "dockerhub",
  "apptainer", "kubernetes", "ghcr", "arm64"): listed with a reason in
  tests/not_run_by_ci.yaml; the GitHub job that has the tool runs them.
- data-ci="podman" blocks run in the page's Podman path, with rootless Podman in a
  private store (plugins/engines.py: podman_env).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import yaml
from ci_kinds import ELSEWHERE_KINDS, PAGE_KINDS
from console_blocks import Block, find_blocks, output_matches, parse_console, walks
from plugins.engines import network_lock
from plugins.skip_policy import reader_need_problem, reader_problem, skip_unless
from pytest_examples import CodeExample, EvalExample, find_examples
from reader_walk import Walked, block_problem, describe, walk

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "includes" not in p.relative_to(DOCS).parts)
BLOCKS = [b for page in PAGES for b in find_blocks(page)]
NOT_RUN = yaml.safe_load((ROOT / "tests" / "not_run_by_ci.yaml").read_text())
SHELL_LANGS = {"console"}


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def block_id(block: Block) -> str:
    return f"{rel(block.path)}:{block.line}"


def marks(ci: str | None) -> list[pytest.MarkDecorator]:
    kinds = set(ci.split()) if ci else set()
    return [getattr(pytest.mark, k) for k in sorted(kinds & PAGE_KINDS)]


def listed_reason(block: Block) -> str | None:
    first = block.source.strip().splitlines()[0].removeprefix("$ ")
    for entry in NOT_RUN:
        if entry["page"] == rel(block.path) and entry["first_line"] == first:
            return entry["reason"]
    return None


# --- the inventory: nothing on a page escapes the tests --------------------


def test_every_block_is_run_or_listed():
    unaccounted = []
    for b in BLOCKS:
        runnable = b.lang in SHELL_LANGS | {"python"} or b.is_include
        if not b.kinds <= PAGE_KINDS:
            unaccounted.append(f"{b}: unknown data-ci={b.ci!r} (use some of {sorted(PAGE_KINDS)})")
        elif not runnable:
            unaccounted.append(f"{b}: ```{b.lang} block is neither run nor an include")
        elif b.lang in SHELL_LANGS and not b.kinds & {"root", "gpu"} and any(
                "sudo " in c.command for c in parse_console(b.source)):
            unaccounted.append(f'{b}: uses sudo, so it needs data-ci="root"')
        elif b.kinds & ELSEWHERE_KINDS and listed_reason(b) is None:
            unaccounted.append(f"{b}: data-ci={b.ci!r} block missing from "
                               "tests/not_run_by_ci.yaml")
    assert not unaccounted, "\n".join(unaccounted)


def test_not_run_list_names_real_blocks_that_need_elsewhere():
    elsewhere = {(rel(b.path), b.source.strip().splitlines()[0].removeprefix("$ ")) for b in BLOCKS
                 if b.kinds & ELSEWHERE_KINDS}
    stale = [e for e in NOT_RUN if (e["page"], e["first_line"]) not in elsewhere]
    assert not stale, f"listed in tests/not_run_by_ci.yaml but not on a page: {stale}"
    assert all(e["reason"].strip() and e["runs_on"].strip() for e in NOT_RUN)


def test_includes_point_at_tested_files():
    """Pages include scripts and Dockerfiles only from folders that have test suites."""
    for b in (b for b in BLOCKS if b.is_include):
        for line in b.source.splitlines():
            target = line.split('"')[1].split(":")[0]
            tested = ("scripts/", "images/", "tests/", ".github/")
            assert target.startswith(tested), f"{b}: {target}"
            assert (ROOT / target).is_file(), f"{b}: {target} does not exist"


# --- console blocks: the reader's walk (reader_walk.py) ------------------------

WALKS = {(page, path): blocks for page in PAGES for path, blocks in walks(page).items()}
CONSOLE = [pytest.param(page, path, b, id=block_id(b) + ("" if path == "docker" else "@podman"),
                        marks=marks(b.ci))
           for (page, path), blocks in WALKS.items() for b in blocks]
_walked: dict[tuple[Path, str], Walked] = {}


def walked(page: Path, path: str, request: pytest.FixtureRequest) -> Walked:
    """Each page's path is walked once, when the first of its blocks' tests runs; the
    others read their results."""
    if (page, path) not in _walked:
        blocks = WALKS[(page, path)]
        kinds = set().union(*(b.kinds for b in blocks))
        runs = [b for b in blocks if block_problem(b) is None]
        podman = request.getfixturevalue("podman_env") if path == "podman" and runs else None
        hub = {}
        if kinds & {"docker", "podman"} and runs:
            hub = request.getfixturevalue("base_images")
            request.getfixturevalue("docker_hub_names")  # Docker Hub names resolve (engines)
        with contextlib.ExitStack() as stack:
            if "docker" in kinds and runs:  # containers add veths: not while a browser runs
                stack.enter_context(network_lock(request.getfixturevalue("tmp_path_factory")))
            _walked[(page, path)] = walk(blocks, podman, hub.get("PYTHON_BASE"))
    return _walked[(page, path)]


@pytest.mark.parametrize(("page", "path", "block"), CONSOLE)
def test_console_block(page: Path, path: str, block: Block, request: pytest.FixtureRequest):
    if problem := reader_problem():
        pytest.skip(problem)
    skip_unless(request.node, block.kinds, reader_need_problem)
    result = walked(page, path, request).blocks[block.line]
    assert not result.not_reached, f"not run: {result.not_reached}"
    assert result.ran, "the walk ran none of this block's commands"
    assert len(result.ran) == len(parse_console(block.source)) or result.ran[-1].status != 0
    for ran in result.ran:
        assert ran.status == 0, f"{describe(ran.command)} exited {ran.status}:\n{ran.output}"
        assert output_matches(ran.expected, ran.output), (
            f"{describe(ran.command)} printed something else than the page shows.\n"
            f"--- page ---\n" + "\n".join(ran.expected) + f"\n--- real ---\n{ran.output}"
        )


WALK_IDS = [pytest.param(page, path, id=rel(page) + ("" if path == "docker" else "@podman"))
            for page, path in WALKS]


@pytest.mark.parametrize(("page", "path"), WALK_IDS)
def test_the_page_cleans_up_after_itself(page: Path, path: str, request: pytest.FixtureRequest):
    """A reader who follows the page to its end has the clone as it was: every file
    the page made is removed, and none of the reader's files is changed."""
    blocks = WALKS[(page, path)]
    if problem := reader_problem():
        pytest.skip(problem)
    if all(block_problem(b) for b in blocks):
        pytest.skip(f"no block of this path runs here: {block_problem(blocks[0])}")
    result = walked(page, path, request)
    if not result.completed:
        pytest.skip("the walk stopped early: its blocks' own tests fail")
    left = result.left_behind
    if rel(page) == "docs/start/before-you-start.md":
        # The page's point: a clone of the repository, which the reader keeps (its walk
        # starts in one already, so the new clone lands inside it).
        left = [d for d in left if not d.startswith("new: docker-basics/")]
    assert left == [], "the page leaves the clone changed:\n" + "\n".join(left)


# --- python blocks ------------------------------------------------------------

PYTHON = []
for ex in find_examples(str(DOCS)):
    lines = [line.strip() for line in ex.source.splitlines() if line.strip()]
    if "includes" in Path(ex.path).parts or all(line.startswith("--8<--") for line in lines):
        continue  # an include of a real file: that file has its own tests
    ci = ex.prefix_settings().get("data-ci")
    PYTHON.append(pytest.param(ex, id=f"{rel(Path(ex.path))}:{ex.start_line}", marks=marks(ci)))


@pytest.mark.parametrize("example", PYTHON)
def test_python_block(example: CodeExample, eval_example: EvalExample):
    eval_example.set_config(line_length=88, ruff_ignore=["T201"], target_version="py311")
    if eval_example.update_examples:
        eval_example.format(example)
        eval_example.run_print_update(example)
    else:
        eval_example.lint(example)
        eval_example.run_print_check(example)


def test_the_harness_found_blocks():
    """A collector that silently finds nothing would make every test above vacuous."""
    assert len(CONSOLE) >= 1 and len(PYTHON) >= 1
