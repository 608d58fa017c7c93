"""images/rocker: what builds on the stand-in here, and on GitHub the whole image.

    pytest tests/images/test_rocker.py

Without Docker Hub, the rocker Dockerfile's system stage builds on a stand-in (Debian
with R: tests/conftest.py base_images) and install_packages.sh's load check runs on
it. Tests marked dockerhub need the real rocker/rstudio (RStudio Server, CRAN).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import IMAGES
from .containers import (
    MEMORY_MAX,
    PIDS_MAX,
    RSTUDIO_CAPS,
    RSTUDIO_HARDENED,
    build,
    docker,
    host_port,
    http,
    proc_status,
    wait_healthy,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("host_network_quiet")]

SYSTEM_TAG = "docker-basics/ds-rstudio:system-test"
SETUID_FILES = ["find", "/", "-xdev", "-type", "f", "-perm", "/6000"]
# Linux capability numbers (linux/capability.h) of RSTUDIO_CAPS.
CAP_BITS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "KILL": 5, "SETGID": 6, "SETUID": 7}


@pytest.fixture(scope="module")
def system_stage(base_images: dict[str, str]) -> str:
    """The apt layer of images/rocker/Dockerfile, on the stand-in where there is no Hub."""
    args = {k: v for k, v in base_images.items() if k == "ROCKER_BASE"}
    build(IMAGES / "rocker", SYSTEM_TAG, args, "--target", "system")
    return SYSTEM_TAG


def test_system_stage_has_the_tools(system_stage: str):
    proc = docker(
        "run",
        "--rm",
        system_stage,
        "sh",
        "-c",
        "for t in ffmpeg curl gdal-config geos-config; do command -v $t; done",
    )
    assert len(proc.stdout.split()) == 4


def test_system_stage_has_no_setuid_or_setgid_programs(
    system_stage: str, base_images: dict[str, str]
):
    base = base_images.get("ROCKER_BASE")
    if base:  # the stand-in has some (su, passwd): the check can fail
        assert docker("run", "--rm", base, *SETUID_FILES).stdout
    assert docker("run", "--rm", system_stage, *SETUID_FILES).stdout == ""


def test_load_check_loads_and_fails_loudly(
    base_images: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest
):
    """install_packages.sh's smoke check, with R: on the stand-in (whose Debian R has these
    packages) here, on the full image where Docker Hub answers."""
    image = base_images.get("ROCKER_BASE") or request.getfixturevalue("r_image")
    script = IMAGES / "rocker" / "install_packages.sh"
    (tmp_path / "ok.txt").write_text("# debian has these\nsf\ntm\nigraph\nshiny\n")
    (tmp_path / "missing.txt").write_text("shiny\nnot.a.package\n")
    mounts = ["-v", f"{script}:/check.sh:ro", "-v", f"{tmp_path}:/lists:ro", "-e", "SKIP_INSTALL=1"]
    ok = docker("run", "--rm", *mounts, image, "bash", "/check.sh", "/lists/ok.txt")
    assert ok.stdout.strip() == "loaded: sf tm igraph shiny"
    bad = docker(
        "run", "--rm", *mounts, image, "bash", "/check.sh", "/lists/missing.txt", check=False
    )
    assert bad.returncode != 0 and "not.a.package" in bad.stderr


# --- the whole image: GitHub's runners ---------------------------------------------


@pytest.mark.dockerhub
def test_loads_every_package(r_image: str):
    lines = (IMAGES / "rocker" / "packages.txt").read_text().splitlines()
    packages = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    proc = docker(
        "run",
        "--rm",
        r_image,
        "Rscript",
        "-e",
        "for (p in commandArgs(TRUE)) library(p, character.only=TRUE); cat('ok')",
        *packages,
    )
    assert proc.stdout.strip().endswith("ok")


@pytest.mark.dockerhub
def test_no_setuid_or_setgid_programs(r_image: str):
    assert docker("run", "--rm", r_image, *SETUID_FILES).stdout == ""


@pytest.mark.dockerhub
def test_rstudio_hardened_needs_the_password_and_turns_healthy(
    r_image: str, container: Callable, tmp_path: Path
):
    """With the run options docs/data-science/rocker.md recommends, each shown to be in force."""
    work = tmp_path / "work"
    work.mkdir()
    os.chown(work, 4242, 4242)
    cid = container(
        *RSTUDIO_HARDENED,
        "-e",
        f"PASSWORD={secrets.token_hex(16)}",
        "-e",
        "USERID=4242",
        "-e",
        "GROUPID=4242",
        "-v",
        f"{work}:/home/rstudio/work",
        "-p",
        "127.0.0.1::8787",
        r_image,
    )
    assert wait_healthy(cid) == "healthy", docker("logs", cid).stdout[-2000:]
    base = f"http://127.0.0.1:{host_port(cid, 8787)}"
    status, location = http(f"{base}/")
    assert status == 302 and "auth-sign-in" in location  # no session without the password
    assert docker("exec", cid, "id", "-u", "rstudio").stdout.strip() == "4242"
    docker("exec", "--user", "rstudio", cid, "touch", "/home/rstudio/work/made-in-rstudio")
    assert (work / "made-in-rstudio").stat().st_uid == 4242
    # Only the capabilities kept, no new privileges, and the limits.
    wanted = f"{sum(1 << CAP_BITS[c] for c in RSTUDIO_CAPS):016x}"
    assert proc_status(cid, "CapBnd", "NoNewPrivs") == {"CapBnd": wanted, "NoNewPrivs": "1"}
    assert docker("exec", cid, "sh", "-c", PIDS_MAX).stdout.split() == ["1024"]
    assert docker("exec", cid, "sh", "-c", MEMORY_MAX).stdout.split() == [str(4 * 2**30)]
