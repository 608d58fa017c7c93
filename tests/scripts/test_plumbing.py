"""scripts/plumbing.py: the rules every script shares (stop signals, one-line errors,
lost output, children that die with the script), through the scripts that use them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest
from helpers import (
    PY,
    SCRIPTS,
    marker,
    processes_with,
    script,
    signalled_inside,
    still_running,
    stop_at,
)


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


def test_a_background_job_keeps_ignoring_ctrl_c():
    """Started with SIGINT ignored (`cmd &` in a script), the script ignores it too."""
    proc = subprocess.Popen(
        [PY, "-c", "import plumbing; print(sorted(int(s) for s in plumbing.Stop.ignored))"],
        cwd=SCRIPTS,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert proc.communicate(timeout=30)[0] == f"[{int(signal.SIGINT)}]\n"


@pytest.mark.root
@pytest.mark.parametrize(
    "before",
    [["cgroups.py", "--memory", "64M", "--"], ["namespaces.py", "run", "--"]],
    ids=["cgroups.py", "namespaces.py"],
)
def test_the_command_does_not_inherit_python_s_ignored_sigpipe(before: list[str]):
    """Python ignores SIGPIPE for itself; a command exec'd without resetting it would
    write 'Broken pipe' errors where it should end quietly (`yes | head`)."""
    proc = script(*before, "grep", "SigIgn", "/proc/self/status")
    assert proc.returncode == 0, proc.stderr
    ignored = int(proc.stdout.split()[1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1) | 1 << (signal.SIGXFSZ - 1)), proc.stdout
