"""A page's check of absence must fail when the thing it looks in is missing.

`grep -c secret` printing 0 proves nothing if the image it searched was never
built: the check passes by accident. Each test runs a page's own blocks, as the
reader's walk does, once as written and once with the command that makes the
thing left out, and the page's check must then fail (exit status or output).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT
from console_blocks import Block, console_blocks, output_matches, parse_console

DATA_AND_FILES = ROOT / "docs" / "project" / "data-and-files.md"


def blocks_from(page: Path, marker: str, count: int) -> list[Block]:
    """`count` console blocks of `page`, from the first one whose text has `marker`."""
    blocks = console_blocks(page)
    first = next(i for i, b in enumerate(blocks) if marker in b.source)
    return blocks[first : first + count]


def buildkit_path() -> str | None:
    """PATH with first a docker client that can build with BuildKit (`--secret`), as the
    page needs; None if there is none. A machine may have several clients: ours has
    Debian's 20.10 (BuildKit with DOCKER_BUILDKIT=1) and a newer one without buildx."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    for folder in folders:
        client = Path(folder) / "docker"
        if not os.access(client, os.X_OK):
            continue
        usage = subprocess.run([client, "build", "--help"], capture_output=True, text=True,
                               timeout=60, env={**os.environ, "DOCKER_BUILDKIT": "1"})
        if "--secret" in usage.stdout + usage.stderr:
            return os.pathsep.join([folder, *folders])
    return None


def run_commands(commands: list[tuple[str, list[str]]], cwd: Path,
                 path: str) -> list[tuple[int, bool]]:
    """Run the commands in one bash, in order, as a reader would; (exit status, output as
    the page shows it?) for each command run, up to the first that fails."""
    script = ["exec 2>&1 </dev/null"]
    for i, (command, _) in enumerate(commands):
        script += [f"printf '\\n@@cmd {i}@@\\n'", command,
                   f"rc=$?; printf '\\n@@rc {i} %s@@\\n' $rc; [ $rc -eq 0 ] || exit 0"]
    out = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, capture_output=True,
                         text=True, timeout=600,
                         env={**os.environ, "LANG": "C.UTF-8", "PATH": path}).stdout
    results = []
    for i, (_, expected) in enumerate(commands):
        start = out.find(f"\n@@cmd {i}@@\n")
        if start < 0:
            break
        start += len(f"\n@@cmd {i}@@\n")
        marker = f"\n@@rc {i} "
        end = out.find(marker, start)
        rc = int(out[end + len(marker):].split("@@", 1)[0]) if end >= 0 else -1
        results.append((rc, output_matches(expected, out[start:end])))
    return results


def commands_of(blocks: list[Block], tag: str, build: bool) -> list[tuple[str, list[str]]]:
    """The blocks' commands, the image renamed to `tag`; without `docker build` unless
    `build`. The own name keeps a walk of the page running meanwhile from lending us its
    image (the folder images/examples/secret-demo keeps its name)."""
    own = re.compile(r"(?<![\w/-])secret-demo(?![\w/-])")
    return [(own.sub(tag, c.command), c.expected) for b in blocks
            for c in parse_console(b.source) if build or "docker build" not in c.command]


def all_pass(results: list[tuple[int, bool]], commands: list) -> bool:
    return len(results) == len(commands) and all(rc == 0 and ok for rc, ok in results)


@pytest.mark.docker
def test_secret_checks_fail_without_the_image(tmp_path: Path, request: pytest.FixtureRequest):
    """As written, the build and both checks pass; with the image never built (a
    builder without BuildKit refuses --secret), each check fails on its own."""
    request.getfixturevalue("docker_hub_names")  # python:3.13-slim resolves (conftest)
    request.getfixturevalue("host_network_quiet_now")  # not while a browser test runs
    path = buildkit_path()
    if path is None:
        pytest.skip("no docker client here builds with BuildKit (--secret)")
    build_block, *checks = blocks_from(DATA_AND_FILES, "-t secret-demo", 3)
    shutil.copytree(ROOT / "images" / "examples", tmp_path / "images" / "examples")
    tag = f"walk-check-{os.getpid()}"
    try:
        for check in checks:
            commands = commands_of([build_block, check], tag, build=False)
            assert not all_pass(run_commands(commands, tmp_path, path), commands), (
                f"{check} passes with no image {tag}: a check that cannot fail")
        commands = commands_of([build_block, *checks], tag, build=True)
        results = run_commands(commands, tmp_path, path)
        assert all_pass(results, commands), results
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, timeout=120)
