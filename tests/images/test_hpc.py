"""images/hpc/: the Slurm batch script of docs/sharing/hpc.md.

Slurm and Apptainer are not installed here, so the script is checked as far as
it can be without them: shellcheck, every #SBATCH line against the options
list images/hpc/sbatch-options.txt, and a run with a stand-in `apptainer` that
records how it was called. The images workflow's apptainer job runs the script
for real (the page's data-ci="apptainer" blocks).
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

HPC = ROOT / "images" / "hpc"
SCRIPTS = sorted(HPC.glob("*.sbatch"))
BIN = Path(sys.executable).parent
DATA = ROOT / "images" / "analysis-python" / "data"


def allowed_options(path: Path = HPC / "sbatch-options.txt") -> dict[str, re.Pattern[str]]:
    options = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split(maxsplit=1)
            options[name] = re.compile(value.strip())
    return options


def sbatch_problems(text: str, options: dict[str, re.Pattern[str]]) -> list[str]:
    """What sbatch would ignore or refuse in a batch script, one message per line.

    sbatch reads `#SBATCH --option=value` (or `--option value`) lines only until
    the first line that is neither blank nor a comment; later ones are silently
    ignored, which is the mistake most worth catching.
    """
    problems = []
    in_header = True
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if number == 1 and stripped.startswith("#!"):
            continue
        if stripped and not stripped.startswith("#"):
            in_header = False
        if not stripped.startswith("#SBATCH"):
            continue
        if not in_header:
            problems.append(f"line {number}: #SBATCH after the first command is ignored")
            continue
        words = stripped.removeprefix("#SBATCH").split()
        if not words:
            problems.append(f"line {number}: #SBATCH without an option")
            continue
        name, equals, value = words[0].partition("=")
        if not equals and len(words) > 1:
            value = words[1]
        extra = words[1:] if equals else words[2:]
        if extra:
            problems.append(f"line {number}: {' '.join(extra)!r} after the value of {name}")
        elif name not in options:
            problems.append(f"line {number}: {name} is not in images/hpc/sbatch-options.txt")
        elif not options[name].fullmatch(value):
            problems.append(
                f"line {number}: {name}={value!r} does not match {options[name].pattern!r}"
            )
    return problems


def test_there_is_a_batch_script():
    assert SCRIPTS, "no images/hpc/*.sbatch"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck(script: Path):
    proc = subprocess.run(
        [BIN / "shellcheck", "--severity=style", "--shell=bash", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_sbatch_lines_are_known_options_on_top(script: Path):
    text = script.read_text()
    assert "#SBATCH" in text
    assert sbatch_problems(text, allowed_options()) == []


@pytest.mark.parametrize(
    "line, problem",
    [
        ("#SBATCH --mem=2 GB", "'GB' after the value of --mem"),  # a space ends the value
        ("#SBATCH --mem=2GB", "--mem='2GB'"),  # sbatch wants 2G
        ("#SBATCH --tme=00:10:00", "--tme is not in"),
        ("#SBATCH --time=1:75:00", "--time='1:75:00'"),
        ("#SBATCH --cpus-per-task 0", "--cpus-per-task='0'"),
        ("#SBATCH", "without an option"),
        ("set -eu\n#SBATCH --mem=2G", "after the first command"),
    ],
)
def test_the_check_catches(line: str, problem: str):
    problems = sbatch_problems(f"#!/bin/bash\n#SBATCH --job-name=x\n{line}\n", allowed_options())
    assert len(problems) == 1 and problem in problems[0], problems


def test_the_check_accepts_both_spellings():
    text = "#!/bin/bash\n#SBATCH --mem 2G\n#SBATCH --time=1-12:00\n# a comment\n\necho hi\n"
    assert sbatch_problems(text, allowed_options()) == []


# --- the script itself, with a stand-in apptainer ------------------------------


def stand_in(folder: Path, *, with_apptainer: bool = True) -> dict[str, str]:
    """A PATH whose `apptainer` prints its arguments and OMP_NUM_THREADS."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    if with_apptainer:
        fake = bin_dir / "apptainer"
        fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\necho "OMP_NUM_THREADS=$OMP_NUM_THREADS"\n')
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    for tool in ("realpath", "mkdir", "bash"):  # what the script uses besides apptainer
        (bin_dir / tool).symlink_to(
            subprocess.run(
                ["bash", "-c", f"command -v {tool}"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
    return {"PATH": str(bin_dir), "HOME": str(folder), "LANG": "C.UTF-8"}


def run_script(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(HPC / "analysis.sbatch")],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_runs_the_image_with_data_read_only_and_out(tmp_path: Path):
    (tmp_path / "analysis.sif").write_bytes(b"")
    env = {**stand_in(tmp_path), "DATA": str(DATA), "SLURM_CPUS_PER_TASK": "2"}
    proc = run_script(tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "run",
        "--bind",
        f"{DATA.resolve()}:/data:ro,{(tmp_path / 'out').resolve()}:/out",
        "analysis.sif",
        "OMP_NUM_THREADS=2",
    ]
    assert (tmp_path / "out").is_dir()


def test_one_thread_outside_slurm(tmp_path: Path):
    (tmp_path / "my.sif").write_bytes(b"")
    env = {**stand_in(tmp_path), "DATA": str(DATA), "SIF": "my.sif", "OUT": "results"}
    proc = run_script(tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2:] == ["my.sif", "OMP_NUM_THREADS=1"]
    assert (tmp_path / "results").is_dir()


@pytest.mark.parametrize(
    "case, message",
    [
        ("no image", "analysis.sbatch: no image analysis.sif: make it with"),
        ("no data", "analysis.sbatch: no data folder nowhere: set DATA="),
        ("no apptainer", "analysis.sbatch: no apptainer command: on a cluster, try"),
    ],
)
def test_a_missing_piece_is_one_line(tmp_path: Path, case: str, message: str):
    env = {**stand_in(tmp_path, with_apptainer=case != "no apptainer"), "DATA": str(DATA)}
    if case != "no image":
        (tmp_path / "analysis.sif").write_bytes(b"")
    if case == "no data":
        env["DATA"] = "nowhere"
    proc = run_script(tmp_path, env)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(message), proc.stderr
    assert not (tmp_path / "out").exists()


def test_page_includes_the_script_it_describes():
    page = (ROOT / "docs" / "sharing" / "hpc.md").read_text()
    assert '--8<-- "images/hpc/analysis.sbatch"' in page
    assert os.path.getsize(HPC / "analysis.sbatch") > 0
