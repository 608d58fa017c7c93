"""The checks of the Reference pages (docs/reference/) must be able to fail.

Each test walks a few blocks of a page as the reader's walk does (reader_walk.walk),
with one thing undone (the prune, the memory limit, the clash of names or ports),
and the walk must stop at the page's check. The containers, images and labels get
names of the test's own, so that a walk of the whole page running meanwhile (on
another xdist worker) neither meets them nor lends us its own.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from conftest import ROOT
from console_blocks import Block, console_blocks, parse_console
from plugins.skip_policy import reader_problem
from reader_walk import first_failure, walk

CHEAT_SHEET = ROOT / "docs" / "reference" / "cheat-sheet.md"
TROUBLESHOOTING = ROOT / "docs" / "reference" / "troubleshooting.md"
# Names the pages give what they make; each test renames them with its tag.
NAMES = re.compile(r"(?<![\w/-])(cheat-(?:demo|job|web|data)|port-[ab]|name-demo|oom-demo)"
                   r"(?![\w/-])|guide=cheat-sheet")


def titled(page, *titles: str) -> list[Block]:
    """The page's console blocks with these titles, in page order."""
    blocks = [b for b in console_blocks(page) if b.attrs.get("title") in titles]
    assert sorted({b.attrs["title"] for b in blocks}) == sorted(titles), "a block is missing"
    return blocks


def remove_ours(tag: str) -> None:
    """What a walk that stopped early left behind: its containers, then its images."""
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"name={tag}"],
                         capture_output=True, text=True, timeout=60).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, timeout=120)
    subprocess.run(["docker", "rmi", "-f", f"{tag}-cheat-demo"], capture_output=True,
                   timeout=120)
    subprocess.run(["docker", "volume", "rm", "-f", f"{tag}-cheat-data"],
                   capture_output=True, timeout=60)


def walk_undone(blocks: list[Block], undo: tuple[str, str], tag: str):
    """Walk the blocks with our own names and with `undo` (old, new) applied once:
    the results, the block the undone text was in, and the edit (as it renames)."""
    old, new = undo

    def rename(source: str) -> str:
        return NAMES.sub(lambda m: f"guide={tag}" if m[0].startswith("guide=")
                         else f"{tag}-{m[1]}", source)

    def edit(source: str) -> str:
        return rename(source.replace(old, new))

    assert sum(b.source.count(old) for b in blocks) == 1, f"{old!r} is not on the page once"
    where = next(b for b in blocks if old in b.source)
    try:
        results = walk(blocks, edit=edit).blocks
    finally:
        remove_ours(tag)
    return results, where, edit


@pytest.fixture
def docker_walk(request: pytest.FixtureRequest) -> str:
    """The set-up a walk of Docker blocks needs; our tag for names."""
    if problem := reader_problem():
        pytest.skip(problem)
    request.getfixturevalue("docker_hub_names")  # python:3.13-slim resolves (engines)
    request.getfixturevalue("host_network_quiet_now")  # not while a browser test runs
    return f"walk-check-{os.getpid()}"


@pytest.mark.docker
def test_cheat_sheet_clean_up_check_fails_without_the_prune(docker_walk: str):
    """Without the container prune, the `ps -a` after it lists the stopped container."""
    blocks = titled(CHEAT_SHEET, "Build", "Run", "Clean up")
    prune = ("$ docker container prune --force \\\n    --filter label=guide=cheat-sheet\n"
             "Deleted Containers:\n...\n")
    results, where, edit = walk_undone(blocks, (prune, ""), docker_walk)
    check = next(c.command for c in parse_console(where.source)
                 if c.command.startswith("docker ps -a"))
    assert first_failure(blocks, results) == (where.line, edit(check)), (
        "the clean-up's check cannot fail")


# (block title, what is undone, the text that undoes it): each makes the error the
# block shows not happen, so its check must fail at that command.
UNDONE = {
    "no-permission": ("No permission", "sudo -u nobody docker ps", "docker ps"),
    "port": ("Port already in use", '-p "$port:8000"', "-p 127.0.0.1::8000"),
    "name": ("Name already in use", '--name name-demo python:3.13-slim sleep 300; \\',
             '--name port-b python:3.13-slim sleep 300; \\'),
    "oom": ("Out of memory", "--memory 32m --memory-swap 32m ", ""),
    "tty": ("Not a terminal", "docker run -it --rm", "docker run -i --rm"),
}


@pytest.mark.docker
@pytest.mark.root
@pytest.mark.parametrize("case", list(UNDONE))
def test_troubleshooting_check_fails_without_the_error(case: str, docker_walk: str):
    title, old, new = UNDONE[case]
    blocks = titled(TROUBLESHOOTING, title)
    results, where, edit = walk_undone(blocks, (old, new), docker_walk)
    command = next(c.command for c in parse_console(where.source) if old in c.command)
    assert first_failure(blocks, results) == (where.line, edit(command)), (
        f"{title}: the block's check passes without the error it shows")
