#!/usr/bin/env python3
"""Show that chroot is not a wall, and that pivot_root is.

    sudo python3 chroot_escape.py            # both demos in a temporary folder
    sudo python3 chroot_escape.py chroot     # only the escape from chroot
    sudo python3 chroot_escape.py pivot      # the same attempt after pivot_root

A process that is root inside a chroot can leave it: chroot(2) changes the
root directory but not the working directory, so a second chroot into a
subfolder leaves the working directory *outside* the new root, and `..` from
there climbs to the real /. Containers do not use chroot. They call
pivot_root(2) in a new mount namespace and then detach the old root, so the
host's / is no longer reachable from inside by any path at all.

Each demo runs in a child process; the folder is removed afterwards, also
after Ctrl-C or SIGTERM (exit status 130, 143, or 129 for SIGHUP), and no mount reaches the
host. Exit status 125 when the script fails or is misused, as docker run's.
Standard library only (ctypes for mount, umount2 and pivot_root), Python
3.11+, Linux, root (or, without root, a user namespace).
"""

from __future__ import annotations

import _signal  # the C module under `signal`, which imports enum first (~3 ms)

if __name__ == "__main__":  # Ctrl-C and SIGTERM wait until we are ready (see Stop, below)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP})

import argparse
import ctypes
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

PROG = "chroot_escape.py"
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 4096, 16384, 1 << 18, 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
MARKER = "INSIDE-THE-BOX"  # a file only the box has
HOST_FILE = "etc/os-release"  # a file the host has and the box does not

# --- system calls Python lacks: the same code in every script that mounts ----------

libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    """Raise OSError naming `what` if a libc call failed."""
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), what)


def mount(
    source: str | None,
    target: str,
    fstype: str | None = None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    check(
        libc.mount(
            source and os.fsencode(source),  # fsencode: a name that is not UTF-8, too
            os.fsencode(target),
            fstype and fstype.encode(),
            ctypes.c_ulong(flags),
            data and data.encode(),
        ),
        f"mount {target}",
    )


def describe(exc: OSError) -> str:
    """'what: why' for an OSError: the file or call at fault, then the kernel's reason."""
    return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror or str(exc)


# --- the demo ------------------------------------------------------------------


def pivot_root(new_root: str, put_old: str) -> None:
    # glibc has no wrapper: call the system call by number.
    number = SYS_PIVOT_ROOT[os.uname().machine]
    check(libc.syscall(number, new_root.encode(), put_old.encode()), "pivot_root")


def where_am_i() -> str:
    if os.path.exists("/" + MARKER):
        return "inside the box"
    if os.path.exists("/" + HOST_FILE):
        return "on the host's /"
    return "somewhere else"


# --8<-- [start:escape]
def escape() -> str:
    """The classic escape: needs only root in the chroot and a folder to chroot into."""
    os.makedirs("/escape", exist_ok=True)
    os.chroot("/escape")  # the root moves down; the working directory stays above it
    for _ in range(64):  # climb: `..` of the real / is / itself, so extra steps are harmless
        os.chdir("..")
    os.chroot(".")  # make wherever we ended up the root
    return where_am_i()


# --8<-- [end:escape]


def demo(box: Path, use_pivot: bool) -> str:
    """In a child process: enter the box (chroot or pivot_root), then try to escape."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            Stop.in_child()
            # A private mount namespace, so that nothing below reaches the host.
            check(libc.unshare(CLONE_NEWNS), "unshare")
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            # --8<-- [start:pivot]
            if use_pivot:
                # pivot_root needs the new root to be a mount point: bind it onto itself.
                mount(str(box), str(box), None, MS_BIND | MS_REC)
                os.chdir(box)
                pivot_root(".", ".")  # the old root is now stacked under the new one...
                check(libc.umount2(b".", MNT_DETACH), "umount2")  # ...and detached
                os.chdir("/")
            # --8<-- [end:pivot]
            else:
                os.chroot(box)
                os.chdir("/")
            before = where_am_i()
            after = escape()
            os.write(write, f"{before}|{after}".encode())
            os._exit(0)
        except OSError as exc:
            os.write(write, f"error|{describe(exc)}".encode())
            os._exit(1)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = pipe.read()
    Stop.wait_for(pid)
    before, after = answer.split("|") if "|" in answer else ("error", "the demo died")
    if before == "error":
        raise DemoError(after)
    return f"entered: {before}; after the escape attempt: {after}"


def make_box(parent: Path) -> Path:
    box = Path(tempfile.mkdtemp(prefix="chroot-escape-", dir=parent))
    (box / MARKER).write_text("You are inside the box.\n")
    os.chmod(box, 0o755)
    return box


# --- Ctrl-C and SIGTERM: the same code in every script of this folder -------------
#
# The script holds both signals back (blocks them) from its first line, and takes
# them only where it waits for the command: nothing it makes or removes can be cut
# in half. Then it passes each on to the command. PID 1 of a new PID namespace
# ignores a signal it has no handler for (the kernel shields a namespace's init),
# so for such a command we do what the default action would: SIGKILL. A command
# still running GRACE seconds later is killed (docker stop waits 10 s); so is one
# that gets a second signal. The script then removes what it made and exits with
# 128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM. SIGHUP, which a
# terminal sends as it closes, is a stop signal too: 129.
# Ctrl-C typed on a terminal is different: the terminal sends SIGINT to the command
# as well, and the command decides. A shell or a Python prompt carries on.

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
GRACE = 3.0  # seconds
SI_KERNEL = 0x80  # si_code of a signal from the terminal, sent to its whole process group
SHELL_BUILTINS = {
    ".", ":", "alias", "bg", "cd", "declare", "eval", "exec", "exit", "export", "fg", "hash",
    "history", "jobs", "local", "read", "readonly", "return", "set", "shift", "shopt",
    "source", "trap", "type", "ulimit", "umask", "unalias", "unset", "wait",
}  # fmt: skip


class Stopped(Exception):
    """A stop signal came: undo what was made, then exit with 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Stop:
    """Where SIGINT and SIGTERM go: held back, then passed on to the command."""

    signum = 0  # the stop signal that arrived, 0 if none
    killed_by = 0  # the signal that ended the command, 0 if it exited
    typed = 0  # a signal typed on the terminal (Ctrl-C), which the command got too
    timed_out = False
    proc = -1  # a file descriptor of /proc
    # Ignored from the start, SIGINT in a background job (`cmd &`), SIGHUP under nohup: so be it.
    ignored = frozenset(s for s in STOP_SIGNALS if signal.getsignal(s) == signal.SIG_IGN)

    @classmethod
    def take_over(cls) -> None:
        """Hold stop signals back from now on; wait_for and check take them when ready.

        Their handlers are the default again: a child forked meanwhile must not run
        Python's Ctrl-C handler (KeyboardInterrupt) inside our code.
        """
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        for signum in STOP_SIGNALS - cls.ignored:
            signal.signal(signum, signal.SIG_DFL)
        if cls.proc < 0:  # this /proc, before a child mounts its own on top of it
            cls.proc = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)

    @classmethod
    def check(cls) -> None:
        """Raise Stopped if a stop signal came: held back till now, or while a command ran."""
        for signum in signal.sigpending() & STOP_SIGNALS - cls.ignored:
            signal.sigtimedwait({signum}, 0)
            cls.signum = cls.signum or signum
        if cls.signum:
            raise Stopped(cls.signum)

    @staticmethod
    def in_child() -> None:
        """After fork, in the child: the default handling, nothing held back."""
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS | {signal.SIGCHLD})

    @classmethod
    def wait_for(cls, pid: int, pid1: bool = False, timeout: float | None = None) -> int:
        """The command's exit status (128 + n if signal n killed it), passing stop signals on."""
        Stop.take_over()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # taken below, too
        kill_at = float("inf") if timeout is None else time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                if os.WIFEXITED(status):
                    return os.WEXITSTATUS(status)
                cls.killed_by = os.WTERMSIG(status)
                if cls.killed_by == cls.typed:  # the command did not survive Ctrl-C
                    cls.signum = cls.signum or cls.typed
                return 128 + cls.killed_by  # as a shell reports it
            wait = min(kill_at - time.monotonic(), 1.0)
            info = signal.sigtimedwait(STOP_SIGNALS | {signal.SIGCHLD}, max(wait, 0))
            if info is None:
                if time.monotonic() >= kill_at:
                    cls.timed_out = cls.timed_out or not cls.signum
                    os.kill(pid, signal.SIGKILL)
                    kill_at = float("inf")
                continue
            signum = info.si_signo
            if signum == signal.SIGCHLD or signum in cls.ignored:
                continue
            reaches = not pid1 or catches(pid, signum)  # PID 1 is spared one it has no handler for
            if info.si_code == SI_KERNEL and reaches:  # typed: the command got it too
                cls.typed = signum
            elif cls.signum:  # a second stop signal: no more waiting
                os.kill(pid, signal.SIGKILL)
            else:
                cls.signum = signum
                kill_at = min(kill_at, time.monotonic() + GRACE)
                os.kill(pid, signum if reaches else signal.SIGKILL)  # SIGKILL: the default action


def catches(pid: int, signum: int) -> bool:
    """Has process pid a handler for signum? (the SigCgt mask of /proc/PID/status)"""
    try:
        fd = os.open(f"{pid}/status", os.O_RDONLY, dir_fd=Stop.proc)
        try:
            status = os.read(fd, 4096).decode()
        finally:
            os.close(fd)
        caught = int(status.split("SigCgt:")[1].split()[0], 16)
    except (OSError, IndexError):
        return False
    return bool(caught >> (signum - 1) & 1)


def stopped_message(signum: int, what: str) -> str:
    names = {signal.SIGINT: "SIGINT (Ctrl-C)", signal.SIGHUP: "SIGHUP (the terminal closed)"}
    return f"{PROG}: stopped by {names.get(signum, 'SIGTERM')}; {what}"


def cannot_run(name: str, exc: OSError | ValueError) -> int:
    """One line on why the command did not start; 127 not found, 126 not runnable."""
    missing = isinstance(exc, FileNotFoundError) or not name  # "": execvp's ValueError
    if name in SHELL_BUILTINS and missing:
        why = f"it is a shell builtin, not a program; run it in a shell: sh -c '{name} ...'"
    elif missing:
        why = "command not found"
    else:
        why = exc.strerror or str(exc)
    print(f"{PROG}: cannot run {name or repr(name)}: {why}", file=sys.stderr)
    return 127 if missing else 126


# --- the command line -------------------------------------------------------------


class DemoError(Exception):
    """A demo could not run: printed as one line, exit status 125."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, and docker run's status for bad flags
        self.exit(125, f"{self.prog}: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("demo", nargs="?", choices=["both", "chroot", "pivot"], default="both")
    args = parser.parse_args(argv)
    Stop.take_over()
    try:
        if os.geteuid() != 0:  # rootless: be root in a new user namespace, where allowed
            become_root_in_a_user_namespace()
        box = make_box(Path(tempfile.gettempdir()))
    except (DemoError, OSError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 125
    try:
        for name, use_pivot in (("chroot", False), ("pivot_root", True)):
            if args.demo in ("both", name.split("_")[0]):
                result = demo(box, use_pivot)
                Stop.check()
                print(f"{name + ':':12} {result}")
        shutil.rmtree(box)
        Stop.check()  # one that came at the very end is not lost
        return 0
    except (DemoError, OSError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 125
    except Stopped as stop:
        print(stopped_message(stop.signum, f"{box} is removed"), file=sys.stderr)
        return 128 + stop.signum
    finally:
        shutil.rmtree(box, ignore_errors=True)


def become_root_in_a_user_namespace() -> None:
    if libc.unshare(CLONE_NEWUSER) != 0:
        raise DemoError("needs root, or user namespaces (not allowed here); run with sudo")
    uid, gid = os.geteuid(), os.getegid()
    try:
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    except OSError as exc:
        raise DemoError(f"cannot map our user into the user namespace: {describe(exc)}") from None


if __name__ == "__main__":
    sys.exit(main())
