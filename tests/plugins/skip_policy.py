"""What each kind needs (tools/ci_kinds.py), and the CI rule on skips.

A test (a pytest marker) or a docs block (its fence's data-ci) needs some kinds:

- root, docker, podman, browser: run on every CI machine, ours (.ci/run) and
  GitHub's. On a developer's machine that lacks one, the test skips with a
  one-line reason; under CI (CI=true) such a skip is a failure.
- dockerhub, github, privileged, buildx, compose: GitHub's runners (GITHUB_ACTIONS=true),
  where a skip is a failure; buildx and compose also run wherever the docker plugin
  is installed (buildx on our CI machine on Debian 13).
- apptainer, kubernetes, ghcr, arm64: tools only some GitHub workflow jobs have. A
  job that provides them says so in RUN_KINDS (RUN_KINDS=apptainer); there a skip is
  a failure, elsewhere they skip.
- gpu: never run by CI.

The pages run as a reader runs them, as a normal user (tests/site/reader_walk.py):
reader_user() says who that is.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest
from ci_kinds import JOB_KINDS, KINDS

IN_CI = os.environ.get("CI") == "true"
ON_GITHUB = os.environ.get("GITHUB_ACTIONS") == "true"
# The GitHub-only kinds this job provides (a workflow job sets RUN_KINDS=apptainer).
PROVIDED = set(os.environ.get("RUN_KINDS", "").replace(",", " ").split())
GITHUB_ONLY = {k: KINDS[k].need for k in sorted(JOB_KINDS)}
# Kinds whose skip is a failure, and where.
MUST_RUN = {
    **{k: IN_CI for k, kind in KINDS.items() if kind.here},
    "dockerhub": ON_GITHUB,
    "github": ON_GITHUB,
    "privileged": ON_GITHUB,
    "buildx": ON_GITHUB,
    "compose": ON_GITHUB,
    **{k: k in PROVIDED for k in JOB_KINDS},
    "gpu": False,
}
assert MUST_RUN.keys() == KINDS.keys(), "every kind needs a rule here"


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
        # Docker 20.10's client says only that its --format template failed: look at
        # the socket itself.
        socket = "/var/run/docker.sock"
        if "permission denied" in probe.stderr or (
                "DOCKER_HOST" not in os.environ and os.path.exists(socket)
                and not os.access(socket, os.R_OK | os.W_OK)):
            return "needs a Docker engine: you may not use it (join the docker group)"
        return "needs a Docker engine: `docker info` failed (is dockerd running?)"
    return None


@functools.cache
def browser_problem() -> str | None:
    from static_server import chromium_problem  # the one place that knows Chromium's path

    return chromium_problem()


@functools.cache
def reader_user() -> pwd.struct_passwd | None:
    """Who runs the pages as a reader, a normal user: we ourselves when we are not root;
    as root, READER_USER, or the user who called sudo, or the reader .ci/run makes."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    for name in (os.environ.get("READER_USER"), os.environ.get("SUDO_USER"),
                 "docker-basics-reader"):
        if name and name != "root":
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
    return None


def as_reader() -> list[str]:
    """The prefix that runs a command as the reader (nothing when we are the reader)."""
    user = reader_user()
    if user is None or user.pw_uid == os.geteuid():
        return []
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups",
            "--"]


def reader_env() -> dict[str, str]:
    """A login-like environment of the reader: their home, a normal PATH (none of our
    venvs, nothing under root's home), English messages."""
    user = reader_user()
    assert user is not None
    checkout = str(Path(__file__).resolve().parents[2])  # its own bins: .venv, .ci/bin
    path = [p for p in os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep)
            if p and not p.startswith(("/root", checkout)) and ".venv" not in p]
    # What the reader's own shell would have set: the engine's address, proxies, and
    # the credential a CI job hands over for a page (gh's token).
    env = {k: v for k, v in os.environ.items()
           if k in ("DOCKER_BUILDKIT", "DOCKER_HOST", "CI", "TZ", "http_proxy",
                    "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                    "GH_TOKEN")}
    return {**env, "HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name,
            "SHELL": "/bin/bash", "PATH": os.pathsep.join(path), "LANG": "C.UTF-8",
            "TERM": "dumb", "PAGER": "cat", "COLUMNS": "80"}


def _as_reader_ok(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*as_reader(), *cmd], capture_output=True, text=True, timeout=30,
                          env=reader_env(), cwd="/", stdin=subprocess.DEVNULL)


@functools.cache
def reader_problem() -> str | None:
    if reader_user() is None:
        return ("needs a normal user to read the pages as: as root, set READER_USER "
                "or run the tests through sudo")
    return None


@functools.cache
def reader_docker_problem() -> str | None:
    """The Docker path of a page runs as the reader, who must be allowed to use Docker."""
    if problem := docker_problem() or reader_problem():
        return problem
    probe = _as_reader_ok("docker", "info", "--format", "{{.ServerVersion}}")
    if probe.returncode != 0:
        return (f"needs a Docker engine that {reader_user().pw_name} may use (the docker "
                "group)")
    return None


@functools.cache
def reader_sudo_problem() -> str | None:
    """A page's `sudo` lines run as the reader types them: sudo must not ask a password
    (.ci/run allows its reader; as root, tests/site/reader_walk.py allows the user who
    called sudo for the walk's duration)."""
    if problem := reader_problem():
        return problem
    if shutil.which("sudo") is None:
        return "needs root: sudo is not installed"
    if _as_reader_ok("sudo", "-n", "true").returncode == 0:
        return None
    if os.geteuid() == 0 and reader_user().pw_name == os.environ.get("SUDO_USER"):
        return None  # granted for each walk (reader_walk.sudo_granted)
    return "needs root: run the tests with sudo to include it"


@functools.cache
def podman_problem() -> str | None:
    if shutil.which("podman") is None:
        return "needs Podman (apt-get install podman uidmap) for the rootless Podman blocks"
    return reader_problem()


@functools.cache
def privileged_problem() -> str | None:
    """Some engines (ours, in a VM that withholds capabilities) refuse --privileged. The
    probe runs an empty image: the refusal comes before the command would be looked up."""
    if problem := docker_problem():
        return problem
    empty = subprocess.run(["docker", "import", "-", "docker-basics/privileged-probe:empty"],
                           input=b"\0" * 1024, capture_output=True, timeout=60)
    assert empty.returncode == 0, empty.stderr.decode()[-500:]
    try:
        probe = subprocess.run(["docker", "run", "--rm", "--privileged", "--network", "none",
                                "docker-basics/privileged-probe:empty", "/probe"],
                               capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run(["docker", "rmi", "docker-basics/privileged-probe:empty"],
                       capture_output=True, timeout=60)
    if probe.returncode != 0 and "unable to apply caps" in probe.stderr:
        return "this Docker engine refuses --privileged: runs on GitHub's runners"
    return None


@functools.cache
def plugin_problem(plugin: str) -> str | None:
    """buildx and compose are plugins of the docker command, not part of the engine."""
    if problem := docker_problem():
        return problem
    probe = subprocess.run(["docker", plugin, "version"], capture_output=True, text=True,
                           timeout=30)
    if probe.returncode != 0:
        return (f"needs the docker {plugin} plugin (not in Debian 12's docker.io): runs on "
                "GitHub's runners")
    return None


def need_problem(kind: str) -> str | None:
    """None if this machine can run what needs `kind`, else a one-line reason."""
    if kind == "root":
        return None if os.geteuid() == 0 else "needs root: run the tests with sudo to include it"
    if kind == "docker":
        return docker_problem()
    if kind == "podman":
        return podman_problem()
    if kind == "browser":
        return browser_problem()
    if kind == "dockerhub":
        return None if ON_GITHUB else "needs Docker Hub: runs on GitHub's runners only"
    if kind == "github":
        return None if ON_GITHUB else "needs github.com: runs on GitHub's runners only"
    if kind == "privileged":
        return privileged_problem()
    if kind in ("buildx", "compose"):
        return plugin_problem(kind)
    if kind in GITHUB_ONLY:
        return None if kind in PROVIDED else (
            f"needs {GITHUB_ONLY[kind]}: runs in a GitHub workflow job that sets RUN_KINDS={kind}")
    if kind == "gpu":
        return "needs an NVIDIA GPU: not run by CI (tests/not_run_by_ci.yaml)"
    raise ValueError(kind)


def reader_need_problem(kind: str) -> str | None:
    """need_problem for a docs block, which runs as the reader: `root` is the reader's
    sudo, `docker` the reader's access to the engine."""
    if kind == "root":
        return reader_sudo_problem()
    if kind == "docker":
        return reader_docker_problem()
    return need_problem(kind)


ALLOWED_SKIP = pytest.StashKey[bool]()


def skip_unless(item: pytest.Item, kinds: set[str], problem_of=need_problem) -> None:
    """Skip `item` if one of `kinds` is missing here, with the first reason. Needs that
    may be missing here (Docker Hub off GitHub) are checked first: such a skip is
    allowed even for a test that also needs Docker or root."""
    for kind in sorted(kinds, key=lambda k: MUST_RUN[k]):
        if problem := problem_of(kind):
            item.stash[ALLOWED_SKIP] = not MUST_RUN[kind]
            pytest.skip(problem)


def pytest_runtest_setup(item: pytest.Item) -> None:
    skip_unless(item, {k for k in MUST_RUN if item.get_closest_marker(k)})


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
