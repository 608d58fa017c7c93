#!/usr/bin/env python3
"""Run a command in new Linux namespaces, or join the namespaces of a running process.

    sudo python3 namespaces.py run -- ps          # PID 1, its own /proc
    python3 namespaces.py run --user -- id        # rootless, via a user namespace
    sudo python3 namespaces.py run --hostname box -- hostname
    sudo python3 namespaces.py join PID -- ps     # like nsenter --target PID --all

`run` puts the command in new PID, mount, UTS (host name), IPC and network
namespaces, the ones `docker run` creates, and mounts a fresh /proc so that
`ps` sees only the new PID namespace. `join` enters those of a running
process with setns(2), which is how `docker exec` works. Nothing reaches the
host: mounts stay in the new mount namespace and vanish with it.

Exit status, as docker run's: the command's own; 125 when this script fails or
is misused; 126 when the command cannot be run, 127 when it is not found;
128 + n when signal n killed it, or stopped it (Ctrl-C: 130, SIGTERM: 143, SIGHUP: 129).
Standard library only (ctypes for the calls Python 3.11 lacks), Linux.
"""

from __future__ import annotations

import _signal  # the C module under `signal`, which imports enum first (~3 ms)

if __name__ == "__main__":  # Ctrl-C and SIGTERM wait until we are ready (see Stop, below)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP})

import argparse
import ctypes
import errno
import os
import signal
import socket
import sys
import time

PROG = "namespaces.py"
# From <linux/sched.h> and <sys/mount.h>.
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 16384, 1 << 18
# The namespaces `join` enters, in the order nsenter(1) uses: user first, mount last.
JOIN_ORDER = ["user", "ipc", "uts", "net", "pid", "cgroup", "mnt"]
MAX_PIDS = 4_194_304  # the kernel's largest pid_max
HOST_NAME_MAX = 64


class NamespaceError(Exception):
    """A problem the user can fix: printed as one line, exit status 125."""


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


# --- namespaces ------------------------------------------------------------------


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def unshare_with_user(flags: int) -> None:
    """unshare(flags | CLONE_NEWUSER), then be root inside, mapped to our own user outside.

    The maps are written by a helper process that stays in the parent user
    namespace: since Linux 5.12 a process may not map user 0 of the parent into
    its own new namespace (that needs CAP_SETFCAP there), so root could not
    otherwise use --user.
    """
    uid, gid, me = os.geteuid(), os.getegid(), os.getpid()
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        os.close(ready_w)
        os.read(ready_r, 1)  # wait until the parent has unshared
        try:
            write(f"/proc/{me}/setgroups", "deny")
            write(f"/proc/{me}/uid_map", f"0 {uid} 1")
            write(f"/proc/{me}/gid_map", f"0 {gid} 1")
            os.write(done_w, b"y")
        finally:
            os._exit(0)
    os.close(ready_r)
    os.close(done_w)
    try:
        check(libc.unshare(flags | CLONE_NEWUSER), "unshare")
    finally:
        os.write(ready_w, b"x")
        os.close(ready_w)
        mapped = os.read(done_r, 1) == b"y"
        os.close(done_r)
        os.waitpid(helper, 0)
    if not mapped:
        raise OSError(1, "cannot write uid_map")


def run(command: list[str], hostname: str | None, user: bool) -> int:
    flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET
    if user or os.geteuid() != 0:
        flags |= CLONE_NEWUSER
    try:
        if flags & CLONE_NEWUSER:
            unshare_with_user(flags & ~CLONE_NEWUSER)
        else:
            check(libc.unshare(flags), "unshare")
    except OSError as exc:
        if flags & CLONE_NEWUSER:
            raise NamespaceError(
                f"cannot create a user namespace ({exc.strerror}); this system forbids them "
                "for normal users (see /proc/sys/user/max_user_namespaces, and on Ubuntu "
                "kernel.apparmor_restrict_unprivileged_userns): run with sudo"
            ) from None
        raise NamespaceError(f"cannot create namespaces: {exc.strerror}") from None
    # A new PID namespace applies to children: the next fork is its PID 1.
    pid = os.fork()
    if pid == 0:
        try:
            Stop.in_child()
            # Our mounts must not propagate to the host (systemd makes / shared).
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            # A fresh /proc: it shows the PID namespace of the process that mounts it.
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            if hostname:
                socket.sethostname(hostname)
        except OSError as exc:
            print(f"{PROG}: cannot set up the namespaces: {describe(exc)}", file=sys.stderr)
            os._exit(125)
        exec_command(command)
    return Stop.wait_for(pid, pid1=True)


def exec_command(command: list[str]) -> None:
    """In the child: become the command, or say why not. Never returns."""
    try:
        os.execvp(command[0], command)
    except (OSError, ValueError) as exc:
        os._exit(cannot_run(command[0], exc))
    finally:
        os._exit(125)


def namespace_links(pid: int | str) -> dict[str, str]:
    """Namespace name -> its id, e.g. 'pid' -> 'pid:[4026531836]', for a process."""
    try:
        names = sorted(os.listdir(f"/proc/{pid}/ns"))
        return {name: os.readlink(f"/proc/{pid}/ns/{name}") for name in names}
    except FileNotFoundError:
        raise NamespaceError(f"no process {pid}; give the PID of a running process") from None
    except PermissionError:
        raise NamespaceError(
            f"may not look at the namespaces of process {pid}: it belongs to another "
            "user; run with sudo"
        ) from None


def join(target: int, command: list[str]) -> int:
    theirs, mine = namespace_links(target), namespace_links("self")
    fds = {}
    try:
        for name in JOIN_ORDER:
            if name in theirs and theirs[name] != mine.get(name):
                fds[name] = os.open(f"/proc/{target}/ns/{name}", os.O_RDONLY)
        # Open the target's root before entering its mount namespace.
        root = os.open(f"/proc/{target}/root", os.O_RDONLY)
        for name, fd in fds.items():
            check(libc.setns(fd, 0), f"setns {name}")
    except PermissionError:
        raise NamespaceError(f"joining the namespaces of process {target} needs root") from None
    except OSError as exc:
        raise NamespaceError(f"cannot join process {target}: {describe(exc)}") from None
    finally:
        for fd in fds.values():
            os.close(fd)
    pid = os.fork()  # setns into a PID namespace, too, applies to children only
    if pid == 0:
        try:
            Stop.in_child()
            os.fchdir(root)
            os.chroot(".")
        except OSError as exc:
            print(f"{PROG}: cannot enter the root of {target}: {describe(exc)}", file=sys.stderr)
            os._exit(125)
        exec_command(command)
    return Stop.wait_for(pid)


def show(pid: int | str = "self") -> None:
    """The namespaces a process is in: equal numbers mean the same namespace."""
    for name, link in namespace_links(pid).items():
        print(f"{name:18} {link}")


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


# --- the command line --------------------------------------------------------------

UsageError = argparse.ArgumentTypeError  # argparse prints it as "argument --flag: message"


def process_id(text: str) -> int:
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or not 1 <= int(digits) <= MAX_PIDS:
        raise UsageError(f"{text!r} is not a process ID (a whole number from 1 to {MAX_PIDS})")
    return int(digits)


def hostname(text: str) -> str:
    try:
        size = len(text.encode())
    except UnicodeEncodeError:  # bytes that are not UTF-8, passed on by the shell as they were
        raise UsageError(f"{text!r} is not UTF-8 text; give a host name such as box") from None
    if not 0 < size <= HOST_NAME_MAX:
        raise UsageError(f"{text!r} is not a host name of 1 to {HOST_NAME_MAX} characters")
    return text


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, and docker run's status for bad flags
        self.exit(125, f"{self.prog}: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
    p_run = sub.add_parser("run", help="run a command in new namespaces")
    p_run.add_argument("--hostname", type=hostname, help="host name inside (UTS namespace)")
    p_run.add_argument(
        "--user", action="store_true", help="also a new user namespace (the default without root)"
    )
    p_run.add_argument("command", nargs="+", help="the command; put -- before it")
    p_join = sub.add_parser("join", help="run a command in the namespaces of a running process")
    p_join.add_argument("pid", type=process_id)
    p_join.add_argument("command", nargs="+", help="the command; put -- before it")
    p_show = sub.add_parser("show", help="list the namespaces of a process")
    p_show.add_argument("pid", nargs="?", type=process_id)
    args = parser.parse_args(argv)
    Stop.take_over()
    try:
        if args.action == "run":
            status = run(args.command, args.hostname, args.user)
        elif args.action == "join":
            status = join(args.pid, args.command)
        else:
            show(args.pid or "self")
            status = 0
        Stop.check()
        return status
    except NamespaceError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 125
    except OSError as exc:  # a fork refused (a process limit), the output's disk full
        why = describe(exc)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EPIPE):  # the output
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # not retried at exit
            why = f"cannot write the output: {exc.strerror}"
        print(f"{PROG}: {why}", file=sys.stderr)
        return 125
    except Stopped as stop:
        # join: the namespaces belong to the process joined, and live on with it
        gone = "and its namespaces are gone" if args.action == "run" else "ended"
        print(stopped_message(stop.signum, f"the command {gone}"), file=sys.stderr)
        return 128 + stop.signum


if __name__ == "__main__":
    sys.exit(main())
