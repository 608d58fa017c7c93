"""images/: the Dockerfiles build, and the containers behave as the docs say.

On this project's CI machine there is no Docker Hub: the images build on local
stand-in bases (conftest.base_images) and everything that can run on them runs
here. Tests marked dockerhub need the real bases (RStudio Server, CRAN) and run
on GitHub's runners (.github/workflows/images.yml).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("host_network_quiet")]

IMAGES = ROOT / "images"
PY_TAG = "docker-basics/ds-python:test"
R_TAG = "docker-basics/ds-rstudio:test"
PY_MODULES = ["numpy", "scipy", "pandas", "sklearn", "imblearn", "xgboost", "seaborn", "nltk",
              "spacy", "gensim", "pyLDAvis", "PIL", "cv2", "requests", "lxml", "bs4", "pydot",
              "tqdm", "jupyterlab"]


def docker(*args: object, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    if check:
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc


def build(context: Path, tag: str, build_args: dict[str, str], *extra: str) -> None:
    # The images workflow builds with buildx and its GitHub Actions cache first, and
    # says so with PREBUILT_IMAGES=1: test that image instead of building it again.
    if os.environ.get("PREBUILT_IMAGES") == "1" and not extra and docker(
            "image", "inspect", tag, check=False).returncode == 0:
        print(f"using the prebuilt {tag}")
        return
    args = [f"--build-arg={k}={v}" for k, v in build_args.items()]
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    proc = subprocess.run(["docker", "build", *args, *extra, "-t", tag, str(context)],
                          capture_output=True, text=True, timeout=3000, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]


def wait_healthy(container: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = docker("inspect", "-f", "{{.State.Health.Status}}", container).stdout.strip()
        if status in ("healthy", "unhealthy"):
            return status
        time.sleep(1)
    return status


def http(url: str) -> tuple[int, str]:
    """Status and Location of a GET, without following redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


@pytest.fixture(scope="session")
def py_image(base_images: dict[str, str]) -> str:
    args = {k: v for k, v in base_images.items() if k in ("PYTHON_BASE", "UV_IMAGE")}
    build(IMAGES / "python-image", PY_TAG, {**args, "VCS_REF": "test"})
    return PY_TAG


@pytest.fixture
def run_detached():
    """docker run -d, removed afterwards whatever happens."""
    started: list[str] = []

    def start(*args: str) -> str:
        cid = docker("run", "-d", *args).stdout.strip()
        started.append(cid)
        return cid

    yield start
    for cid in started:
        docker("rm", "-f", cid, check=False)


def host_port(container: str, port: int) -> int:
    out = docker("port", container, str(port)).stdout.split()[0]
    assert out.startswith("127.0.0.1:"), out  # published on loopback only
    return int(out.rsplit(":", 1)[1])


# --- python-image ----------------------------------------------------------------


def test_python_image_runs_as_non_root(py_image: str):
    assert docker("run", "--rm", py_image, "id", "-u").stdout.strip() == "1000"


def test_python_image_imports_every_package(py_image: str):
    code = "import " + ", ".join(PY_MODULES) + "; print('ok')"
    assert docker("run", "--rm", py_image, "python", "-c", code).stdout.strip() == "ok"


def test_python_image_has_no_compiler_and_no_uv(py_image: str):
    proc = docker("run", "--rm", py_image, "sh", "-c",
                  "for t in gcc cc c++ uv pip; do command -v $t || true; done")
    assert [p for p in proc.stdout.split() if not p.startswith("/opt/venv")] == []


def test_tini_is_pid_1(py_image: str):
    assert docker("run", "--rm", py_image, "cat", "/proc/1/comm").stdout.strip() == "tini"


def test_python_image_labels(py_image: str):
    labels = json.loads(docker("inspect", "-f", "{{json .Config.Labels}}", py_image).stdout)
    assert labels["org.opencontainers.image.source"].startswith("https://github.com/")
    assert labels["org.opencontainers.image.revision"] == "test"


def test_jupyter_needs_the_token_and_turns_healthy(py_image: str, run_detached):
    token = secrets.token_hex(24)
    cid = run_detached("-e", f"JUPYTER_TOKEN={token}", "-p", "127.0.0.1::8888", py_image)
    assert wait_healthy(cid) == "healthy", docker("logs", cid).stderr[-2000:]
    base = f"http://127.0.0.1:{host_port(cid, 8888)}"
    assert http(f"{base}/api")[0] == 200  # says only that it is up
    assert http(f"{base}/api/contents")[0] == 403
    assert http(f"{base}/api/contents?token=wrong")[0] == 403
    assert http(f"{base}/api/contents?token={token}")[0] == 200
    status, location = http(f"{base}/lab")
    assert status == 302 and "/login" in location


def test_jupyter_makes_a_random_token_without_one(py_image: str, run_detached):
    cid = run_detached("-p", "127.0.0.1::8888", py_image)
    assert wait_healthy(cid) == "healthy"
    logs = docker("logs", cid).stderr
    token = logs.split("token=", 1)[1].split()[0]
    assert len(token) >= 32
    base = f"http://127.0.0.1:{host_port(cid, 8888)}"
    assert http(f"{base}/api/contents")[0] == 403
    assert http(f"{base}/api/contents?token={token}")[0] == 200


def test_an_empty_token_is_refused(py_image: str):
    proc = docker("run", "--rm", "-e", "JUPYTER_TOKEN=", py_image, check=False)
    assert proc.returncode == 64
    assert "JUPYTER_TOKEN is empty, which would turn authentication off" in proc.stderr


@pytest.mark.parametrize("uid", [1000, 4242])
def test_files_in_a_bind_mount_belong_to_the_host_user(py_image: str, uid: int, tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    os.chown(work, uid, 100)
    user = [] if uid == 1000 else ["--user", f"{uid}:100", "--group-add", "users"]
    docker("run", "--rm", *user, "-v", f"{work}:/home/jovyan/work", py_image,
           "python", "-c", "open('notes.txt', 'w').write('hi')")
    assert (work / "notes.txt").stat().st_uid == uid
    shutil.rmtree(work)


# --- rocker ---------------------------------------------------------------------------


def test_rocker_system_stage_builds(base_images: dict[str, str]):
    """The apt layer of images/rocker/Dockerfile, on the stand-in where there is no Hub."""
    args = {k: v for k, v in base_images.items() if k == "ROCKER_BASE"}
    build(IMAGES / "rocker", "docker-basics/ds-rstudio:system-test", args, "--target", "system")
    proc = docker("run", "--rm", "docker-basics/ds-rstudio:system-test", "sh", "-c",
                  "for t in ffmpeg curl gdal-config geos-config; do command -v $t; done")
    assert len(proc.stdout.split()) == 4


def test_rocker_load_check_loads_and_fails_loudly(base_images: dict[str, str], tmp_path: Path,
                                                  request: pytest.FixtureRequest):
    """install_packages.sh's smoke check, with R: on the stand-in (whose Debian R has these
    packages) here, on the full image where Docker Hub answers."""
    image = base_images.get("ROCKER_BASE") or request.getfixturevalue("r_image")
    script = IMAGES / "rocker" / "install_packages.sh"
    (tmp_path / "ok.txt").write_text("# debian has these\nsf\ntm\nigraph\nshiny\n")
    (tmp_path / "missing.txt").write_text("shiny\nnot.a.package\n")
    mounts = ["-v", f"{script}:/check.sh:ro", "-v", f"{tmp_path}:/lists:ro", "-e", "SKIP_INSTALL=1"]
    ok = docker("run", "--rm", *mounts, image, "bash", "/check.sh", "/lists/ok.txt")
    assert ok.stdout.strip() == "loaded: sf tm igraph shiny"
    bad = docker("run", "--rm", *mounts, image, "bash", "/check.sh", "/lists/missing.txt",
                 check=False)
    assert bad.returncode != 0 and "not.a.package" in bad.stderr


@pytest.fixture(scope="session")
def r_image(base_images: dict[str, str]) -> str:
    build(IMAGES / "rocker", R_TAG, {})
    return R_TAG


@pytest.mark.dockerhub
def test_rocker_image_loads_every_package(r_image: str):
    lines = (IMAGES / "rocker" / "packages.txt").read_text().splitlines()
    packages = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    proc = docker("run", "--rm", r_image, "Rscript", "-e",
                  "for (p in commandArgs(TRUE)) library(p, character.only=TRUE); cat('ok')",
                  *packages)
    assert proc.stdout.strip().endswith("ok")


@pytest.mark.dockerhub
def test_rstudio_needs_the_password_and_turns_healthy(r_image: str, run_detached, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    os.chown(work, 4242, 4242)
    cid = run_detached("-e", f"PASSWORD={secrets.token_hex(16)}", "-e", "USERID=4242",
                       "-e", "GROUPID=4242", "-v", f"{work}:/home/rstudio/work",
                       "-p", "127.0.0.1::8787", r_image)
    assert wait_healthy(cid) == "healthy", docker("logs", cid).stdout[-2000:]
    base = f"http://127.0.0.1:{host_port(cid, 8787)}"
    status, location = http(f"{base}/")
    assert status == 302 and "auth-sign-in" in location  # no session without the password
    assert docker("exec", cid, "id", "-u", "rstudio").stdout.strip() == "4242"
    docker("exec", "--user", "rstudio", cid, "touch", "/home/rstudio/work/made-in-rstudio")
    assert (work / "made-in-rstudio").stat().st_uid == 4242
