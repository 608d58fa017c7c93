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

Standard library only (ctypes for the calls Python 3.11 lacks), Linux.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import sys
from pathlib import Path

# From <linux/sched.h> and <sys/mount.h>.
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 16384, 1 << 18
# The namespaces `join` enters, in the order nsenter(1) uses: user first, mount last.
JOIN_ORDER = ["user", "ipc", "uts", "net", "pid", "cgroup", "mnt"]

libc = ctypes.CDLL(None, use_errno=True)


class NamespaceError(Exception):
    """A problem the user can fix: printed as one line, exit status 1."""


def check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    check(libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    check(libc.setns(fd, nstype), "setns")


def mount(source: str, target: str, fstype: str | None, flags: int) -> None:
    check(
        libc.mount(
            source.encode(),
            target.encode(),
            fstype and fstype.encode(),
            ctypes.c_ulong(flags),
            None,
        ),
        f"mount {target}",
    )


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
            Path(f"/proc/{me}/setgroups").write_text("deny")
            Path(f"/proc/{me}/uid_map").write_text(f"0 {uid} 1")
            Path(f"/proc/{me}/gid_map").write_text(f"0 {gid} 1")
            os.write(done_w, b"y")
        finally:
            os._exit(0)
    os.close(ready_r)
    os.close(done_w)
    try:
        unshare(flags | CLONE_NEWUSER)
    finally:
        os.write(ready_w, b"x")
        os.close(ready_w)
        mapped = os.read(done_r, 1) == b"y"
        os.close(done_r)
        os.waitpid(helper, 0)
    if not mapped:
        raise OSError(1, "cannot write uid_map")


def wait_for(pid: int) -> int:
    """Exit status of a child, as a shell reports it (128 + signal if killed)."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            return 1
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def run(command: list[str], hostname: str | None, user: bool) -> int:
    flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET
    if user or os.geteuid() != 0:
        flags |= CLONE_NEWUSER
    try:
        if flags & CLONE_NEWUSER:
            unshare_with_user(flags & ~CLONE_NEWUSER)
        else:
            unshare(flags)
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
            # Our mounts must not propagate to the host (systemd makes / shared).
            mount("none", "/", None, MS_REC | MS_PRIVATE)
            # A fresh /proc: it shows the PID namespace of the process that mounts it.
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            if hostname:
                socket.sethostname(hostname)
            os.execvp(command[0], command)
        except OSError as exc:
            print(f"namespaces.py: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
            os._exit(127)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the child; we wait
    return wait_for(pid)


def join(target: int, command: list[str]) -> int:
    ns_dir = Path(f"/proc/{target}/ns")
    if not ns_dir.is_dir():
        raise NamespaceError(f"no process {target}; give the PID of a running process")
    fds = {}
    try:
        for name in JOIN_ORDER:
            if (ns_dir / name).exists() and os.readlink(ns_dir / name) != os.readlink(
                f"/proc/self/ns/{name}"
            ):
                fds[name] = os.open(ns_dir / name, os.O_RDONLY)
        # Open the target's root before entering its mount namespace.
        root = os.open(f"/proc/{target}/root", os.O_RDONLY)
        for fd in fds.values():
            setns(fd)
    except PermissionError:
        raise NamespaceError(f"joining the namespaces of process {target} needs root") from None
    except OSError as exc:
        raise NamespaceError(f"cannot join process {target}: {exc.strerror}") from None
    finally:
        for fd in fds.values():
            os.close(fd)
    pid = os.fork()  # setns into a PID namespace, too, applies to children only
    if pid == 0:
        try:
            os.fchdir(root)
            os.chroot(".")
            os.execvp(command[0], command)
        except OSError as exc:
            print(f"namespaces.py: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
            os._exit(127)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return wait_for(pid)


def show(pid: str = "self") -> None:
    """The namespaces a process is in: equal numbers mean the same namespace."""
    for entry in sorted(Path(f"/proc/{pid}/ns").iterdir()):
        print(f"{entry.name:18} {os.readlink(entry)}")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + error
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="namespaces.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    p_run = sub.add_parser("run", help="run a command in new namespaces")
    p_run.add_argument("--hostname", help="host name inside (UTS namespace)")
    p_run.add_argument(
        "--user", action="store_true", help="also a new user namespace (the default without root)"
    )
    p_run.add_argument("command", nargs="+", help="the command; put -- before it")
    p_join = sub.add_parser("join", help="run a command in the namespaces of a running process")
    p_join.add_argument("pid", type=int)
    p_join.add_argument("command", nargs="+", help="the command; put -- before it")
    p_show = sub.add_parser("show", help="list the namespaces of a process")
    p_show.add_argument("pid", nargs="?", default="self")
    args = parser.parse_args(argv)
    try:
        if args.action == "run":
            return run(args.command, args.hostname, args.user)
        if args.action == "join":
            return join(args.pid, args.command)
        show(args.pid)
        return 0
    except NamespaceError as exc:
        print(f"namespaces.py: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError:
        print(f"namespaces.py: no process {args.pid}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
