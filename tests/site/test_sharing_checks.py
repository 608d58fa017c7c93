"""The registry pages' last check, "nothing answers on the port any more", must fail
when the registry is still running.

curl's exit status 7 (could not connect) proves the registry stopped only if a
registry answered on that port before. Each test walks the page's Debian tab (start,
"is it up?", stop) and the final check, as the reader's walk does (reader_walk.walk),
on a free port of its own so that a walk of the whole page cannot answer for it:
unchanged the walk passes, and with the stop left out it must fail at the check.
"""

from __future__ import annotations

import re
import shutil
import socket

import pytest
from conftest import ROOT
from console_blocks import Block, console_blocks
from plugins.skip_policy import reader_problem
from reader_walk import first_failure, walk

PAGES = {
    "registries": ROOT / "docs" / "sharing" / "registries.md",
    "multi-platform": ROOT / "docs" / "sharing" / "multi-platform.md",
}
PORT = re.compile(r"127\.0\.0\.1:500[56]")
STOP = re.compile(r'^\$ kill "\$registry_pid".*$', re.MULTILINE)


def registry_blocks(page) -> list[Block]:
    """The Debian tab's start, the check that it is up, its stop, the check that it is gone."""
    blocks = console_blocks(page)
    start = next(b for b in blocks if "docker-registry serve" in b.source)
    up = next(b for b in blocks if "--retry-connrefused" in b.source)
    stop = next(b for b in blocks if STOP.search(b.source))
    gone = next(b for b in blocks if "/v2/; \\" in b.source and b.line > stop.line)
    return [start, up, stop, gone]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("name", sorted(PAGES))
@pytest.mark.parametrize("stopped", [True, False], ids=["stopped", "left-running"])
def test_gone_check_fails_while_the_registry_runs(name: str, stopped: bool):
    if problem := reader_problem():
        pytest.skip(problem)
    assert shutil.which("docker-registry"), "Debian's docker-registry is missing (.ci/run)"
    blocks = registry_blocks(PAGES[name])
    port = free_port()

    def edit(source: str) -> str:
        source = PORT.sub(f"127.0.0.1:{port}", source)
        # The registries page takes the address from its configuration file.
        source = re.sub(
            r"^\$ (REGISTRY_HTTP_ADDR=\S+ )?docker-registry serve",
            f"$ REGISTRY_HTTP_ADDR=127.0.0.1:{port} docker-registry serve",
            source,
            flags=re.MULTILINE,
        )
        return source if stopped else STOP.sub("$ true", source)

    results = walk(blocks, edit=edit).blocks
    failure = first_failure(blocks, results)
    assert (failure and failure[0]) == (None if stopped else blocks[-1].line), (
        f"{PAGES[name].name}: the walk of its registry blocks "
        + (
            "fails unchanged"
            if stopped
            else "passes with the registry left running: a check that cannot fail"
        )
    )
