"""scripts/cgroups.py: limits the kernel enforces, bad input, and stopping it by signal.

Nothing may be left behind: each signal test checks the script's own cgroups
and command, and conftest.py counts cgroups, mounts and processes before and
after the whole suite.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import cgroups
import plumbing
import pytest
from helpers import (
    GRACE,
    NOBODY,
    PY,
    SCRIPTS,
    ctrl_c_on_a_terminal,
    marker,
    one_line,
    processes_with,
    script,
    still_running,
    stop_at,
)

FORK_BOMB = """
import os, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError as exc:
    print(f"fork refused after {n} children: {exc.strerror}")
"""


# --- the limits, for real -----------------------------------------------------------


@pytest.mark.root
def test_memory_limit_ends_in_an_oom_kill():
    proc = script("cgroups.py", "--memory", "64M", "--", PY, "-c", "b = b'x' * 300_000_000")
    assert proc.returncode == 137, proc.stderr
    assert proc.stdout.splitlines() == [
        "the command was killed by SIGKILL (the OOM killer's signal)",
        "memory: limit 67108864 bytes, OOM kills: 1",
    ]


@pytest.mark.root
def test_pids_limit_stops_a_fork_bomb_and_we_survive():
    start = time.monotonic()
    proc = script("cgroups.py", "--pids-limit", "16", "--", PY, "-c", FORK_BOMB)
    assert proc.returncode == 0, proc.stderr
    assert "fork refused after 15 children: Resource temporarily unavailable" in proc.stdout
    assert re.search(r"forks refused: [1-9]", proc.stdout)
    assert subprocess.run(["true"]).returncode == 0  # the host still forks, and quickly
    assert time.monotonic() - start < 30


@pytest.mark.root
def test_cpu_quota_throttles_a_busy_loop():
    busy = (
        "import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end: pass\n"
        "print(time.process_time())"
    )
    proc = script("cgroups.py", "--cpus", "0.2", "--", PY, "-c", busy)
    assert proc.returncode == 0, proc.stderr
    cpu_time, report = proc.stdout.splitlines()
    assert float(cpu_time) < 0.2 * 1.5 + 0.2  # 1.5 s of CPU time without the quota
    m = re.search(r"periods: (\d+), throttled: (\d+) \(([\d.]+) s\)", report)
    assert m and int(m[2]) >= 5, report


@pytest.mark.root
def test_timeout_stops_the_command():
    proc = script("cgroups.py", "--memory", "64M", "--timeout", "0.5", "--", "sleep", marker())
    assert proc.returncode == 137
    assert proc.stderr == "cgroups.py: stopped the command after 0.5 s\n"


@pytest.mark.root
def test_the_command_gets_signals_again():
    """cgroups.py holds SIGINT and SIGTERM back; the command must not inherit that."""
    proc = script("cgroups.py", "--memory", "64M", "--", "grep", "SigBlk", "/proc/self/status")
    assert proc.returncode == 0, proc.stderr
    blocked = int(proc.stdout.split("SigBlk:")[1].split()[0], 16)
    assert not blocked & (1 << (signal.SIGINT - 1) | 1 << (signal.SIGTERM - 1))


# --- v1 and v2, on a host and in a container: fake trees ------------------------------


def fake_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cgroup: str, mountinfo: str):
    (tmp_path / "cgroup").write_text(cgroup)
    (tmp_path / "mountinfo").write_text(mountinfo)
    monkeypatch.setattr(cgroups, "SELF_CGROUP", str(tmp_path / "cgroup"))
    monkeypatch.setattr(cgroups, "MOUNTINFO", str(tmp_path / "mountinfo"))


def test_cgroup_v2_layout_with_a_fake_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The v2 code path (GitHub's runners run it for real) against a fake /sys/fs/cgroup."""
    tree = tmp_path / "sys-fs-cgroup"
    (tree / "user.slice").mkdir(parents=True)
    (tree / "cgroup.controllers").write_text("cpu memory pids\n")
    (tree / "cgroup.subtree_control").write_text("cpu memory pids\n")
    fake_proc(
        tmp_path,
        monkeypatch,
        "0::/user.slice\n",
        f"30 23 0:26 / {tree} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
    )
    assert cgroups.locate("memory") == (2, str(tree), str(tree / "user.slice"))
    cg = cgroups.Cgroup("docker-basics", ["memory", "cpu", "pids"])
    cg.create()
    folder = tree / cg.name
    assert cg.dirs == {"memory": str(folder), "cpu": str(folder), "pids": str(folder)}
    (folder / "memory.swap.max").write_text("max")
    cgroups.set_limits(cg, 64 * 2**20, 16, 0.5)
    assert (folder / "memory.max").read_text() == str(64 * 2**20)
    assert (folder / "memory.swap.max").read_text() == "0"
    assert (folder / "cpu.max").read_text() == "50000 100000"
    assert (folder / "pids.max").read_text() == "16"


def test_cgroup_v2_without_the_controller(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    fake_proc(tmp_path, monkeypatch, "0::/\n", f"30 23 0:26 / {tmp_path} rw - cgroup2 cgroup2 rw\n")
    with pytest.raises(plumbing.UsageError, match="the pids cgroup controller is not available"):
        cgroups.locate("pids")


def test_cgroup_v1_inside_a_container(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Docker on v1: /proc/self/cgroup names /docker/ID, which is mounted at the hierarchy's
    mount point; a child cgroup goes there, not at memory/docker/ID."""
    cid = "/docker/0123abcd"
    fake_proc(
        tmp_path,
        monkeypatch,
        f"8:memory:{cid}\n4:cpu,cpuacct:{cid}\n0::/\n",
        f"252 251 0:29 {cid} {tmp_path}/memory ro - cgroup cgroup rw,memory\n"
        f"253 251 0:30 {cid} {tmp_path}/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n",
    )
    assert cgroups.locate("memory") == (1, f"{tmp_path}/memory", f"{tmp_path}/memory")
    assert cgroups.locate("cpu") == (1, f"{tmp_path}/cpu,cpuacct", f"{tmp_path}/cpu,cpuacct")
    cg = cgroups.Cgroup("docker-basics", ["memory"])
    assert cg.dirs["memory"] == f"{tmp_path}/memory/{cg.name}"
    with pytest.raises(plumbing.UsageError, match=f"cannot create the cgroup {tmp_path}/memory/"):
        cg.create()  # the folder does not exist here: as read-only in a container, one line


def test_cgroup_v1_on_a_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake_proc(
        tmp_path,
        monkeypatch,
        "5:pids:/user.slice/user-0.slice\n",
        f"40 31 0:33 / {tmp_path}/pids rw - cgroup cgroup rw,pids\n",
    )
    assert cgroups.locate("pids") == (
        1,
        f"{tmp_path}/pids",
        f"{tmp_path}/pids/user.slice/user-0.slice",
    )


@pytest.mark.root
@pytest.mark.docker
def test_inside_a_container_it_says_why_it_cannot(python_base: str):
    """A container's /sys/fs/cgroup is read-only: the cgroup is named, not the command."""
    proc = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network=none",  # nothing to reach, and no bridge to wait for
            "-v",
            f"{SCRIPTS}:/scripts:ro",
            python_base,
            "python3",
            "/scripts/cgroups.py",
            "--memory",
            "64M",
            "--",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 125, proc.stderr
    assert re.fullmatch(
        r"cgroups.py: cannot create the cgroup /sys/fs/cgroup/\S+/"
        r"docker-basics-\d+-[0-9a-f]{6}: Read-only file system\n",
        proc.stderr,
    )


# --- bad input: one line, non-zero, nothing made -----------------------------------------

BAD_INPUT = {
    "no limit": (["--", "true"], "give at least one limit"),
    "no command": (["--memory", "64M"], "give a command to run"),
    "memory word": (["--memory", "lots", "--", "true"], "--memory: 'lots' is not a size"),
    "memory 0": (["--memory", "0", "--", "true"], "--memory: '0' is not a size like 64M"),
    "memory -1": (["--memory", "-1", "--", "true"], "--memory: '-1' is not a size"),
    "memory nan": (["--memory", "nan", "--", "true"], "--memory: 'nan' is not a size"),
    "memory too small": (
        ["--memory", "4K", "--", "true"],
        "'4K' is less than 6M, docker run's minimum",
    ),
    "memory huge": (["--memory", "9999999999G", "--", "true"], "more than any machine has"),
    "pids 0": (["--pids-limit", "0", "--", "true"], "--pids-limit: '0' is not a whole number"),
    "pids -1": (["--pids-limit", "-1", "--", "true"], "--pids-limit: '-1' is not a whole"),
    "pids 1.5": (["--pids-limit", "1.5", "--", "true"], "--pids-limit: '1.5' is not a whole"),
    "pids huge": (["--pids-limit", "99999999", "--", "true"], "from 1 to 4194304"),
    "cpus 0": (["--cpus", "0", "--", "true"], "--cpus: '0' is not a number of CPUs from 0.01"),
    "cpus nan": (["--cpus", "nan", "--", "true"], "--cpus: 'nan' is not a number of CPUs"),
    "cpus inf": (["--cpus", "inf", "--", "true"], "--cpus: 'inf' is not a number of CPUs"),
    "cpus -1": (["--cpus", "-1", "--", "true"], "--cpus: '-1' is not a number of CPUs"),
    "cpus huge": (["--cpus", "1e9", "--", "true"], "--cpus: '1e9' is not a number of CPUs"),
    "timeout -1": (["--memory", "1G", "--timeout", "-1", "--", "true"], "--timeout: '-1' is not"),
    "timeout 0": (["--memory", "1G", "--timeout", "0", "--", "true"], "--timeout: '0' is not"),
    "timeout nan": (["--memory", "1G", "--timeout", "nan", "--", "true"], "'nan' is not a number"),
    "timeout inf": (["--memory", "1G", "--timeout", "inf", "--", "true"], "'inf' is not a number"),
    "timeout huge": (["--memory", "1G", "--timeout", "1e300", "--", "true"], "to 604800"),
    # float() reads other scripts' digits and underscores: '٢٢' was 22 s, '٢' 2 CPUs
    "timeout ٢٢": (["--memory", "1G", "--timeout", "٢٢", "--", "true"], "'٢٢' is not a number"),
    "timeout 1_0": (["--memory", "1G", "--timeout", "1_0", "--", "true"], "'1_0' is not a number"),
    "cpus ٢": (["--cpus", "٢", "--", "true"], "argument --cpus: '٢' is not a number of CPUs"),
    "unknown flag": (["--memroy", "64M", "--", "true"], "unrecognized arguments: --memroy"),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_input(case: str):
    args, message = BAD_INPUT[case]
    one_line(script("cgroups.py", *args), 125, message)


BAD_COMMANDS = {
    "builtin cd": (
        ["cd", "/tmp"],
        127,
        "cannot run cd: it is a shell builtin, not a program; run it in a shell: sh -c 'cd ...'",
    ),
    "builtin export": (["export", "A=1"], 127, "cannot run export: it is a shell builtin"),
    "not found": (["no-such-command"], 127, "cannot run no-such-command: command not found"),
    "not runnable": (["/etc/passwd"], 126, "cannot run /etc/passwd: Permission denied"),
}


@pytest.mark.root
@pytest.mark.parametrize("case", BAD_COMMANDS, ids=list(BAD_COMMANDS))
def test_bad_command(case: str):
    command, status, message = BAD_COMMANDS[case]
    one_line(script("cgroups.py", "--memory", "64M", "--", *command), status, message)


def test_without_root_it_explains_systemd_run():
    if os.geteuid() == 0:
        proc = script("cgroups.py", "--memory", "64M", "--", "true", user=NOBODY)
    else:
        proc = script("cgroups.py", "--memory", "64M", "--", "true")
    one_line(
        proc,
        125,
        "cgroups.py: making a cgroup needs root. Without root, ask systemd "
        "for one: systemd-run --user --scope -p MemoryMax=64M",
    )


# --- Ctrl-C and SIGTERM --------------------------------------------------------------------

SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
# Seconds after the script holds the signals back (its first line): it is still
# importing, then making the cgroup, then starting the command.
EARLY = [0, 0.001, 0.003, 0.01, 0.03]


def stopped_line(signame: str) -> str:
    name = "SIGINT (Ctrl-C)" if signame == "SIGINT" else "SIGTERM"
    return f"cgroups.py: stopped by {name}; the command ended and the cgroup is removed\n"


@pytest.mark.root
@pytest.mark.parametrize("delay", EARLY)
@pytest.mark.parametrize("signame", SIGNALS)
def test_early_signal_removes_everything(signame: str, delay: float):
    sleep = marker()
    stop = stop_at(
        [PY, SCRIPTS / "cgroups.py", "--memory", "64M", "--pids-limit", "32", "--", "sleep", sleep],
        SIGNALS[signame],
        delay,
    )
    assert (stop.returncode, stop.stderr) == (128 + SIGNALS[signame], stopped_line(signame))
    assert stop.cgroups_left == [] and still_running(sleep) == []


@pytest.mark.root
@pytest.mark.parametrize("signame", SIGNALS)
def test_signal_while_the_command_runs(signame: str):
    sleep = marker()
    stop = stop_at(
        [PY, SCRIPTS / "cgroups.py", "--memory", "64M", "--", "sleep", sleep],
        SIGNALS[signame],
        running=lambda: processes_with(f"sleep {sleep}"),
    )
    assert (stop.returncode, stop.stderr) == (128 + SIGNALS[signame], stopped_line(signame))
    assert stop.stdout == "memory: limit 67108864 bytes, OOM kills: 0\n"
    assert stop.cgroups_left == [] and still_running(sleep) == []
    assert stop.seconds < 1  # sleep has no handler: the signal's default action ends it


@pytest.mark.root
@pytest.mark.parametrize("signame", SIGNALS)
def test_a_command_that_ignores_the_signal_is_killed_after_the_grace(signame: str):
    sleep = marker()
    ignoring = f"trap '' INT TERM; sleep {sleep}; echo survived"
    stop = stop_at(
        [PY, SCRIPTS / "cgroups.py", "--memory", "64M", "--", "bash", "-c", ignoring],
        SIGNALS[signame],
        running=lambda: processes_with(f"sleep {sleep}"),
    )
    assert (stop.returncode, stop.stderr) == (128 + SIGNALS[signame], stopped_line(signame))
    assert "survived" not in stop.stdout
    assert GRACE - 0.5 < stop.seconds < GRACE + 5
    assert stop.cgroups_left == [] and still_running(sleep) == []


@pytest.mark.root
def test_a_command_with_a_handler_gets_the_signal_and_ends_itself():
    handler = (
        "import signal, sys, time\n"
        "def bye(*_):\n    print('cleaned up', flush=True)\n    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('ready', flush=True); time.sleep(60)"
    )
    stop = stop_at(
        [PY, SCRIPTS / "cgroups.py", "--memory", "64M", "--", PY, "-c", handler],
        signal.SIGTERM,
        running=lambda: processes_with(f"{PY} -c import signal"),
        delay=0.5,
    )
    assert stop.returncode == 143, stop.stderr
    assert stop.stdout.splitlines()[:2] == ["ready", "cleaned up"]
    assert stop.seconds < GRACE and stop.cgroups_left == []


@pytest.mark.root
def test_ctrl_c_on_a_terminal():
    """The terminal's SIGINT reaches the command too: it is not sent to it a second time."""
    sleep = marker()
    stop = ctrl_c_on_a_terminal(
        [PY, SCRIPTS / "cgroups.py", "--memory", "64M", "--", "sleep", sleep],
        running=lambda: processes_with(f"sleep {sleep}"),
    )
    assert stop.returncode == 130
    assert stop.stderr.endswith(stopped_line("SIGINT")), stop.stderr
    assert stop.cgroups_left == [] and still_running(sleep) == []


@pytest.mark.root
def test_a_command_that_survives_ctrl_c_on_a_terminal_goes_on():
    """Ctrl-C typed on the terminal is the command's to handle: a shell or a Python
    prompt carries on, and so does the script (its command's status, no message)."""
    sleep = marker()
    survivor = f"trap 'echo caught' INT; sleep {sleep} & wait; echo done"
    stop = ctrl_c_on_a_terminal(
        [PY, SCRIPTS / "cgroups.py", "--memory", "64M", "--", "bash", "-c", survivor],
        running=lambda: processes_with(f"sleep {sleep}"),
    )
    assert stop.returncode == 0, stop.stderr
    assert "caught\ndone\n" in stop.stderr and "stopped by" not in stop.stderr
    assert stop.cgroups_left == [] and still_running(sleep) == []
