"""scripts/namespaces.py: run, join and show; bad input; and stopping it by signal."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from helpers import (
    NOBODY,
    PY,
    SCRIPTS,
    ctrl_c_on_a_terminal,
    marker,
    one_line,
    processes_with,
    reader,
    script,
    still_running,
    stop_at,
    wait_until,
)

NS = SCRIPTS / "namespaces.py"
INSPECT = (
    "import os, socket; print(os.getpid()); "
    "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit())); "
    "print(socket.gethostname()); "
    "print([l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]])"
)


@pytest.mark.root
def test_run_is_pid_1_alone_with_its_own_hostname_and_only_lo():
    host_name = os.uname().nodename
    proc = script("namespaces.py", "run", "--hostname", "box", "--", PY, "-c", INSPECT)
    assert proc.returncode == 0, proc.stderr
    pid, visible, hostname, interfaces = proc.stdout.splitlines()
    assert pid == "1"
    assert visible == "[1]"  # no host process is visible
    assert hostname == "box" and os.uname().nodename == host_name
    assert interfaces == "['lo']"


@pytest.mark.root
@pytest.mark.parametrize("who", ["nobody", "reader"])
def test_rootless_run_maps_us_to_root(who: str):
    user = NOBODY if who == "nobody" else reader()
    proc = script("namespaces.py", "run", "--", "id", "-u", user=user)
    assert (proc.returncode, proc.stdout) == (0, "0\n"), proc.stderr


@pytest.mark.root
def test_root_can_ask_for_a_user_namespace_too():
    """Root may not map its own uid 0 (Linux >= 5.12): a helper writes the map."""
    proc = script("namespaces.py", "run", "--user", "--", "cat", "/proc/self/uid_map")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "0", "1"]


@pytest.fixture
def running_box():
    """namespaces.py run --hostname joined -- sleep <marker>: the sleep's host PID."""
    sleep = marker()
    runner = subprocess.Popen([PY, NS, "run", "--hostname", "joined", "--", "sleep", sleep])
    try:
        wait_until(lambda: processes_with(f"sleep {sleep}"))
        yield processes_with(f"sleep {sleep}")[0]
    finally:
        runner.terminate()
        runner.wait(timeout=30)
        assert still_running(sleep) == []


@pytest.mark.root
def test_join_enters_a_running_namespace(running_box: int):
    proc = script("namespaces.py", "join", running_box, "--", PY, "-c", INSPECT)
    assert proc.returncode == 0, proc.stderr
    _pid, visible, hostname, _ = proc.stdout.splitlines()
    assert hostname == "joined"
    assert visible.startswith("[1, ")  # sleep is PID 1 there, we are one more


@pytest.mark.root
def test_show_lists_the_namespaces_of_a_process(running_box: int):
    proc = script("namespaces.py", "show", running_box)
    assert proc.returncode == 0, proc.stderr
    theirs = dict(line.split() for line in proc.stdout.splitlines())
    assert theirs["uts"] == os.readlink(f"/proc/{running_box}/ns/uts")
    assert theirs["uts"] != os.readlink("/proc/self/ns/uts")


# --- bad input -------------------------------------------------------------------------

LONG_NAME = "a" * 65
BAD_INPUT = {
    "no action": ([], "the following arguments are required: action"),
    "unknown action": (["jump"], "invalid choice: 'jump'"),
    "unknown flag": (["run", "--hostnme", "x", "--", "true"], "unrecognized arguments: --host"),
    "run no command": (["run"], "the following arguments are required: command"),
    "pid -1": (["join", "-1", "--", "true"], "argument pid: '-1' is not a process ID"),
    "pid 0": (["join", "0", "--", "true"], "argument pid: '0' is not a process ID"),
    "pid nan": (["join", "nan", "--", "true"], "argument pid: 'nan' is not a process ID"),
    "pid 1.5": (["join", "1.5", "--", "true"], "argument pid: '1.5' is not a process ID"),
    "pid huge": (["join", "99999999999", "--", "true"], "a whole number from 1 to 4194304"),
    "pid missing": (["join", "4194303", "--", "true"], "no process 4194303; give the PID"),
    "show pid nan": (["show", "nan"], "argument pid: 'nan' is not a process ID"),
    "show missing": (["show", "4194303"], "no process 4194303"),
    "hostname long": (["run", "--hostname", LONG_NAME, "--", "true"], "not a host name of 1"),
    "hostname empty": (["run", "--hostname", "", "--", "true"], "'' is not a host name"),
    "hostname not UTF-8": (["run", "--hostname", "a\udcff", "--", "true"], "is not UTF-8 text"),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_input(case: str):
    args, message = BAD_INPUT[case]
    one_line(script("namespaces.py", *args), 125, message)


BAD_COMMANDS = {
    "builtin cd": (["cd", "/"], 127, "cannot run cd: it is a shell builtin, not a program"),
    "builtin export": (["export", "A=1"], 127, "cannot run export: it is a shell builtin"),
    "not found": (["no-such-command"], 127, "cannot run no-such-command: command not found"),
    "not runnable": (["/etc/passwd"], 126, "cannot run /etc/passwd: Permission denied"),
    "empty name": ([""], 127, "cannot run '': command not found"),  # was 125 and no word
}


@pytest.mark.root
@pytest.mark.parametrize("case", BAD_COMMANDS, ids=list(BAD_COMMANDS))
def test_bad_command(case: str):
    command, status, message = BAD_COMMANDS[case]
    one_line(script("namespaces.py", "run", "--", *command), status, message)


@pytest.mark.root
@pytest.mark.parametrize(
    "action", [["join", "1", "--", "true"], ["show", "1"]], ids=["join", "show"]
)
def test_another_users_process(action: list[str]):
    """As nobody, PID 1 (root's) may not be inspected: said in one line, not a traceback."""
    proc = script("namespaces.py", *action, user=NOBODY)
    one_line(proc, 125, "may not look at the namespaces of process 1: it belongs to another user")


@pytest.mark.root
def test_root_is_not_told_to_use_sudo():
    """Root whose user namespace is refused was told to "run with sudo"."""
    proc = subprocess.run(
        ["unshare", "--user", "--map-root-user", "sh", "-c",
         'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', "sh",
         PY, NS, "run", "--user", "--", "true"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    one_line(proc, 125, "namespaces.py: cannot create a user namespace: ")
    assert "sudo" not in proc.stderr


# --- Ctrl-C and SIGTERM --------------------------------------------------------------------

SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
EARLY = [0, 0.001, 0.003, 0.01, 0.03]


def stopped_line(signame: str, gone: str = "and its namespaces are gone") -> str:
    name = "SIGINT (Ctrl-C)" if signame == "SIGINT" else "SIGTERM"
    return f"namespaces.py: stopped by {name}; the command {gone}\n"


def proc_mounts() -> list[str]:
    """The host's mounts of /proc (a leak of the command's own /proc would add one)."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line for line in lines if line.split()[4] == "/proc"]


@pytest.mark.root
@pytest.mark.parametrize("delay", EARLY)
@pytest.mark.parametrize("signame", SIGNALS)
def test_early_signal_stops_everything(signame: str, delay: float):
    sleep = marker()
    stop = stop_at([PY, NS, "run", "--", "sleep", sleep], SIGNALS[signame], delay)
    assert (stop.returncode, stop.stderr) == (128 + SIGNALS[signame], stopped_line(signame))
    assert still_running(sleep) == []


@pytest.mark.root
@pytest.mark.parametrize("signame", SIGNALS)
@pytest.mark.parametrize(
    "command",
    [["sleep", "{sleep}"], ["bash", "-c", "trap '' INT TERM; sleep {sleep}; echo survived"]],
    ids=["PID 1 without a handler", "PID 1 that ignores it"],
)
def test_signal_while_the_command_runs(signame: str, command: list[str]):
    """Before: PID 1 ignored Ctrl-C, and SIGTERM left it running without its parent."""
    sleep = marker()
    before = proc_mounts()
    stop = stop_at(
        [PY, NS, "run", "--", *(c.format(sleep=sleep) for c in command)],
        SIGNALS[signame],
        running=lambda: processes_with(f"sleep {sleep}"),
    )
    assert (stop.returncode, stop.stderr) == (128 + SIGNALS[signame], stopped_line(signame))
    assert stop.stdout == "" and stop.seconds < 1
    assert still_running(sleep) == [] and proc_mounts() == before


@pytest.mark.root
def test_pid_1_with_a_handler_gets_the_signal():
    sleep = marker()
    stop = stop_at(
        [PY, NS, "run", "--", "bash", "-c", f"trap 'echo bye; exit 3' TERM; sleep {sleep} & wait"],
        signal.SIGTERM,
        running=lambda: processes_with(f"sleep {sleep}"),
    )
    assert (stop.returncode, stop.stdout) == (143, "bye\n"), stop.stderr
    assert still_running(sleep) == []


@pytest.mark.root
@pytest.mark.parametrize("signame", SIGNALS)
def test_signal_to_join(signame: str, running_box: int):
    sleep = marker()
    stop = stop_at(
        [PY, NS, "join", running_box, "--", "sleep", sleep],
        SIGNALS[signame],
        running=lambda: processes_with(f"sleep {sleep}"),
    )
    # It said "the command and its namespaces are gone" of namespaces that live on.
    assert (stop.returncode, stop.stderr) == (
        128 + SIGNALS[signame],
        stopped_line(signame, "ended"),
    )
    assert still_running(sleep) == []
    assert Path(f"/proc/{running_box}").exists()  # the joined namespaces' own process lives on


@pytest.mark.root
def test_ctrl_c_on_a_terminal():
    """The case of the issue: a real Ctrl-C, which PID 1 ignored."""
    sleep = marker()
    stop = ctrl_c_on_a_terminal(
        [PY, NS, "run", "--", "sleep", sleep], running=lambda: processes_with(f"sleep {sleep}")
    )
    assert stop.returncode == 130
    assert stop.stderr.endswith(stopped_line("SIGINT")), stop.stderr
    assert still_running(sleep) == [] and stop.seconds < 1


@pytest.mark.root
def test_pid_1_that_survives_ctrl_c_on_a_terminal_goes_on():
    """A PID 1 with a handler (an interactive shell in a container) handles Ctrl-C itself."""
    sleep = marker()
    survivor = f"trap 'echo caught' INT; sleep {sleep} & wait; echo done"
    stop = ctrl_c_on_a_terminal(
        [PY, NS, "run", "--", "bash", "-c", survivor],
        running=lambda: processes_with(f"sleep {sleep}"),
    )
    assert stop.returncode == 0, stop.stderr
    assert "caught\ndone\n" in stop.stderr and "stopped by" not in stop.stderr
    assert still_running(sleep) == []
