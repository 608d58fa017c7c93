"""Shared test set-up: what each marker needs, and the CI rule on skips.

A test marked root, docker or browser skips with a one-line reason on a
developer's machine that lacks the need. Under CI (CI=true) such a skip is
turned into a failure: CI must run everything this machine can run. Tests
marked registry need Docker Hub, so they may skip here but not on GitHub's
runners (GITHUB_ACTIONS=true).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))  # markdown_blocks, helpers

IN_CI = os.environ.get("CI") == "true"
ON_GITHUB = os.environ.get("GITHUB_ACTIONS") == "true"
# Kinds whose skip is a failure, and where.
MUST_RUN = {"root": IN_CI, "docker": IN_CI, "browser": IN_CI, "registry": ON_GITHUB}


@functools.cache
def docker_problem() -> str | None:
    """None if a Docker engine answers, else why not."""
    docker = shutil.which("docker")
    if docker is None:
        return "needs a Docker engine: the docker command is not installed"
    try:
        probe = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"],
                               capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "needs a Docker engine: `docker info` did not answer in 20 s"
    if probe.returncode != 0:
        return "needs a Docker engine: `docker info` failed (is dockerd running?)"
    return None


@functools.cache
def browser_problem() -> str | None:
    if not Path("/usr/bin/chromium").exists():
        return "needs Debian's chromium (apt-get install chromium) for browser tests"
    return None


def need_problem(kind: str) -> str | None:
    if kind == "root":
        return None if os.geteuid() == 0 else "needs root: run the tests with sudo to include it"
    if kind == "docker":
        return docker_problem()
    if kind == "browser":
        return browser_problem()
    if kind == "registry":
        return None if ON_GITHUB else "needs Docker Hub: runs on GitHub's runners only"
    raise ValueError(kind)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for kind in MUST_RUN:
        if item.get_closest_marker(kind) and (problem := need_problem(kind)):
            pytest.skip(problem)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.skipped and call.when in ("setup", "call"):
        strict = [k for k, must in MUST_RUN.items() if must and item.get_closest_marker(k)]
        if strict:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            report.outcome = "failed"
            report.longrepr = f"skipped under CI, which must run {'/'.join(strict)} tests: {reason}"
    return report
