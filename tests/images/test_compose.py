"""compose.yaml and the docs' `docker run` lines use the run options the image tests check.

    pytest tests/images/test_compose.py     (no Docker needed)

compose.yaml itself runs on GitHub's runners (.github/workflows/images.yml); its
schema is checked by tests/test_lint.py.
"""

from __future__ import annotations

import re

import pytest
import yaml
from conftest import ROOT

from .containers import PYTHON_HARDENED, RSTUDIO_CAPS, RSTUDIO_HARDENED

COMPOSE = yaml.safe_load((ROOT / "images" / "compose.yaml").read_text())["services"]


def as_compose(options: list[str]) -> dict[str, object]:
    """docker run options as the compose.yaml keys that say the same."""
    keys: dict[str, object] = {}
    args = iter(options)
    for opt in args:
        if opt == "--read-only":
            keys["read_only"] = True
        elif opt == "--tmpfs":
            keys.setdefault("tmpfs", []).append(next(args))
        elif opt == "--cap-drop":
            keys.setdefault("cap_drop", []).append(next(args))
        elif opt == "--cap-add":
            keys.setdefault("cap_add", []).append(next(args))
        elif opt == "--security-opt":
            keys.setdefault("security_opt", []).append(next(args) + ":true")
        elif opt == "--pids-limit":
            keys["pids_limit"] = int(next(args))
        elif opt == "--memory":
            keys["mem_limit"] = next(args)
        else:
            raise ValueError(opt)
    return keys


@pytest.mark.parametrize(
    ("service", "options"), [("jupyter", PYTHON_HARDENED), ("rstudio", RSTUDIO_HARDENED)]
)
def test_compose_sets_the_tested_run_options(service: str, options: list[str]):
    settings = COMPOSE[service]
    for key, value in as_compose(options).items():
        assert settings.get(key) == value, f"{service}: {key}"


def test_rstudio_keeps_a_writable_root():
    assert "read_only" not in COMPOSE["rstudio"]
    assert sorted(COMPOSE["rstudio"]["cap_add"]) == sorted(RSTUDIO_CAPS)


@pytest.mark.parametrize(
    ("page", "name", "options"),
    [("data-science/python-image.md", "jupyter", PYTHON_HARDENED),
     ("data-science/rocker.md", "rstudio", RSTUDIO_HARDENED)],
)
def test_the_docs_run_it_with_these_options(page: str, name: str, options: list[str]):
    text = (ROOT / "docs" / page).read_text()
    run = text.split(f"$ docker run -d --name {name}", 1)[1].split("\n$ ", 1)[0]
    words = " ".join(run.replace("\\\n", " ").split())
    assert " ".join(options) in words, run


@pytest.mark.parametrize(
    ("dockerfile", "arg"),
    [("python-image", "PYTHON_BASE"), ("python-image", "UV_IMAGE"), ("rocker", "ROCKER_BASE")],
)
def test_bases_are_pinned_by_tag_and_digest(dockerfile: str, arg: str):
    text = (ROOT / "images" / dockerfile / "Dockerfile").read_text()
    value = re.search(rf"^ARG {arg}=(\S+)$", text, re.MULTILINE)[1]
    # The default is the image, or the name of a stage that is FROM the image.
    stage = re.search(rf"^FROM (\S+) AS {re.escape(value)}$", text, re.MULTILINE)
    image = stage[1] if stage else value
    assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", image), image
