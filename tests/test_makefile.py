"""The README's commands in a clone of a normal user: `sudo make test`, then `make test`
as that user, then `make clean`, all in the same clone. Root must leave nothing
behind that the user cannot use or remove.

Runs a small selection of tests each time (PYTEST_ARGS): what is checked is the
Makefile's set-up and clean-up, not the suite again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT
from plugins.skip_policy import as_reader, reader_env, reader_problem, reader_user

# A quick selection that still writes what a whole run writes: .pytest_cache, the
# leak report in artifacts/, and __pycache__ folders in tests/ and tools/.
SELECTION = "PYTEST_ARGS=tests/tools/test_console_blocks.py -n0"
# sudo's secure_path: root's make finds /usr/bin/python3, as `sudo make test` does.
SUDO_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture
def reader_folder() -> Iterator[Path]:
    """A folder the reader can enter (pytest's own are root's alone), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="docker-basics-make-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def clone_for_reader(into: Path) -> Path:
    user = reader_user()
    clone = into / "docker-basics"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", ROOT, clone], check=True,
                   capture_output=True, timeout=120)
    # The uv that `make` would fetch from PyPI (tools/get_uv.py), so the test needs no
    # network; the rest is made by make.
    shutil.copytree(ROOT / ".tools", clone / ".tools", symlinks=True)
    for path in [into, *into.rglob("*")]:
        os.lchown(path, user.pw_uid, user.pw_gid)
    into.chmod(0o755)
    return clone


def make(clone: Path, *args: str, as_root: bool,
         docker_group: bool = True) -> subprocess.CompletedProcess[str]:
    user = reader_user()
    if as_root:
        env = {"PATH": SUDO_PATH, "HOME": "/root", "SUDO_USER": user.pw_name,
               "LANG": "C.UTF-8"}
        prefix = []
    else:
        env, prefix = reader_env(), as_reader()
        if not docker_group:  # the same user, in no supplementary group
            prefix = [*prefix[:-2], "--clear-groups", "--"] if prefix else []
    env["DOCKER_BASICS_NESTED_RUN"] = "1"  # plugins/leak_check.py
    env.pop("CI", None)
    proc = subprocess.run([*prefix, "make", "-C", str(clone), *args], env=env,
                          capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL)
    return proc


def root_owned(clone: Path) -> list[str]:
    return sorted(str(p.relative_to(clone)) for p in clone.rglob("*")
                  if ".git" not in p.relative_to(clone).parts and p.lstat().st_uid == 0)


@pytest.mark.root
@pytest.mark.slow
def test_sudo_make_test_then_make_test_as_the_user_then_make_clean(reader_folder: Path):
    if problem := reader_problem():
        pytest.skip(problem)
    clone = clone_for_reader(reader_folder)

    first = make(clone, "test", SELECTION, as_root=True)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert (clone / ".venv").is_dir() and (clone / "artifacts" / "leaks.json").is_file()
    assert root_owned(clone) == [], "root left files the user does not own"

    second = make(clone, "test", SELECTION, as_root=False)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "passed" in second.stdout

    # A user who may not use Docker: the page's Docker blocks skip with one line each.
    no_docker = make(clone, "test", "PYTEST_ARGS=tests/site/test_docs.py -n0 -k housekeeping",
                     as_root=False, docker_group=False)
    assert no_docker.returncode == 0, no_docker.stdout[-3000:] + no_docker.stderr[-3000:]
    skips = [line for line in no_docker.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skips and all("docker group" in line for line in skips), no_docker.stdout[-3000:]
    assert " failed" not in no_docker.stdout

    cleaned = make(clone, "clean", as_root=False)
    assert cleaned.returncode == 0, cleaned.stderr[-3000:]
    left = [p for p in (".venv", ".pytest_cache", "artifacts") if (clone / p).exists()]
    assert left == [], f"make clean left {left}"
    assert not list(clone.rglob("__pycache__"))


@pytest.mark.slow
def test_make_release_builds_what_the_workshop_page_lists(tmp_path: Path):
    """`make release` (the release workflow's one step) in a clone: the two archives and
    their sums, with the contents docs/about/workshop.md promises."""
    clone = tmp_path / "docker-basics"
    subprocess.run(["git", "clone", "-q", ROOT, clone], check=True, timeout=120)
    for made in (".tools", ".venv"):  # make's set-up is tested above; not again here
        (clone / made).symlink_to(ROOT / made)
    (clone / ".venv" / ".synced").exists() or pytest.skip("no .venv/.synced")
    proc = subprocess.run(["make", "-o", ".venv/.synced", "release", "VERSION=v0.0-test"],
                          cwd=clone, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    dist = clone / "dist"
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dist, capture_output=True,
                          text=True)
    assert sums.returncode == 0 and sums.stdout.count(": OK") == 2, sums.stdout
    page = (ROOT / "docs" / "about" / "workshop.md").read_text()
    with tarfile.open(dist / "docker-basics-v0.0-test-source.tar.gz") as source:
        top = {Path(n).parts[1] for n in source.getnames() if len(Path(n).parts) > 1}
    listed = set(re.findall(r"`([\w.]+)/?`", page.split("-source.tar.gz` |", 1)[1]
                            .split("\n", 1)[0]))
    assert listed and listed <= top, f"the page lists {listed - top}, not in the archive"
    with tarfile.open(dist / "docker-basics-v0.0-test-site.tar.gz") as site:
        names = set(site.getnames())
    for page_path in ("index.html", "search/search_index.json",
                      "run-well/am-i-in-a-container/index.html"):
        assert f"docker-basics-v0.0-test-site/{page_path}" in names, page_path
