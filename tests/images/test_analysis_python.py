"""images/analysis-python: both Dockerfiles build, and the containers do what
docs/project/your-analysis.md and the image contract (other pages use it) say.

pytest tests/images/test_analysis_python.py
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import time
import tomllib
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import ROOT
from plugins.skip_policy import skip_unless

from .containers import build, docker


def in_docker(test):
    """Marks a test that builds or runs the images (not while a browser test runs)."""
    return pytest.mark.usefixtures("host_network_quiet")(pytest.mark.docker(pytest.mark.slow(test)))


PROJECT = ROOT / "images" / "analysis-python"
DATA = PROJECT / "data"
TAG = "docker-basics/analysis:test"
NAIVE_TAG = "docker-basics/analysis-naive:test"
OTHER_UID = 4321  # a user that is neither root nor the image's 1000
WROTE = ["wrote /out/summary.csv", "wrote /out/figure.png"]


# --- what the outputs must hold, worked out here without pandas -------------------------


def expected_summary(data: Path = DATA) -> dict[str, tuple[int, float, float, float]]:
    """station -> (days, mean, min, max) from the CSV files, with the standard library."""
    values: dict[str, list[float]] = defaultdict(list)
    for path in sorted(data.glob("*.csv")):
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                values[row["station"]].append(float(row["temperature_c"]))
    return {s: (len(v), statistics.fmean(v), min(v), max(v)) for s, v in sorted(values.items())}


def check_summary(path: Path, data: Path = DATA) -> None:
    """summary.csv has one row per station, in order, with the right figures (means
    rounded to 0.1, however the tool breaks a tie)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and list(rows[0]) == ["station", "days", "mean_c", "min_c", "max_c"], rows[:1]
    expected = expected_summary(data)
    assert [r["station"] for r in rows] == list(expected)
    for row in rows:
        days, mean, low, high = expected[row["station"]]
        assert int(row["days"]) == days, row
        assert abs(float(row["mean_c"]) - mean) <= 0.05 + 1e-9, (row, mean)
        assert (float(row["min_c"]), float(row["max_c"])) == (low, high), row


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


# --- the images -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def analysis_image(base_images: dict[str, str]) -> str:
    args = {k: v for k, v in base_images.items() if k in ("PYTHON_BASE", "UV_IMAGE")}
    build(PROJECT, TAG, args)
    return TAG


@pytest.fixture(scope="session")
def naive_image(docker_hub_names: dict[str, str]) -> str:
    """Dockerfile.naive names python:3.13-slim-trixie (Docker Hub, here its mirror)."""
    build(PROJECT, NAIVE_TAG, {}, "-f", str(PROJECT / "Dockerfile.naive"))
    return NAIVE_TAG


@pytest.fixture
def out(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """An output folder owned by OTHER_UID, as a reader's own folder is theirs (handing
    it to another user needs root)."""
    skip_unless(request.node, {"root"})
    folder = tmp_path / "out"
    folder.mkdir()
    shutil.chown(folder, OTHER_UID, OTHER_UID)
    return folder


def run(image: str, *args: str, data: Path = DATA, out: Path | None = None, check=True):
    mounts = ["-v", f"{data}:/data:ro"] + (["-v", f"{out}:/out"] if out else [])
    return docker("run", "--rm", "--network", "none", *mounts, *args, image, check=check)


# --- the data ---------------------------------------------------------------------------


def test_the_data_is_what_make_data_writes(tmp_path: Path):
    """The data set is generated, not downloaded: make_data.py writes it again, byte for byte."""
    proc = subprocess.run(
        [sys.executable, PROJECT / "make_data.py", tmp_path], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in DATA.glob("*.csv")) and made
    for name in made:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


# --- the better image -------------------------------------------------------------------


@in_docker
def test_writes_table_and_figure_owned_by_the_caller(analysis_image: str, out: Path):
    proc = run(analysis_image, "--user", f"{OTHER_UID}:{OTHER_UID}", out=out)
    assert proc.stdout.splitlines() == WROTE
    assert proc.stderr == ""  # no warning from Matplotlib about its cache folder
    check_summary(out / "summary.csv")
    assert png_size(out / "figure.png") == (700, 400)
    assert sorted(p.name for p in out.iterdir()) == ["figure.png", "summary.csv"]
    for path in out.iterdir():
        assert (path.stat().st_uid, path.stat().st_gid) == (OTHER_UID, OTHER_UID), path


@in_docker
def test_reads_every_csv_file(analysis_image: str, out: Path, tmp_path: Path):
    """A station added as one more file is in the table; other files are ignored."""
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    (data / "harbour.csv").write_text(
        "date,station,temperature_c\n2025-01-01,harbour,3.5\n2025-01-02,harbour,4.5\n"
    )
    (data / "notes.txt").write_text("not data\n")
    run(analysis_image, "--user", f"{OTHER_UID}:{OTHER_UID}", data=data, out=out)
    check_summary(out / "summary.csv", data)
    assert "harbour,2,4.0,3.5,4.5" in (out / "summary.csv").read_text().splitlines()


@in_docker
def test_runs_on_a_read_only_root_filesystem(analysis_image: str, out: Path):
    proc = run(analysis_image, "--read-only", "--user", f"{OTHER_UID}:{OTHER_UID}", out=out)
    assert proc.stdout.splitlines() == WROTE and proc.stderr == ""
    check_summary(out / "summary.csv")


@in_docker
def test_default_user_is_not_root(analysis_image: str):
    assert docker("inspect", "-f", "{{.Config.User}}", analysis_image).stdout.strip() == "1000:1000"
    proc = docker("run", "--rm", "--entrypoint", "id", analysis_image, "-u")
    assert proc.stdout.strip() == "1000"


@in_docker
def test_labels_say_where_the_source_is(analysis_image: str):
    labels = json.loads(docker("inspect", "-f", "{{json .Config.Labels}}", analysis_image).stdout)
    assert labels["org.opencontainers.image.source"].startswith("https://github.com/"), labels
    assert labels["org.opencontainers.image.licenses"] == "MIT"
    # The Dockerfile's own, which the images workflow must not replace with its defaults.
    assert labels["org.opencontainers.image.title"] == "docker-basics analysis"


@in_docker
def test_installs_exactly_the_locked_versions(analysis_image: str):
    lock = tomllib.loads((PROJECT / "uv.lock").read_text())
    locked = {p["name"]: p["version"] for p in lock["package"] if p["name"] != "analysis"}
    code = (
        "import importlib.metadata as m; "
        "print(*(d.name + '=' + d.version for d in m.distributions()))"
    )
    proc = docker("run", "--rm", "--entrypoint", "python", analysis_image, "-c", code)
    installed = dict(item.lower().split("=") for item in proc.stdout.split())
    assert installed == locked


@in_docker
def test_no_uv_and_no_compiler_in_the_image(analysis_image: str):
    proc = docker(
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        analysis_image,
        "-c",
        "for t in uv gcc cc pip; do command -v $t || true; done",
    )
    assert proc.stdout.split() == []


@in_docker
def test_no_setuid_or_setgid_programs(analysis_image: str, python_base: str):
    # As root, so that find sees every folder. The base has some: the check can fail.
    find = ["find", "/", "-xdev", "-type", "f", "-perm", "/6000"]
    assert docker("run", "--rm", "--user", "0", python_base, *find).stdout
    proc = docker("run", "--rm", "--user", "0", "--entrypoint", "find", analysis_image, *find[1:])
    assert proc.stdout == ""


@in_docker
def test_nothing_in_the_venv_is_writable_by_everyone(analysis_image: str):
    """uv makes its lock file, /opt/venv/.lock, mode 666: the image must not keep it so."""
    find = ["/opt/venv", "-perm", "-o+w", "!", "-type", "l"]
    proc = docker("run", "--rm", "--user", "0", "--entrypoint", "find", analysis_image, *find)
    assert proc.stdout == ""


@in_docker
@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no-csv", "analysis: no CSV file in /data: "),
        ("out-not-writable", "analysis: cannot write to /out "),
    ],
)
def test_bad_mounts_are_one_line_and_exit_1(analysis_image: str, tmp_path: Path, setup, message,
                                           request: pytest.FixtureRequest):
    data, out = DATA, tmp_path / "out"
    out.mkdir()  # owned by root, mode 755: not writable for OTHER_UID
    if setup == "no-csv":
        data = tmp_path / "empty"
        data.mkdir()
        skip_unless(request.node, {"root"})  # hands the folder to another user
        shutil.chown(out, OTHER_UID, OTHER_UID)
    proc = run(
        analysis_image, "--user", f"{OTHER_UID}:{OTHER_UID}", data=data, out=out, check=False
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(message), proc.stderr
    assert list(out.iterdir()) == []


@in_docker
def test_a_wrong_command_line_exits_2(analysis_image: str):
    proc = docker("run", "--rm", analysis_image, "--help", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("analysis: usage: "), proc.stderr


@in_docker
def test_docker_stop_ends_it_at_once_and_leaves_no_half_written_file(
    analysis_image: str, out: Path
):
    """As PID 1, a process without a SIGTERM handler ignores docker stop for 10 s."""
    name = f"analysis-stop-test-{time.monotonic_ns()}"
    docker(
        "run",
        "-d",
        "--name",
        name,
        "--user",
        f"{OTHER_UID}:{OTHER_UID}",
        "--network",
        "none",
        "-v",
        f"{DATA}:/data:ro",
        "-v",
        f"{out}:/out",
        analysis_image,
    )
    try:
        time.sleep(0.5)  # Python has started and set its handler; pandas is still loading
        start = time.monotonic()
        docker("stop", "-t", "20", name)
        stopped_in = time.monotonic() - start
        status = docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip()
    finally:
        docker("rm", "-f", name, check=False)
    assert status == "143" and stopped_in < 5, (status, stopped_in)
    # Stopped part-way: whatever is there is whole (each file is written beside its
    # target and renamed), and no temporary file is left. How far it got depends on the
    # machine's speed, so both "nothing yet" and "the table but not the figure" occur.
    left = sorted(p.name for p in out.iterdir())
    assert left in ([], ["summary.csv"], ["figure.png", "summary.csv"]), left
    if "summary.csv" in left:
        check_summary(out / "summary.csv")
    if "figure.png" in left:
        assert (out / "figure.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@in_docker
def test_code_change_reuses_the_installed_packages(base_images: dict[str, str], tmp_path: Path):
    """The point of the layer order: after an edit of analysis.py only the last layers
    are rebuilt; the packages come from the cache."""
    context = tmp_path / "context"
    shutil.copytree(PROJECT, context)
    args = {k: v for k, v in base_images.items() if k in ("PYTHON_BASE", "UV_IMAGE")}
    tag = f"docker-basics/analysis-cache-test:{time.monotonic_ns()}"
    try:
        build(context, tag, args)
        with open(context / "analysis.py", "a") as f:
            f.write(f"# an edit {uuid.uuid4().hex}\n")  # never built before: not in the cache
        log = build_log(context, tag, args)
    finally:
        docker("rmi", tag, check=False)
    sync = [line for line in log.splitlines() if "uv sync" in line]
    copy = [line for line in log.splitlines() if "COPY analysis.py" in line]
    assert sync and copy, log[-3000:]
    step = sync[0].split()[0]  # "#9"
    assert f"{step} CACHED" in log, log[-3000:]
    copy_step = copy[0].split()[0]
    assert f"{copy_step} CACHED" not in log, log[-3000:]


def build_log(context: Path, tag: str, args: dict[str, str]) -> str:
    proc = subprocess.run(
        [
            "docker",
            "build",
            "--progress=plain",
            *(f"--build-arg={k}={v}" for k, v in args.items()),
            "-t",
            tag,
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


# --- the naive image, shown first on the page ---------------------------------------------


@in_docker
def test_naive_image_works_but_runs_as_root(naive_image: str, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    proc = run(naive_image, out=out)
    assert proc.stdout.splitlines() == WROTE
    check_summary(out / "summary.csv")
    assert png_size(out / "figure.png") == (700, 400)
    # the problems the page names: root in the container, so root's files outside
    assert docker("inspect", "-f", "{{.Config.User}}", naive_image).stdout.strip() == ""
    assert {p.stat().st_uid for p in out.iterdir()} == {0}
