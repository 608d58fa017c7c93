"""The container engines the tests share: the base images, the Docker Hub names, a
private Podman store, and the lock that keeps networked tests apart."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.skip_policy import ON_GITHUB, as_reader, podman_problem, reader_user

ROOT = Path(__file__).resolve().parents[2]
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
    if out.returncode == 3:  # a normal user, and root has not built them yet
        pytest.skip(out.stderr.strip())
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


def docker_hub_mirror() -> str | None:
    """The registry on this machine that dockerd uses as Docker Hub's mirror: the one
    .ci/run starts (DOCKER_HUB_MIRROR), or one that the running dockerd names."""
    if mirror := os.environ.get("DOCKER_HUB_MIRROR"):
        return mirror
    info = subprocess.run(["docker", "info", "--format", "{{json .RegistryConfig.Mirrors}}"],
                          capture_output=True, text=True, timeout=30)
    for url in json.loads(info.stdout or "null") or []:
        host = url.split("://", 1)[-1].rstrip("/")
        if host.startswith(("127.0.0.1:", "localhost:")):
            return host
    return None


@pytest.fixture(scope="session")
def docker_hub_names(base_images: dict[str, str]) -> dict[str, str]:
    """Docker Hub name -> the local stand-in for it (none where Docker Hub is real); with
    DOCKER_HUB_MIRROR set, the stand-ins are pushed there first."""
    if not base_images:
        return {}  # the real Docker Hub (GitHub's runners)
    mirror = docker_hub_mirror()
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
            if cmd[0] == "rmi" and "No such image" in proc.stderr:
                continue  # another test session on this engine removed the same tag
            assert proc.returncode == 0, f"docker {' '.join(cmd)}: {proc.stderr[-1000:]}"
    return names


@pytest.fixture(scope="session")
def podman_env(docker_hub_names: dict[str, str]):
    """A private Podman store for the podman blocks, owned by the reader (reader_user()), with the
    Docker Hub stand-ins loaded through `docker save | podman load`; removed afterwards.
    The user's own Podman images and containers are never touched."""
    user = reader_user()
    assert user is not None, podman_problem()
    home = Path(tempfile.mkdtemp(prefix="docker-basics-podman-"))
    for sub in ("storage", "run", "xdg-run"):
        (home / sub).mkdir()
    (home / "storage.conf").write_text(
        # Rootless Podman reads rootless_storage_path (graphroot is root's).
        f'[storage]\ndriver = "overlay"\ngraphroot = "{home}/storage"\n'
        f'rootless_storage_path = "{home}/storage"\nrunroot = "{home}/run"\n')
    mirror = docker_hub_mirror()
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
    as_user = as_reader()

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
