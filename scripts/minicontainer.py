#!/usr/bin/env python3
"""A container runtime: namespaces, pivot_root and cgroup limits.

    sudo python3 minicontainer.py --memory 256M --pids-limit 64 --cpus 0.5 \\
        --hostname box --read-only --volume "$PWD/data:/data" ROOTFS CMD...

does, in spirit, what
    docker run --rm --memory 256m --pids-limit 64 --cpus 0.5 --hostname box \\
        --read-only -v "$PWD/data:/data" IMAGE CMD...
does once the image is unpacked: ROOTFS is a folder holding a root filesystem,
for example one made by create_sandbox.py, or `docker export` of a container.

The command becomes PID 1 in new PID, mount, UTS, IPC and network namespaces,
sees ROOTFS as / (pivot_root, the old root detached), its own /proc, a minimal
/dev, only the `lo` network interface, and runs under the limits in a new
cgroup (v1 or v2, see cgroups.py). Everything is undone when it ends, also after
Ctrl-C or SIGTERM: the namespaces die with their last process, and the cgroup is
removed. Without root it runs in a user namespace, with no limits (cgroups need root).

Exit status, as docker run's: the command's own; 125 when this script fails or
is misused; 126 when the command cannot be run, 127 when it is not found;
128 + n when signal n killed it (137: SIGKILL, the OOM killer's) or stopped
the container (Ctrl-C: 130, SIGTERM: 143, SIGHUP: 129). Standard library only,
Python 3.11+, Linux. Needs plumbing.py and cgroups.py beside it.
"""

import _signal  # the C module under `signal`, which imports enum first (~3 ms)
import sys

if __name__ == "__main__":  # stop signals wait until we are ready (plumbing.Stop)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP})
    # Run with sudo, Python would leave root's __pycache__ in the reader's clone.
    sys.dont_write_bytecode = True

import ctypes
import os

import plumbing
from cgroups import Cgroup, set_limits
from plumbing import (
    CLEAN_PATH,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUTS,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    Stop,
    UsageError,
    become,
    fork,
    mount,
    pivot_root,
    sethostname,
    umount_detached,
    unshare,
    user_namespace,
)

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


# --8<-- [start:run]
def run(args) -> int:
    rootfs = check_rootfs(args)
    controllers = [
        c
        for c, on in (("memory", args.memory), ("pids", args.pids_limit), ("cpu", args.cpus))
        if on
    ]
    rootless = os.geteuid() != 0
    if rootless and controllers:
        raise UsageError(
            "--memory, --pids-limit and --cpus need root (cgroups); "
            "without root, use systemd-run --user --scope -p MemoryMax=..."
        )
    cgroup = Cgroup("minicontainer", controllers)
    try:
        cgroup.create()
        set_limits(cgroup, args.memory, args.pids_limit, args.cpus)
        # Only the PID namespace (and the user namespace that owns the rest) is made
        # here: it takes effect for the next child. That child makes the others, so
        # its pivot_root cannot change this process's view of /sys/fs/cgroup.
        if rootless:
            user_namespace(CLONE_NEWPID)
        else:
            try:
                unshare(CLONE_NEWPID)
            except OSError as exc:
                raise UsageError(f"cannot create namespaces: {exc.strerror}") from None
        pid = fork()
        if pid == 0:  # PID 1 inside: joins the cgroup itself before anything else runs
            container(rootfs, args, cgroup)
        return Stop.wait_for(pid, pid1=True)
    finally:
        cgroup.remove()


# --8<-- [end:run]


# --8<-- [start:container]
def container(rootfs: str, args, cgroup: Cgroup) -> None:
    """PID 1 of the new PID namespace: set up, then become the command. Never returns."""

    def set_up() -> None:
        cgroup.join()  # first, so the limits cover everything the command starts
        unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET)
        setup_root(rootfs, args)
        sethostname(args.hostname)
        loopback_up()

    env = {
        "PATH": CLEAN_PATH,
        "HOSTNAME": args.hostname,
        "HOME": "/root",
        "TERM": os.environ.get("TERM", "xterm"),
    }
    become(args.command, env, setup=set_up, failing="cannot set up the container")


# --8<-- [end:container]


# --8<-- [start:root]
def setup_root(rootfs: str, args) -> None:
    """Mounts in the new mount namespace, then pivot_root into rootfs (runc's way)."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing propagates back to the host
    mount(rootfs, rootfs, None, MS_BIND | MS_REC)  # pivot_root needs a mount point
    mount("proc", f"{rootfs}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if os.path.isdir(f"{rootfs}/sys"):  # read-only, showing only this network namespace
        mount("sysfs", f"{rootfs}/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("tmpfs", f"{rootfs}/dev", "tmpfs", MS_NOSUID, "mode=755,size=64k")
    for name in DEVICES:
        os.close(os.open(f"{rootfs}/dev/{name}", os.O_CREAT | os.O_WRONLY, 0o666))
        mount(f"/dev/{name}", f"{rootfs}/dev/{name}", None, MS_BIND)
    os.mkdir(f"{rootfs}/dev/shm")
    mount("shm", f"{rootfs}/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m")
    for source, target, read_only in args.volume:
        where = os.path.join(rootfs, target.lstrip("/"))
        mount(source, where, None, MS_BIND | MS_REC)
        if read_only:
            mount(None, where, None, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(where))
    if args.read_only:
        mount(None, rootfs, None, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(rootfs))
    os.chdir(rootfs)
    # pivot_root(".", ".") stacks the old root on top of the new one; detaching it
    # leaves no path back to the host's files (unlike chroot).
    pivot_root(".", ".")
    umount_detached(".")
    os.chdir("/")


# --8<-- [end:root]


# ===================================================================================
# Plumbing of this script: checks, the network, the command line.
# The rest is in plumbing.py, shared by every script of this folder.
# ===================================================================================

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
AF_INET, SOCK_DGRAM = 2, 2


def loopback_up() -> None:
    """A new network namespace has only `lo`, and it is down: bring it up."""
    import struct

    s = plumbing.libc.socket(AF_INET, SOCK_DGRAM, 0)  # any socket will do for these ioctls
    try:
        ifreq = ctypes.create_string_buffer(struct.pack("16sH22x", b"lo", 0))  # struct ifreq
        plumbing.check(plumbing.libc.ioctl(s, SIOCGIFFLAGS, ifreq), "ioctl SIOCGIFFLAGS lo")
        flags = struct.unpack("16sH22x", ifreq.raw[:40])[1]
        ifreq.raw = struct.pack("16sH22x", b"lo", flags | IFF_UP)
        plumbing.check(plumbing.libc.ioctl(s, SIOCSIFFLAGS, ifreq), "ioctl SIOCSIFFLAGS lo")
    finally:
        os.close(s)


def locked_flags(path: str) -> int:
    """Flags of the mount `path` is on; a user namespace may not drop them on remount."""
    f = os.statvfs(path).f_flag
    return f & (MS_NOSUID | MS_NODEV | MS_NOEXEC)  # ST_* and MS_* share these values


def check_rootfs(args) -> str:
    """The root filesystem as an absolute path, and the volumes' targets inside it."""
    rootfs = os.path.realpath(plumbing.absolute(args.rootfs))
    if rootfs == "/":
        raise UsageError("the root filesystem must be a folder other than /, the host's own")
    try:
        os.listdir(rootfs)
    except PermissionError:
        raise UsageError(
            f"may not look into {args.rootfs} (permission denied){plumbing.as_root_hint()}"
        ) from None
    except OSError:
        pass  # not there, or not a folder: said below
    for needed in ("proc", "dev"):
        if not os.path.isdir(f"{rootfs}/{needed}"):
            raise UsageError(f"{args.rootfs} has no /{needed} folder; is it a root filesystem?")
    for source, target, _ in args.volume:
        if not os.path.exists(source):
            raise UsageError(f"volume source {source} does not exist")
        where = os.path.realpath(os.path.join(rootfs, target.lstrip("/")))
        if not where.startswith(rootfs + "/"):  # mount would follow it onto the host's folder
            raise UsageError(f"volume target {target} leads out of {args.rootfs} (.. or a link)")
        if not os.path.exists(where):
            raise UsageError(
                f"volume target {target} does not exist in {args.rootfs}; create it there first"
            )
    return rootfs


USAGE = """usage: minicontainer.py [OPTIONS] ROOTFS COMMAND [ARG...]

A container runtime: namespaces, pivot_root and cgroup limits.

options:
  --memory SIZE            memory limit, e.g. 256M (no swap)
  --pids-limit N           most processes at once
  --cpus N                 CPU time, e.g. 0.5
  --hostname NAME          host name inside (default: minicontainer)
  --read-only              mount the root read-only
  -v, --volume HOST:CONTAINER[:ro]
                           bind-mount a host folder (may be repeated)
  -h, --help               show this help and exit
"""


def volume(text: str) -> tuple[str, str, bool]:
    parts = text.split(":")
    if (
        len(parts) not in (2, 3)
        or not parts[0]
        or not parts[1].startswith("/")
        or parts[2:] not in ([], ["ro"])
    ):
        raise UsageError(f"{text!r} is not HOST_PATH:/CONTAINER_PATH[:ro]")
    if os.path.normpath(parts[1]) in ("/", "//"):  # as docker run: it would hide the whole root
        raise UsageError(f"{text!r}: the container path may not be / itself")
    return plumbing.absolute(parts[0]), parts[1], parts[2:] == ["ro"]


def parse_args(argv: list[str]):
    """Options come before ROOTFS; everything after ROOTFS is the command, as in docker run.
    (By hand: argparse takes ~12 ms to import, a third of this script's start-up.)"""
    from types import SimpleNamespace

    args = SimpleNamespace(
        memory=None,
        pids_limit=None,
        cpus=None,
        hostname="minicontainer",
        read_only=False,
        volume=[],
        rootfs=None,
        command=[],
    )
    takes_value = {
        "--memory": ("memory", plumbing.size),
        "--pids-limit": ("pids_limit", plumbing.pids_limit),
        "--cpus": ("cpus", plumbing.cpus),
        "--hostname": ("hostname", plumbing.hostname),
        "-v": ("volume", volume),
        "--volume": ("volume", volume),
    }
    i = 0
    while i < len(argv):
        word = argv[i]
        name, eq, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        if word in ("-h", "--help"):
            print(USAGE, end="")
            raise SystemExit(0)
        if word == "--read-only":
            args.read_only = True
        elif name in takes_value:
            if not eq and i + 1 >= len(argv):
                raise UsageError(f"argument {name}: expected one argument")
            value = inline if eq else argv[i + 1]
            i += 0 if eq else 1
            attr, convert = takes_value[name]
            try:
                converted = convert(value)
            except UsageError as exc:
                raise UsageError(f"argument {name}: {exc}") from None
            if attr == "volume":
                args.volume.append(converted)
            else:
                setattr(args, attr, converted)
        elif word.startswith("-"):
            raise UsageError(f"unrecognized arguments: {word}")
        else:
            args.rootfs, args.command = word, argv[i + 1 :]
            break
        i += 1
    if args.rootfs is None:
        raise UsageError("give the root filesystem folder and the command to run inside")
    if not args.command:
        raise UsageError("give the command to run inside, after the root filesystem")
    return args


def main(argv: list[str] | None = None) -> int:
    plumbing.PROG = "minicontainer.py"
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        plumbing.say(f"{exc} (see --help)")
        return 125
    Stop.take_over()
    return plumbing.guarded(lambda: run(args), "the container is stopped and its cgroup removed")


if __name__ == "__main__":
    plumbing.as_script(main, "minicontainer.py", fast=True)  # fast: no interpreter teardown
