"""Every code block on the site is run here, or listed with a reason.

- ```python blocks: pytest-examples, linted, `#>` output checked.
- ```console blocks: each `$ command` runs in a scratch copy of the repo and
  its output is compared with the page (markdown_blocks.py).
- blocks that only include a real file (pymdownx.snippets): the file is tested
  by its own suite (tests/test_<script>.py, tests/images/).
- diagrams are not code blocks: Mermaid sources drawn into SVG files by
  tools/render_diagrams.py, checked up to date by tests/test_site.py.
- blocks that need what our CI machine lacks (data-ci="gpu", "dockerhub",
  "apptainer", "kubernetes", "ghcr", "arm64"): listed with a reason in
  tests/not_run_by_ci.yaml; the GitHub job that has the tool runs them.
- data-ci="podman" blocks run as a normal user with rootless Podman, in a
  private Podman store (conftest.podman_env).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, need_problem
from markdown_blocks import (
    CI_KINDS,
    ELSEWHERE_KINDS,
    Block,
    find_blocks,
    output_matches,
    parse_console,
    strip_sudo,
)
from pytest_examples import CodeExample, EvalExample, find_examples

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
    return [getattr(pytest.mark, k) for k in sorted(kinds & CI_KINDS)]


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
        if not b.kinds <= CI_KINDS:
            unaccounted.append(f"{b}: unknown data-ci={b.ci!r} (use some of {sorted(CI_KINDS)})")
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


# --- console blocks ---------------------------------------------------------

@dataclass
class PageState:
    folder: Path
    done: int = 0  # how many of the page's console blocks (of this runner) have run here


_pages: dict[tuple[Path, str], PageState] = {}


def runner(block: Block) -> str:
    """Podman blocks run as a normal user in a folder of their own; the rest as we are."""
    return "podman" if "podman" in block.kinds else "default"


@pytest.fixture(scope="session")
def scratch_root(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("pages")


def page_state(page: Path, kind: str, scratch_root: Path, podman=None) -> PageState:
    """One folder per page, shared by its blocks in order, like a reader's terminal."""
    if (page, kind) not in _pages:
        if kind == "podman":  # somewhere the normal user can reach, removed at exit
            folder = Path(tempfile.mkdtemp(prefix="docker-basics-page-"))
            atexit.register(remove_as, podman, folder)
        else:
            folder = scratch_root / rel(page).replace("/", "_")
            folder.mkdir()
        for part in ("scripts", "images"):
            if (ROOT / part).is_dir():
                shutil.copytree(ROOT / part, folder / part, symlinks=True)
        if podman:
            chown_tree(folder, podman["user"].pw_uid, podman["user"].pw_gid)
        _pages[(page, kind)] = PageState(folder)
    return _pages[(page, kind)]


def chown_tree(folder: Path, uid: int, gid: int) -> None:
    if os.geteuid() != 0:
        return
    for path in [folder, *folder.rglob("*")]:
        os.lchown(path, uid, gid)


def remove_as(podman, folder: Path) -> None:
    """Files a rootless container wrote belong to the user's subordinate ids."""
    subprocess.run([*podman["as_user"], "podman", "unshare", "rm", "-rf", str(folder)],
                   env={**os.environ, **podman["env"]}, cwd="/", capture_output=True, timeout=120)
    shutil.rmtree(folder, ignore_errors=True)


def runnable_here(block: Block) -> bool:
    return all(need_problem(k) is None for k in block.kinds)


def run_console(block: Block, cwd: Path, podman=None) -> list[tuple[str, list[str], str, int]]:
    commands = parse_console(block.source)
    script = ["exec 2>&1 </dev/null"]
    for i, c in enumerate(commands):
        cmd = strip_sudo(c.command) if os.geteuid() == 0 else c.command
        script += [f"printf '\\n@@cmd {i}@@\\n'", cmd,
                   f"__rc=$?; printf '\\n@@rc {i} %s@@\\n' $__rc; [ $__rc -eq 0 ] || exit 0"]
    env = {**os.environ, "TERM": "dumb", "PAGER": "cat", "COLUMNS": "80", "LANG": "C.UTF-8",
           # The reader's python3 is one with the guide's packages (numpy, joblib) installed.
           "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    for name in ("VIRTUAL_ENV", "LC_ALL"):  # a reader's shell has no venv; LC_ALL breaks chroots
        env.pop(name, None)
    as_user = []
    if podman:
        env.update(podman["env"])
        as_user = podman["as_user"]
    # Output goes to a file, not a pipe: a command the page leaves in the background
    # (`cmd &`) would hold a pipe open. Whatever is left when bash ends is killed.
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([*as_user, "bash", "-c", "\n".join(script)], cwd=cwd, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=900)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.seek(0)
        out = log.read()
    results = []
    for i, c in enumerate(commands):
        start = out.find(f"\n@@cmd {i}@@\n")
        if start < 0:
            break
        start += len(f"\n@@cmd {i}@@\n")
        end_marker = f"\n@@rc {i} "
        end = out.find(end_marker, start)
        rc = int(out[end + len(end_marker):].split("@@", 1)[0]) if end >= 0 else -1
        results.append((c.command, c.expected, out[start:end if end >= 0 else None], rc))
    return results


CONSOLE = [pytest.param(b, id=block_id(b), marks=marks(b.ci)) for b in BLOCKS
           if b.lang in SHELL_LANGS and not b.is_include]


@pytest.mark.parametrize("block", CONSOLE)
def test_console_block(block: Block, scratch_root: Path, request: pytest.FixtureRequest):
    podman = request.getfixturevalue("podman_env") if runner(block) == "podman" else None
    if block.kinds & {"docker", "podman"}:
        request.getfixturevalue("docker_hub_names")  # Docker Hub names resolve (conftest)
    if "docker" in block.kinds:
        request.getfixturevalue("host_network_quiet_now")  # not while a browser test runs
    page = [b for b in BLOCKS if b.path == block.path and b.lang in SHELL_LANGS
            and runner(b) == runner(block)]
    state = page_state(block.path, runner(block), scratch_root, podman)
    # Blocks build on the ones above them; whichever test of a page runs first (in any
    # order, on any xdist worker) replays those first. Their own tests check their output.
    for earlier in page[state.done : page.index(block)]:
        if runnable_here(earlier):
            run_console(earlier, state.folder, podman)
    state.done = page.index(block) + 1
    results = run_console(block, state.folder, podman)
    assert len(results) == len(parse_console(block.source)) or results[-1][3] != 0
    for command, expected, actual, rc in results:
        assert rc == 0, f"`{command}` exited {rc}:\n{actual}"
        assert output_matches(expected, actual), (
            f"`{command}` printed something else than the page shows.\n"
            f"--- page ---\n" + "\n".join(expected) + f"\n--- real ---\n{actual}"
        )


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
