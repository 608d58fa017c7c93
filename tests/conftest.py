"""Shared test set-up: what each marker needs, and the CI rule on skips.

A test (or a docs block, through its fence's data-ci) needs some of:

- root, docker, podman, browser: run on every CI machine, ours (.ci/run) and
  GitHub's. On a developer's machine that lacks one, the test skips with a
  one-line reason; under CI (CI=true) such a skip is a failure.
- dockerhub: the real Docker Hub images (RStudio Server, CUDA): GitHub's
  runners only (GITHUB_ACTIONS=true), where a skip is a failure. Likewise
  privileged: `docker run --privileged`, which our CI machine's engine refuses.
- apptainer, kubernetes, ghcr, arm64: tools only some GitHub workflow jobs
  have. A job that provides them says so in RUN_KINDS (RUN_KINDS=apptainer);
  there a skip is a failure, elsewhere they skip.
- gpu: never run by CI.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

IN_CI = os.environ.get("CI") == "true"
ON_GITHUB = os.environ.get("GITHUB_ACTIONS") == "true"
# The GitHub-only kinds this job provides (a workflow job sets RUN_KINDS=apptainer).
PROVIDED = set(os.environ.get("RUN_KINDS", "").replace(",", " ").split())
GITHUB_ONLY = {"apptainer": "Apptainer", "kubernetes": "a Kubernetes (kind) cluster",
               "ghcr": "our images on GHCR", "arm64": "a native arm64 runner"}
# Kinds whose skip is a failure, and where.
MUST_RUN = {"root": IN_CI, "docker": IN_CI, "podman": IN_CI, "browser": IN_CI,
            "dockerhub": ON_GITHUB, "privileged": ON_GITHUB,
            **{k: k in PROVIDED for k in GITHUB_ONLY}, "gpu": False}


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
    from site_helpers import chromium_problem  # the one place that knows Chromium's path

    return chromium_problem()


@functools.cache
def podman_user() -> pwd.struct_passwd | None:
    """Who runs the rootless Podman blocks: we ourselves as a normal user; as root, the
    user who called sudo, or PODMAN_TEST_USER (.ci/run makes one with subuid ranges)."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    for name in (os.environ.get("PODMAN_TEST_USER"), os.environ.get("SUDO_USER")):
        if name and name != "root":
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
    return None


@functools.cache
def podman_problem() -> str | None:
    if shutil.which("podman") is None:
        return "needs Podman (apt-get install podman uidmap) for the rootless Podman blocks"
    if podman_user() is None:
        return ("needs a normal user for rootless Podman: as root, set PODMAN_TEST_USER "
                "or run the tests through sudo")
    return None


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


def need_problem(kind: str) -> str | None:
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
    if kind == "privileged":
        return privileged_problem()
    if kind in GITHUB_ONLY:
        return None if kind in PROVIDED else (
            f"needs {GITHUB_ONLY[kind]}: runs in a GitHub workflow job that sets RUN_KINDS={kind}")
    if kind == "gpu":
        return "needs an NVIDIA GPU: not run by CI (tests/not_run_by_ci.yaml)"
    raise ValueError(kind)


ALLOWED_SKIP = pytest.StashKey[bool]()


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Needs that may be missing here (Docker Hub off GitHub) are checked first: such a
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


@contextlib.contextmanager
def network_lock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Held by the browser tests and by the tests that start containers or build images
    (a RUN step is a container too), so they never run at once on two xdist workers:
    each container adds a veth interface on the host, and Chromium aborts its requests on
    any network change (net::ERR_NETWORK_CHANGED). It also keeps two image builds from
    sharing BuildKit steps mid-flight, which made a cached step run again.

    The lock file is in this session's own temporary folder, which only its user can
    enter (pytest makes it 0700 and checks its owner): xdist gives each worker
    <session folder>/popen-gwN, so the workers of one run share the parent. Not a fixed
    name in the shared /tmp, which another user's run could own or plant a symlink at.
    pytest removes the folder with its old session folders. Without xdist nothing runs
    alongside, so there is nothing to lock."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        yield
        return
    basetemp = tmp_path_factory.getbasetemp()
    # If xdist ever stopped nesting the workers' folders, each would lock its own file.
    assert basetemp.name == f"popen-{worker}", f"unexpected worker basetemp {basetemp}"
    with open(basetemp.parent / "host-network.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def host_network_quiet(tmp_path_factory: pytest.TempPathFactory):
    """network_lock for a whole test module (browser tests, image tests)."""
    with network_lock(tmp_path_factory):
        yield


@pytest.fixture
def host_network_quiet_now(tmp_path_factory: pytest.TempPathFactory):
    """network_lock for one test (a docs block that runs Docker)."""
    with network_lock(tmp_path_factory):
        yield


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


# Docker Hub names the pages use, and the stand-in each stands for where Docker Hub is
# out of reach. .ci/run runs a registry on DOCKER_HUB_MIRROR and starts dockerd with it as
# Docker Hub's mirror, so `docker pull python:3.13-slim` and `FROM python:3.13-slim` really
# pull, here from that registry. (docs/about/contributing.md says so.)
DOCKER_HUB_STAND_INS = {"library/python:3.13-slim": "PYTHON_BASE",
                        "library/python:3.13-slim-trixie": "PYTHON_BASE"}


@pytest.fixture(scope="session")
def docker_hub_names(base_images: dict[str, str]) -> dict[str, str]:
    """Docker Hub name -> the local stand-in for it (none where Docker Hub is real); with
    DOCKER_HUB_MIRROR set, the stand-ins are pushed there first."""
    if not base_images:
        return {}  # the real Docker Hub (GitHub's runners)
    mirror = os.environ.get("DOCKER_HUB_MIRROR")
    names = {}
    for name, arg in DOCKER_HUB_STAND_INS.items():
        names[name] = base_images[arg]
        if not mirror:  # Docker pulls from the real Docker Hub; Podman's store gets stand-ins
            continue
        target = f"{mirror}/{name}"
        # Pulled once here, as a reader's machine has it after the first page that uses it.
        pull = ["pull", "-q", name.removeprefix("library/")]
        for cmd in (["tag", base_images[arg], target], ["push", "-q", target], ["rmi", target],
                    pull):
            proc = subprocess.run(["docker", *cmd], capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"docker {' '.join(cmd)}: {proc.stderr[-1000:]}"
    return names


@pytest.fixture(scope="session")
def podman_env(docker_hub_names: dict[str, str]):
    """A private Podman store for the podman blocks, owned by podman_user(), with the
    Docker Hub stand-ins loaded through `docker save | podman load`; removed afterwards.
    The user's own Podman images and containers are never touched."""
    user = podman_user()
    assert user is not None, podman_problem()
    home = Path(tempfile.mkdtemp(prefix="docker-basics-podman-"))
    for sub in ("storage", "run", "xdg-run"):
        (home / sub).mkdir()
    (home / "storage.conf").write_text(
        # Rootless Podman reads rootless_storage_path (graphroot is root's).
        f'[storage]\ndriver = "overlay"\ngraphroot = "{home}/storage"\n'
        f'rootless_storage_path = "{home}/storage"\nrunroot = "{home}/run"\n')
    mirror = os.environ.get("DOCKER_HUB_MIRROR")
    registries = 'unqualified-search-registries = ["docker.io"]\n'
    if mirror:
        registries += (f'[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\n'
                       f'location = "{mirror}"\ninsecure = true\n')
    (home / "registries.conf").write_text(registries)
    for path in [home, *home.iterdir()]:
        os.chown(path, user.pw_uid, user.pw_gid)
    home.chmod(0o700)
    env = {"HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name,
           "XDG_RUNTIME_DIR": str(home / "xdg-run"),
           "CONTAINERS_STORAGE_CONF": str(home / "storage.conf"),
           "CONTAINERS_REGISTRIES_CONF": str(home / "registries.conf")}
    as_user = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
               "--init-groups", "--"] if os.geteuid() == 0 else []

    def podman(*args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, "podman", *args], env={**os.environ, **env},
                              cwd=home, capture_output=True, text=True, timeout=600, **kw)

    try:
        for name, image in docker_hub_names.items():
            archive = home / "image.tar"
            save = subprocess.run(["docker", "save", "-o", archive, image], capture_output=True,
                                  text=True, timeout=600)
            assert save.returncode == 0, save.stderr[-1000:]
            os.chown(archive, user.pw_uid, user.pw_gid)
            loaded = podman("load", "-q", "-i", str(archive))
            archive.unlink()
            assert loaded.returncode == 0, loaded.stderr[-1000:]
            tagged = podman("tag", loaded.stdout.split()[-1], f"docker.io/{name}")
            assert tagged.returncode == 0, tagged.stderr[-1000:]
        yield {"env": env, "as_user": as_user, "user": user}
    finally:
        podman("rm", "--all", "--force", "--time", "0")
        podman("unshare", "rm", "-rf", str(home / "storage"))
        shutil.rmtree(home, ignore_errors=True)


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
            "child processes": sorted(kids), **docker_objects()}


def docker_objects() -> dict[str, list[str]]:
    """Containers and volumes of the Docker engine, when there is one: a page or a test
    that leaves one behind (a `docker create` never removed) is a leak too."""
    if shutil.which("docker") is None:
        return {}
    found = {}
    for kind, cmd in (("docker containers", ["ps", "-aq", "--no-trunc"]),
                      ("docker volumes", ["volume", "ls", "-q"])):
        try:
            out = subprocess.run(["docker", *cmd], capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            continue
        if out.returncode == 0:
            found[kind] = sorted(out.stdout.split())
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ:  # the controller: before any worker starts
        session.config.stash[LEAKS] = leak_counts()


LEAKS = pytest.StashKey[dict]()


def leaked(before: dict[str, object], after: dict[str, object]) -> bool:
    """More of anything than before. (Fewer is not ours: on a shared machine other
    processes end their containers, and with them mounts and namespaces, meanwhile.)"""
    for key, was in before.items():
        now = after.get(key, was)
        if set(now) - set(was) if isinstance(was, list) else now > was:
            return True
    return False


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if LEAKS not in session.config.stash:
        return
    before = session.config.stash[LEAKS]
    after = leak_counts()
    for _ in range(20):  # the kernel frees namespaces of just-ended processes a moment later
        if not leaked(before, after):
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
    if leaked(before, after):
        if reporter:
            reporter.write_line(f"LEAK: before {before}, after {after}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
