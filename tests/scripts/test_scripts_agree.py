"""What the scripts say and return for the same failure must agree. Their shared rules
are one code (scripts/plumbing.py); these check what can still differ: each script's
own command line, and how each reaches the shared code."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess

import pytest
from helpers import (
    PY,
    SCRIPTS,
    SYSTEM_PYTHON,
    marker,
    processes_with,
    script,
    signalled_inside,
    still_running,
    stop_at,
)

ALL = ["cgroups.py", "chroot_escape.py", "create_sandbox.py", "limits_report.py",
       "minicontainer.py", "namespaces.py"]  # fmt: skip


def test_every_script_is_tested_here():
    teaching = {p.name for p in SCRIPTS.glob("*.py")} - {"plumbing.py"}
    assert teaching == set(ALL)


UNKNOWN_FLAG = {name: ["--no-such-flag"] for name in ALL} | {
    "namespaces.py": ["show", "-x"],
    "create_sandbox.py": ["box", "-x"],
}


@pytest.mark.parametrize("name", ALL)
def test_unknown_flag_is_125_as_in_docker_run(name: str):
    proc = script(name, *UNKNOWN_FLAG[name])
    assert proc.returncode == 125, proc.stderr
    assert re.fullmatch(rf"{name}( \w+)?: unrecognized arguments: \S+ \(see --help\)\n",
                        proc.stderr)  # fmt: skip


@pytest.mark.parametrize("name", ALL)
def test_help(name: str):
    proc = script(name, "--help")
    assert proc.returncode == 0 and proc.stdout.startswith(f"usage: {name}"), proc.stderr
    assert "%%" not in proc.stdout  # argparse leaves %% as it is in an epilog without %(prog)


@pytest.mark.skipif(not shutil.which("strace"), reason="needs strace")
@pytest.mark.parametrize("name", ALL)
def test_stop_signals_are_held_back_before_anything_slow_is_imported(name: str):
    """A Ctrl-C while `import signal` loaded enum (~3 ms) ended in a KeyboardInterrupt
    traceback, a SIGTERM then in no word at all: the first line now blocks both with the
    C module _signal, before the first module the script itself imports (enum)."""
    proc = subprocess.run(
        ["strace", "-e", "trace=rt_sigprocmask,openat", SYSTEM_PYTHON, SCRIPTS / name, "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    calls = proc.stderr.splitlines()
    block = next(
        i
        for i, c in enumerate(calls)
        if re.match(r"rt_sigprocmask\(SIG_BLOCK, \[HUP INT TERM\]", c)
    )
    enum = next((i for i, c in enumerate(calls) if "/enum." in c), len(calls))  # or none
    assert block < enum, calls[: enum + 1]


@pytest.mark.parametrize(
    "flag",
    [["--memory", "0"], ["--memory", "1e3"], ["--pids-limit", "0"], ["--cpus", "nan"],
     ["--cpus", "٢"], ["--cpus", "0.2_5"], ["--pids-limit", "٢٢"]],
)  # fmt: skip
def test_cgroups_and_minicontainer_check_limits_alike(flag: list[str]):
    ours = script("cgroups.py", *flag, "--", "true")
    mini = script("minicontainer.py", *flag, "/", "true")
    assert ours.returncode == mini.returncode == 125
    assert ours.stderr.replace("cgroups.py", "X") == mini.stderr.replace("minicontainer.py", "X")


@pytest.mark.root
@pytest.mark.parametrize(
    ("command", "status"), [(["cd", "/"], 127), (["no-such-thing"], 127), ([""], 127)]
)
def test_a_command_that_cannot_run_is_said_alike(command: list[str], status: int, tmp_path):
    box = tmp_path / "box"
    assert script("create_sandbox.py", box, "-c", "true").returncode == 0
    runs = {
        "cgroups.py": ["--memory", "64M", "--"],
        "namespaces.py": ["run", "--"],
        "minicontainer.py": [box],
        "create_sandbox.py": ["--enter", box, "--"],
    }
    said = set()
    for name, before in runs.items():
        proc = script(name, *before, *command)
        assert proc.returncode == status, (name, proc.stderr)
        said.add(proc.stderr.removeprefix(name))
    assert len(said) == 1, said


@pytest.mark.root
@pytest.mark.parametrize("name", ["cgroups.py", "namespaces.py", "minicontainer.py",
                                  "create_sandbox.py"])  # fmt: skip
def test_a_closed_terminal_stops_the_command_and_removes_everything(name: str, tmp_path):
    """SIGHUP (a terminal closed, an ssh connection lost) ended the script at once: its
    command ran on, and cgroups.py's and minicontainer.py's cgroups stayed behind."""
    sleep = marker()
    box = tmp_path / "box"
    if name in ("minicontainer.py", "create_sandbox.py"):
        assert script("create_sandbox.py", box, "-c", "sleep").returncode == 0
    before = {
        "cgroups.py": ["--pids-limit", "9", "--"],
        "namespaces.py": ["run", "--"],
        "minicontainer.py": ["--pids-limit", "9", box],
        "create_sandbox.py": ["--enter", box, "--"],
    }[name]
    stop = stop_at([PY, SCRIPTS / name, *before, "sleep", sleep], signal.SIGHUP,
                   running=lambda: processes_with(f"sleep {sleep}"))  # fmt: skip
    assert stop.returncode == 129, stop.stderr
    assert stop.stderr.startswith(f"{name}: stopped by SIGHUP (the terminal closed); ")
    assert stop.stderr.count("\n") == 1
    assert still_running(sleep) == [] and stop.cgroups_left == []


def test_limits_report_stops_on_sighup_too():
    proc = signalled_inside("limits_report.py", [], "os.sched_getaffinity", signal.SIGHUP)
    assert (proc.returncode, proc.stderr) == (
        129,
        "limits_report.py: stopped by SIGHUP (the terminal closed)\n",
    )


@pytest.mark.root
@pytest.mark.skipif(not shutil.which("unshare"), reason="needs unshare(1)")
def test_a_mount_point_whose_name_is_not_utf8(tmp_path):
    """/proc/self/mountinfo was read as UTF-8: a USB stick named in Latin-1 ('caf\\xe9')
    mounted anywhere made cgroups.py, minicontainer.py and limits_report.py end in a
    UnicodeDecodeError traceback. Here it is mounted in a private mount namespace."""
    box = tmp_path / "box"
    assert script("create_sandbox.py", box, "-c", "true").returncode == 0
    stick = os.fsencode(tmp_path) + b"/caf\xe9"
    os.mkdir(stick)
    for run in (["cgroups.py", "--memory", "64M", "--", "true"], ["limits_report.py"],
                ["minicontainer.py", "--memory", "64M", box, "true"]):  # fmt: skip
        proc = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs stick "$0" && exec "$@"', stick, PY, SCRIPTS / run[0], *run[1:]],
            capture_output=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, (run[0], proc.stderr.decode(errors="replace")[-300:])


@pytest.mark.parametrize(
    "args",
    [["minicontainer.py", "box", "true"], ["minicontainer.py", "-v", "box:/tmp", "/", "true"],
     ["create_sandbox.py", "box"], ["create_sandbox.py", "--enter", "box"]],
    ids=["minicontainer rootfs", "minicontainer -v", "create_sandbox", "create_sandbox --enter"],
)  # fmt: skip
def test_a_working_directory_that_was_deleted(args: list[str], tmp_path):
    """It said 'No such file or directory' of nothing in particular (os.getcwd() failed),
    and minicontainer.py -v .:/data ended in a traceback."""
    gone = tmp_path / "gone"
    gone.mkdir()
    proc = subprocess.run(
        ["sh", "-c", 'rmdir "$PWD" && exec "$@"', "sh", PY, SCRIPTS / args[0], *args[1:]],
        cwd=gone, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 125, proc.stderr
    assert "cannot find box: the working directory was deleted" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


OUTPUT = {
    "cgroups.py --version": ["cgroups.py", "--version"],
    "cgroups.py report": ["cgroups.py", "--memory", "64M", "--", "true"],
    "namespaces.py show": ["namespaces.py", "show"],
    "limits_report.py": ["limits_report.py"],
    "create_sandbox.py": ["create_sandbox.py", "{tmp}/box", "-c", "true"],
    "chroot_escape.py": ["chroot_escape.py"],
    "minicontainer.py --help": ["minicontainer.py", "--help"],
}


@pytest.mark.root
@pytest.mark.parametrize("args", OUTPUT.values(), ids=OUTPUT.keys())
def test_output_to_a_full_disk(args: list[str], tmp_path):
    """`> /dev/full` (writes fail: no space left) ended these in a traceback, then in a
    failure (125) of work that was done. The rule (plumbing.py): the work's own status,
    and one line saying the output was lost."""
    args = [a.format(tmp=tmp_path) for a in args]
    with open("/dev/full", "w") as full:
        proc = subprocess.run([PY, SCRIPTS / args[0], *args[1:]], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)  # fmt: skip
    assert (proc.returncode, proc.stderr) == (
        0,
        f"{args[0]}: cannot write the output: No space left on device\n",
    )


@pytest.mark.root
@pytest.mark.parametrize("args", OUTPUT.values(), ids=OUTPUT.keys())
def test_a_reader_that_reads_nothing(args: list[str], tmp_path):
    """`| head -0`: the reader closed the pipe, which is how it says "enough". The work is
    done: nothing to say, and the work's own status."""
    args = [a.format(tmp=tmp_path) for a in args]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([PY, SCRIPTS / args[0], *args[1:]], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)  # fmt: skip
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (0, "")
    if args[0] == "create_sandbox.py":
        assert (tmp_path / "box" / "usr").is_dir()  # built whole all the same


@pytest.mark.root
def test_namespaces_py_where_it_may_not_fork():
    """Under a limit of one process (its own) it ended in a BlockingIOError traceback."""
    proc = script("cgroups.py", "--pids-limit", "1", "--", PY, SCRIPTS / "namespaces.py", "run",
                  "--", "true")  # fmt: skip
    assert proc.returncode == 125
    assert proc.stderr == "namespaces.py: Resource temporarily unavailable\n"
