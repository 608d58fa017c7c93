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
Standard library only, Python 3.11+, Linux. Needs plumbing.py.
"""

import _signal  # the C module under `signal`, which imports enum first (~3 ms)
import sys

if __name__ == "__main__":  # stop signals wait until we are ready (plumbing.Stop)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP})
    # Run with sudo, Python would leave root's __pycache__ in the reader's clone.
    sys.dont_write_bytecode = True

import os

import plumbing
from plumbing import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUTS,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    Stop,
    UsageError,
    become,
    check,
    describe,
    fork,
    libc,
    mount,
    sethostname,
    unshare,
    user_namespace,
)

PROG = "namespaces.py"
# The namespaces `join` enters, in the order nsenter(1) uses: user first, mount last.
JOIN_ORDER = ["user", "ipc", "uts", "net", "pid", "cgroup", "mnt"]


# --8<-- [start:run]
def run(command: list[str], hostname: str | None, user: bool) -> int:
    flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET
    if user or os.geteuid() != 0:
        user_namespace(flags)  # root inside, our own user outside
    else:
        try:
            unshare(flags)
        except OSError as exc:
            raise UsageError(f"cannot create namespaces: {exc.strerror}") from None

    def set_up() -> None:
        # Our mounts must not propagate to the host (systemd makes / shared).
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        # A fresh /proc: it shows the PID namespace of the process that mounts it.
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        if hostname:
            sethostname(hostname)

    # A new PID namespace applies to children: the next fork is its PID 1.
    pid = fork()
    if pid == 0:
        become(command, setup=set_up, failing="cannot set up the namespaces")
    return Stop.wait_for(pid, pid1=True)


# --8<-- [end:run]


# --8<-- [start:join]
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
        raise UsageError(f"joining the namespaces of process {target} needs root") from None
    except OSError as exc:
        raise UsageError(f"cannot join process {target}: {describe(exc)}") from None
    finally:
        for fd in fds.values():
            os.close(fd)

    def enter_root() -> None:
        os.fchdir(root)
        os.chroot(".")

    pid = fork()  # setns into a PID namespace, too, applies to children only
    if pid == 0:
        become(command, setup=enter_root, failing=f"cannot enter the root of {target}")
    return Stop.wait_for(pid)


# --8<-- [end:join]


def show(pid: int | str = "self") -> int:
    """The namespaces a process is in: equal numbers mean the same namespace."""
    for name, link in namespace_links(pid).items():
        print(f"{name:18} {link}")
    return 0


# ===================================================================================
# Plumbing of this script: looking at /proc/PID/ns, the command line.
# The rest is in plumbing.py, shared by every script of this folder.
# ===================================================================================


def namespace_links(pid: int | str) -> dict[str, str]:
    """Namespace name -> its id, e.g. 'pid' -> 'pid:[4026531836]', for a process."""
    try:
        names = sorted(os.listdir(f"/proc/{pid}/ns"))
        return {name: os.readlink(f"/proc/{pid}/ns/{name}") for name in names}
    except FileNotFoundError:
        raise UsageError(f"no process {pid}; give the PID of a running process") from None
    except PermissionError:
        raise UsageError(
            f"may not look at the namespaces of process {pid}: it belongs to another "
            f"user{plumbing.as_root_hint()}"
        ) from None


def main(argv: list[str] | None = None) -> int:
    plumbing.PROG = PROG
    parser = plumbing.parser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True, parser_class=parser.Parser)
    p_run = sub.add_parser("run", help="run a command in new namespaces")
    p_run.add_argument("--hostname", type=plumbing.hostname, help="host name inside (UTS)")
    p_run.add_argument(
        "--user", action="store_true", help="also a new user namespace (the default without root)"
    )
    p_run.add_argument("command", nargs="+", help="the command; put -- before it")
    p_join = sub.add_parser("join", help="run a command in the namespaces of a running process")
    p_join.add_argument("pid", type=plumbing.process_id)
    p_join.add_argument("command", nargs="+", help="the command; put -- before it")
    p_show = sub.add_parser("show", help="list the namespaces of a process")
    p_show.add_argument("pid", nargs="?", type=plumbing.process_id)
    args = parser.parse_args(argv)
    Stop.take_over()
    if args.action == "run":
        work, gone = (
            lambda: run(args.command, args.hostname, args.user),
            "and its namespaces are gone",
        )
    elif args.action == "join":  # the namespaces belong to the process joined, and live on
        work, gone = lambda: join(args.pid, args.command), "ended"
    else:
        work, gone = lambda: show(args.pid or "self"), "ended"
    return plumbing.guarded(work, f"the command {gone}")


if __name__ == "__main__":
    plumbing.as_script(main, PROG)
