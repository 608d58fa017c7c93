"""Shared test set-up: what each marker needs, and the CI rule on skips.

A test marked root, docker or browser skips with a one-line reason on a
developer's machine that lacks the need. Under CI (CI=true) such a skip is
turned into a failure: CI must run everything this machine can run. Tests
marked registry need Docker Hub, so they may skip here but not on GitHub's
runners (GITHUB_ACTIONS=true).
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
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


ALLOWED_SKIP = pytest.StashKey[bool]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Needs that may be missing here (a registry off GitHub) are checked first: such a
    # skip is allowed even for a test that also needs Docker or root.
    for kind in sorted(MUST_RUN, key=lambda k: MUST_RUN[k]):
        if item.get_closest_marker(kind) and (problem := need_problem(kind)):
            item.stash[ALLOWED_SKIP] = not MUST_RUN[kind]
            pytest.skip(problem)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.skipped and call.when in ("setup", "call") and not item.stash.get(ALLOWED_SKIP,
                                                                                  False):
        strict = [k for k, must in MUST_RUN.items() if must and item.get_closest_marker(k)]
        if strict:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            report.outcome = "failed"
            report.longrepr = f"skipped under CI, which must run {'/'.join(strict)} tests: {reason}"
    return report


@pytest.fixture(scope="module")
def host_network_quiet():
    """Held by the browser tests and by the tests that start containers, so they never run
    at once on two xdist workers: each container adds a veth interface on the host, and
    Chromium aborts its requests on any network change (net::ERR_NETWORK_CHANGED)."""
    with open(Path(tempfile.gettempdir()) / "docker-basics-network.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@functools.cache
def readable_copy(script: Path) -> Path:
    """A copy of a script that any user can read, for tests that run as nobody (a CI
    checkout may sit under a home folder other users cannot enter)."""
    folder = Path(tempfile.mkdtemp(prefix="docker-basics-scripts-"))
    atexit.register(shutil.rmtree, folder, True)
    folder.chmod(0o755)
    copy = folder / script.name
    shutil.copy(script, copy)
    copy.chmod(0o644)
    return copy


@pytest.fixture(scope="session")
def base_images() -> dict[str, str]:
    """Build arguments for the base images of images/*/Dockerfile.

    Where Docker Hub answers (GitHub's runners) none: the Dockerfiles' pinned
    defaults are used. Elsewhere, local stand-ins built by images/stand-ins/build.sh.
    """
    if ON_GITHUB:
        print("base images: the Dockerfiles' defaults (Docker Hub, GHCR)")
        return {}
    out = subprocess.run(["bash", ROOT / "images" / "stand-ins" / "build.sh"],
                         capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-2000:]
    python, uv, rocker = out.stdout.split()
    print(f"base images: stand-ins {python}, {uv}, {rocker}")
    return {"PYTHON_BASE": python, "UV_IMAGE": uv, "ROCKER_BASE": rocker}


@pytest.fixture(scope="session")
def python_base(base_images: dict[str, str]) -> str:
    """The image python-image builds on: the real one on GitHub, else the stand-in."""
    if "PYTHON_BASE" in base_images:
        return base_images["PYTHON_BASE"]
    dockerfile = (ROOT / "images" / "python-image" / "Dockerfile").read_text()
    return dockerfile.split("ARG PYTHON_BASE=", 1)[1].split()[0]


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mkdocs build --strict`: broken links, anchors, snippets or notebooks fail it."""
    site = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    mkdocs = Path(sys.executable).parent / "mkdocs"
    proc = subprocess.run([mkdocs, "build", "--strict", "-d", site], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return site


# --- nothing left behind: counted before and after the whole suite ----------------

OUR_CGROUPS = re.compile(r"^(docker-basics|minicontainer)-(\d+)-[0-9a-f]{6}$")


def our_cgroups(pid: int | None = None) -> list[str]:
    """cgroups our scripts made (named <script>-<pid>-<random>), optionally of one pid."""
    found = []
    for dirpath, dirnames, _ in os.walk("/sys/fs/cgroup"):
        for d in dirnames:
            m = OUR_CGROUPS.match(d)
            if m and (pid is None or int(m[2]) == pid):
                found.append(os.path.join(dirpath, d))
        if dirpath.count("/") > 7:
            dirnames.clear()
    return found


def leak_counts() -> dict[str, object]:
    nets, kids = set(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            nets.add(os.readlink(f"/proc/{pid}/ns/net"))
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(
                    os.getpid()):
                kids.append(int(pid))
        except OSError:
            pass
    return {"mounts": Path("/proc/self/mountinfo").read_text().count("\n"),
            "network namespaces": len(nets), "our cgroups": our_cgroups(),
            "child processes": sorted(kids)}


def pytest_sessionstart(session: pytest.Session) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ:  # the controller: before any worker starts
        session.config.stash[LEAKS] = leak_counts()


LEAKS = pytest.StashKey[dict]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if LEAKS not in session.config.stash:
        return
    before = session.config.stash[LEAKS]
    after = leak_counts()
    for _ in range(20):  # the kernel frees namespaces of just-ended processes a moment later
        if after == before:
            break
        time.sleep(0.1)
        after = leak_counts()
    report = ", ".join(f"{k} {len(v) if isinstance(v, list) else v}->"
                       f"{len(after[k]) if isinstance(after[k], list) else after[k]}"
                       for k, v in before.items())
    out = ROOT / "artifacts" / "leaks.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"before": before, "after": after}, indent=2))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"leak check (whole suite): {report}")
    if after != before:
        if reporter:
            reporter.write_line(f"LEAK: before {before}, after {after}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
