"""What the tests of scripts/ share: running a script, and stopping it with a signal.

The signal tests send SIGINT and SIGTERM at chosen moments and then check
that nothing is left behind. A moment is counted from when the script holds
the signals back (its first line: SIGTERM shows in SigBlk of /proc/PID/status),
or from when its command is running. Before that first line, Python itself is
starting (10-60 ms, more with .pth hooks in site-packages): a signal then ends
Python before the script has made anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import pty
import pwd
import random
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import IN_CI, ROOT, our_cgroups, readable_copy

SCRIPTS = ROOT / "scripts"
PY = sys.executable
NOBODY = 65534  # also the overflow uid: what a process is in a user namespace before its map
SYSTEM_PYTHON = "/usr/bin/python3"  # one the nobody user can run
GRACE = 3.0  # plumbing.GRACE: a command that ignores the signal gets this long


def reader() -> int:
    """The uid of a real normal user (READER_USER, default docker-basics-reader): nobody's
    uid 65534 hid a bug, as it is also what a process is in a new user namespace."""
    name = os.environ.get("READER_USER", "docker-basics-reader")
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        if IN_CI:
            pytest.fail(f"the user {name} (READER_USER) does not exist; CI must have it")
        pytest.skip(f"needs the user {name} (set READER_USER to another normal user)")
    assert user.pw_uid not in (0, NOBODY), f"{name} must be a normal user, not root or nobody"
    return user.pw_uid


def script(
    name: str,
    *args: object,
    user: int | None = None,
    timeout: float = 120,
    python: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run scripts/<name>, as root or (user=NOBODY, reader()) as another user, with its output."""
    path = SCRIPTS / name if user is None else readable_copy(SCRIPTS / name)
    cmd = [python or (SYSTEM_PYTHON if user is not None else PY), str(path), *map(str, args)]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={gid_of(user)}", "--clear-groups", *cmd]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd
    )


def gid_of(uid: int) -> int:
    try:
        return pwd.getpwuid(uid).pw_gid
    except KeyError:
        return uid


def signalled_inside(
    name: str, args: list[str], function: str, signum: int
) -> subprocess.CompletedProcess[str]:
    """Run scripts/<name> with `function` ('shutil.rmtree') sending it signum when called:
    a moment chosen exactly, where a signal sent from outside would need luck."""
    module = function.rsplit(".", 1)[0]
    code = (
        f"import os, runpy, sys, {module}\n"
        f"real = {function}\n"
        "def signalled(*args, **kwargs):\n"
        f"    os.kill(os.getpid(), {int(signum)})\n"
        "    return real(*args, **kwargs)\n"
        f"{function} = signalled\n"
        f"sys.argv = {[str(SCRIPTS / name), *args]!r}\n"
        f"sys.path.insert(0, {str(SCRIPTS)!r})  # as for a script run directly\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    return subprocess.run(
        [PY, "-c", code], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a terminal
    )  # fmt: skip


def one_line(proc: subprocess.CompletedProcess[str], status: int, message: str) -> None:
    """The failure looks as the scripts promise: one line naming the fault, no traceback."""
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in proc.stderr, proc.stderr


def build_sandbox(box: Path, *commands: str) -> Path:
    proc = script("create_sandbox.py", box, "-c", *commands)
    assert proc.returncode == 0, proc.stderr
    return box


def marker() -> str:
    """A sleep time no other process uses: `sleep <marker>` can be found, and must be gone."""
    return f"{random.randint(1000, 9999)}.{random.randint(100, 999)}"


def processes_with(command_line: str) -> list[int]:
    """Processes whose command line starts with this (a shell whose script names it does not)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()  # not UTF-8 in some tests
            words = cmdline.replace(b"\0", b" ").decode(errors="replace")
            if words.startswith(command_line):
                found.append(int(pid))
    return found


def holds_signals(pid: int) -> bool:
    """Has the script reached its first line, which blocks SIGINT and SIGTERM?

    While it waits for them in sigtimedwait(2), the kernel shows them unblocked.
    """
    try:
        blocked = Path(f"/proc/{pid}/status").read_text().split("SigBlk:")[1].split()[0]
        waiting = Path(f"/proc/{pid}/wchan").read_text().startswith("do_sigtimedwait")
    except (OSError, IndexError):
        return False
    return waiting or bool(int(blocked, 16) & (1 << (signal.SIGTERM - 1)))


def wait_until(condition: Callable[[], object], seconds: float = 20) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.0005)


@dataclass
class Stopped:
    returncode: int
    stdout: str
    stderr: str
    seconds: float  # from the signal to the script's exit
    cgroups_left: list[str]  # cgroups the script made and did not remove


def stop_at(
    cmd: list[object],
    signum: int,
    delay: float = 0,
    running: Callable[[], object] | None = None,
    cwd: Path | None = None,
) -> Stopped:
    """Start a script, send it signum `delay` s after it holds signals (or after `running()`).

    SIGINT as from a terminal: a background job (`make test &`) would start the
    tests, and so the script, with SIGINT ignored.
    """
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        wait_until(lambda: holds_signals(proc.pid) or proc.poll() is not None)
        if running:
            wait_until(lambda: running() or proc.poll() is not None)
        time.sleep(delay)
        sent = time.monotonic()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
        seconds = time.monotonic() - sent
        return Stopped(proc.returncode, out, err, seconds, our_cgroups(proc.pid))
    finally:
        if proc.poll() is None:  # it hung: stop it before the test fails
            proc.kill()
            proc.wait()
        clean_up_after(proc.pid)


def ctrl_c_on_a_terminal(cmd: list[object], running: Callable[[], object]) -> Stopped:
    """A real Ctrl-C: the terminal sends SIGINT to its whole foreground process group,
    the script and its command alike (not only to the script, as kill(1) does)."""
    master, slave = pty.openpty()

    def on_the_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(
        [str(c) for c in cmd], stdin=slave, stdout=slave, stderr=slave, preexec_fn=on_the_terminal
    )
    os.close(slave)
    output = b""
    try:
        wait_until(lambda: running() or proc.poll() is not None)
        time.sleep(0.05)
        sent = time.monotonic()
        os.write(master, b"\x03")  # what the Ctrl-C key sends
        proc.wait(timeout=30)
        seconds = time.monotonic() - sent
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            output += chunk
        text = output.decode().replace("\r\n", "\n")
        return Stopped(proc.returncode, "", text, seconds, our_cgroups(proc.pid))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        clean_up_after(proc.pid)


def clean_up_after(pid: int) -> None:
    """Remove what a failed script left (a test fails on it, the machine stays clean)."""
    for cgroup in our_cgroups(pid):
        for left in Path(cgroup, "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(left), signal.SIGKILL)
        for _ in range(50):
            with contextlib.suppress(OSError):
                os.rmdir(cgroup)
                break
            time.sleep(0.02)


def still_running(sleep_marker: str) -> list[int]:
    """`sleep <marker>` processes a stopped script left running (killed, and returned)."""
    found = processes_with(f"sleep {sleep_marker}")
    for pid in found:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return found


def chroot_escape_boxes() -> set[str]:
    return set(glob.glob("/tmp/chroot-escape-*"))


def mounts_under(folder: Path) -> list[str]:
    return [
        line
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if str(folder) in line.split()[4]
    ]
