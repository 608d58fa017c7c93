"""A page's check of absence must fail when the thing it looks in is missing.

`grep -c secret` printing 0 proves nothing if the image it searched was never
built: the check passes by accident. Each test walks a part of a page as the
reader's walk does (reader_walk.walk), with the command that makes the thing left
out, and the walk must stop at the page's check, not after it.
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

DATA_AND_FILES = ROOT / "docs" / "project" / "data-and-files.md"
# The build of the image the secret checks look in, as the page writes it.
SECRET_BUILD = re.compile(r"^\$ DOCKER_BUILDKIT=1 docker build .*?(?:\n(?=\$ )|\Z)",
                          re.MULTILINE | re.DOTALL)


def blocks_from(page, marker: str, count: int) -> list[Block]:
    """`count` console blocks of `page`, from the first one whose text has `marker`."""
    blocks = console_blocks(page)
    first = next(i for i, b in enumerate(blocks) if marker in b.source)
    return blocks[first : first + count]


@pytest.mark.docker
@pytest.mark.parametrize("check", [0, 1], ids=["history", "every-file"])
def test_secret_check_fails_without_the_image(check: int, request: pytest.FixtureRequest):
    """With the image never built (a builder without BuildKit refuses --secret), the
    walk stops at the check's first look at the image: each of the two checks on its
    own."""
    if problem := reader_problem():
        pytest.skip(problem)
    request.getfixturevalue("docker_hub_names")  # python:3.13-slim resolves (engines)
    request.getfixturevalue("host_network_quiet_now")  # not while a browser test runs
    build, *checks = blocks_from(DATA_AND_FILES, "-t secret-demo", 3)
    assert len(SECRET_BUILD.findall(build.source)) == 1, "the page's build is not found"
    # A name of our own, so that a walk of the whole page running meanwhile cannot lend
    # us its image (the folder images/examples/secret-demo keeps its name).
    tag = f"walk-check-{os.getpid()}"
    own = re.compile(r"(?<![\w/-])secret-demo(?![\w/-])")
    # The other check stays out, so that it cannot be the one that stops the walk;
    # the function the second check uses comes from its own block.
    others = {b.source for i, b in enumerate(checks) if i != check}

    def edit(source: str) -> str:
        if source in others:
            return "$ true\n"
        return own.sub(tag, SECRET_BUILD.sub("", source))

    blocks = [build, *checks]
    try:
        results = walk(blocks, edit=edit).blocks
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)
    # The first command of the check that looks at the image must be the one that fails.
    first = next(c.command for c in parse_console(checks[check].source)
                 if own.search(c.command))
    assert first_failure(blocks, results) == (checks[check].line, own.sub(tag, first)), (
        f"{checks[check]} does not stop the walk when the image was never built: "
        "a check that cannot fail")
