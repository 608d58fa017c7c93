"""Fixtures of the image tests: the images (built once per session) and `container`.

On this project's CI machine there is no Docker Hub: the images build on local
stand-in bases (tests/conftest.py: base_images) and everything that can run on
them runs here. Tests marked dockerhub need the real bases (RStudio Server, CRAN)
and run on GitHub's runners (.github/workflows/images.yml).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from conftest import ROOT

from .containers import build, docker

IMAGES = ROOT / "images"
PY_TAG = "docker-basics/ds-python:test"
R_TAG = "docker-basics/ds-rstudio:test"


@pytest.fixture(scope="session")
def py_image(base_images: dict[str, str]) -> str:
    args = {k: v for k, v in base_images.items() if k in ("PYTHON_BASE", "UV_IMAGE")}
    build(IMAGES / "python-image", PY_TAG, {**args, "VCS_REF": "test"})
    return PY_TAG


@pytest.fixture(scope="session")
def r_image() -> str:
    """The whole rocker image: needs the real rocker/rstudio base (Docker Hub)."""
    build(IMAGES / "rocker", R_TAG, {"VCS_REF": "test"})
    return R_TAG


def _start(started: list[str], *args: str) -> str:
    cid = docker("run", "-d", *args).stdout.strip()
    started.append(cid)
    return cid


@pytest.fixture
def container() -> Iterator[Callable[..., str]]:
    """`container(*docker_run_args)` starts one with docker run -d and returns its ID;
    every container started is removed afterwards, whatever the test did."""
    started: list[str] = []
    yield lambda *args: _start(started, *args)
    for cid in started:
        docker("rm", "-f", cid, check=False)


@pytest.fixture(scope="module")
def module_container() -> Iterator[Callable[..., str]]:
    """The same for a container that several tests of a module look at."""
    started: list[str] = []
    yield lambda *args: _start(started, *args)
    for cid in started:
        docker("rm", "-f", cid, check=False)
