"""images/analysis-r: the R twin of the example analysis.

Here (no Docker Hub, no CRAN or Posit Package Manager): analysis.R runs in full
with Debian's R (base R is all it needs), and the lock file and the Dockerfile's
pins are checked as files. On GitHub's runners (dockerhub) the image is built on
the real rocker/r-ver, renv::restore() installs the lock file, and the container
must write the same table as the Python image.

pytest tests/images/test_analysis_r.py
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT

from .containers import build, docker
from .test_analysis_python import DATA, OTHER_UID, check_summary, png_size

PROJECT = ROOT / "images" / "analysis-r"
SCRIPT = PROJECT / "analysis.R"
TAG = "docker-basics/analysis-r:test"
RSCRIPT = shutil.which("Rscript")
needs_r = pytest.mark.skipif(
    RSCRIPT is None, reason="needs R's Rscript (Debian: apt-get install r-base-core)"
)


def rscript(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RSCRIPT, "--vanilla", SCRIPT, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- the R code, with Debian's R ----------------------------------------------------------


@needs_r
def test_writes_the_same_table_as_the_python_analysis(tmp_path: Path):
    out = tmp_path / "out"
    proc = rscript(DATA, out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"wrote {out}/summary.csv", f"wrote {out}/figure.png"]
    check_summary(out / "summary.csv")
    assert png_size(out / "figure.png") == (700, 400)
    assert sorted(p.name for p in out.iterdir()) == ["figure.png", "summary.csv"]


@needs_r
@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        ("no-csv", 1, "analysis: no CSV file in "),
        ("bad-column", 1, "analysis: "),
        ("not-writable", 1, "analysis: cannot write to "),
        ("usage", 2, "analysis: usage: "),
    ],
)
def test_problems_are_one_line(tmp_path: Path, case: str, status: int, message: str):
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    args: list[object] = [data, out]
    if case == "bad-column":
        (data / "x.csv").write_text("day,station,temp\n2025-01-01,a,1\n")
    if case == "not-writable":
        args = [DATA, "/proc/no-such-folder"]
    if case == "usage":
        args = ["--help"]
    proc = rscript(*args)
    assert proc.returncode == status, proc.stdout + proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(message), proc.stderr
    if case == "bad-column":
        assert "has no column date, temperature_c" in proc.stderr
    assert not out.exists() or list(out.iterdir()) == []


# --- the lock file and the pins, as files --------------------------------------------------


def rocker_pin() -> tuple[str, str]:
    match = re.search(
        r"^FROM rocker/r-ver:(\d+\.\d+\.\d+)@sha256:([0-9a-f]{64}) AS rocker-pinned$",
        (PROJECT / "Dockerfile").read_text(),
        re.MULTILINE,
    )
    assert match, "the Dockerfile must pin rocker/r-ver by tag and digest"
    return match[1], match[2]


def test_lock_file_matches_the_image():
    lock = json.loads((PROJECT / "renv.lock").read_text())
    r_version, _ = rocker_pin()
    assert lock["R"]["Version"] == r_version  # the R of the lock file is the image's R
    # Posit Package Manager, a dated snapshot of binaries for the image's Ubuntu
    [repo] = lock["R"]["Repositories"]
    assert re.fullmatch(r"https://p3m\.dev/cran/__linux__/noble/\d{4}-\d{2}-\d{2}", repo["URL"])
    for name, record in lock["Packages"].items():
        assert record["Package"] == name and re.fullmatch(r"\d+(\.\d+)+", record["Version"])
        assert record["Source"] == "Repository" and record["Repository"] == repo["Name"]
    assert "renv" in lock["Packages"]  # restore() keeps renv itself at the locked version


def test_every_package_the_script_loads_is_locked():
    code = SCRIPT.read_text()
    loaded = set(re.findall(r"\b(?:library|require|requireNamespace)\(\"?(\w[\w.]*)", code))
    loaded |= set(re.findall(r"\b(\w[\w.]*)::", code))
    base = {"base", "utils", "stats", "graphics", "grDevices", "methods", "tools"}
    locked = set(json.loads((PROJECT / "renv.lock").read_text())["Packages"])
    assert loaded - base <= locked


@needs_r
def test_the_r_code_parses_with_debian_r():
    proc = subprocess.run(
        [RSCRIPT, "--vanilla", "-e", f'invisible(parse("{SCRIPT}")); cat("ok")'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout == "ok", proc.stderr


# --- the image: GitHub's runners ------------------------------------------------------------


@pytest.fixture(scope="session")
def r_analysis_image() -> str:
    build(PROJECT, TAG, {})
    return TAG


@pytest.mark.docker
@pytest.mark.dockerhub
@pytest.mark.usefixtures("host_network_quiet")
@pytest.mark.slow
def test_image_restores_the_lock_and_writes_the_table(r_analysis_image: str, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    shutil.chown(out, OTHER_UID, OTHER_UID)
    proc = docker(
        "run",
        "--rm",
        "--user",
        f"{OTHER_UID}:{OTHER_UID}",
        "-v",
        f"{DATA}:/data:ro",
        "-v",
        f"{out}:/out",
        r_analysis_image,
    )
    assert proc.stdout.splitlines() == ["wrote /out/summary.csv", "wrote /out/figure.png"]
    check_summary(out / "summary.csv")
    assert png_size(out / "figure.png") == (700, 400)
    assert {p.stat().st_uid for p in out.iterdir()} == {OTHER_UID}
    lock = json.loads((PROJECT / "renv.lock").read_text())
    versions = docker(
        "run",
        "--rm",
        "--entrypoint",
        "Rscript",
        r_analysis_image,
        "-e",
        'cat(as.character(getRversion()), as.character(packageVersion("renv")))',
    )
    assert versions.stdout.split() == [lock["R"]["Version"], lock["Packages"]["renv"]["Version"]]
    assert (
        docker("inspect", "-f", "{{.Config.User}}", r_analysis_image).stdout.strip() == "1000:1000"
    )
