#!/usr/bin/env python3
"""A container runtime in one file: namespaces, pivot_root and cgroup limits.

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
cgroup (v1 or v2). Everything is undone when it ends, also after Ctrl-C: the
namespaces die with their last process, and the cgroup is removed.
Without root it runs in a user namespace, with no limits (cgroups need root).

Standard library only (ctypes for mount, umount2, pivot_root, unshare),
Python 3.11+, Linux.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import os
import re
import signal
import socket
import struct
import sys
import time
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 32, 4096, 16384, 1 << 18, 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
CGROUP_ROOT = Path("/sys/fs/cgroup")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

libc = ctypes.CDLL(None, use_errno=True)


class ContainerError(Exception):
    """A problem the user can fix: printed as one line, exit status 125 (as docker run)."""


def check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(
    source: str | None, target: str | Path, fstype: str | None, flags: int, data: str | None = None
) -> None:
    check(
        libc.mount(
            source and source.encode(),
            str(target).encode(),
            fstype and fstype.encode(),
            ctypes.c_ulong(flags),
            data and data.encode(),
        ),
        f"mount {target}",
    )


# --- cgroups --------------------------------------------------------------------


def cgroup_version(controller: str) -> int:
    if (CGROUP_ROOT / controller / "cgroup.procs").exists():
        return 1
    if controller in (CGROUP_ROOT / "cgroup.controllers").read_text().split():
        return 2
    raise ContainerError(f"the {controller} cgroup controller is not available here")


class Cgroup:
    """A new cgroup named minicontainer-<pid>-<random> holding only the container.

    v1: under our own cgroup in each controller's hierarchy; v2: under the root,
    where controllers are enabled for children (see cgroups.py for why).
    """

    def __init__(self, limits: dict[str, dict[str, str]]) -> None:
        self.name = f"minicontainer-{os.getpid()}-{os.urandom(3).hex()}"
        self.limits = limits
        self.dirs: dict[str, Path] = {}
        for controller in limits:
            if cgroup_version(controller) == 1:
                own = next(
                    (
                        line.split(":", 2)[2]
                        for line in Path("/proc/self/cgroup").read_text().splitlines()
                        if controller in line.split(":", 2)[1].split(",")
                    ),
                    "/",
                )
                self.dirs[controller] = CGROUP_ROOT / controller / own.lstrip("/") / self.name
            else:
                self.dirs[controller] = CGROUP_ROOT / self.name
        self.made: list[Path] = []

    def __enter__(self) -> Cgroup:
        try:
            for path in dict.fromkeys(self.dirs.values()):
                path.mkdir()
                self.made.append(path)
            for controller, files in self.limits.items():
                for names, value in files.items():
                    v1, v2 = names.split("|")
                    name = v1 if cgroup_version(controller) == 1 else v2
                    if name and (self.dirs[controller] / name).exists():
                        (self.dirs[controller] / name).write_text(value)
        except BaseException:
            self.__exit__()
            raise
        return self

    def add(self, pid: int) -> None:
        for path in self.made:
            (path / "cgroup.procs").write_text(str(pid))

    def __exit__(self, *exc: object) -> None:
        """Kill anything left in it, then remove it (the kernel may need a moment)."""
        for _ in range(100):
            pids = [int(p) for d in self.made for p in (d / "cgroup.procs").read_text().split()]
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        for path in reversed(self.made):
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except OSError:  # busy for a moment after its last process exits
                    time.sleep(0.002)


def limits_from(args: argparse.Namespace) -> dict[str, dict[str, str]]:
    """Files to write, as 'v1 name|v2 name' -> value (same meaning, other names)."""
    limits: dict[str, dict[str, str]] = {}
    if args.memory:
        limits["memory"] = {
            "memory.limit_in_bytes|memory.max": str(args.memory),
            "memory.memsw.limit_in_bytes|memory.swap.max": str(args.memory)
            if cgroup_version("memory") == 1
            else "0",
        }
    if args.pids_limit:
        limits["pids"] = {"pids.max|pids.max": str(args.pids_limit)}
    if args.cpus:
        period = 100_000
        limits["cpu"] = {
            "cpu.cfs_period_us|": str(period),
            "cpu.cfs_quota_us|cpu.max": str(int(args.cpus * period))
            if cgroup_version("cpu") == 1
            else f"{int(args.cpus * period)} {period}",
        }
    return limits


# --- inside the new namespaces ---------------------------------------------------


def loopback_up() -> None:
    """A new network namespace has only `lo`, and it is down: bring it up."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def locked_flags(path: Path) -> int:
    """Flags of the mount `path` is on; a user namespace may not drop them on remount."""
    f = os.statvfs(path).f_flag
    return f & (MS_NOSUID | MS_NODEV | MS_NOEXEC)  # ST_* and MS_* share these values


def setup_root(rootfs: Path, args: argparse.Namespace) -> None:
    """Mounts in the new mount namespace, then pivot_root into rootfs (runc's way)."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing propagates back to the host
    mount(str(rootfs), rootfs, None, MS_BIND | MS_REC)  # pivot_root needs a mount point
    mount("proc", rootfs / "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if (rootfs / "sys").is_dir():  # read-only, and showing only this network namespace
        mount("sysfs", rootfs / "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount("tmpfs", rootfs / "dev", "tmpfs", MS_NOSUID, "mode=755,size=64k")
    for name in DEVICES:
        (rootfs / "dev" / name).touch()
        mount(f"/dev/{name}", rootfs / "dev" / name, None, MS_BIND)
    (rootfs / "dev" / "shm").mkdir()
    mount("shm", rootfs / "dev" / "shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m")
    for source, target, read_only in args.volume:
        where = rootfs / target.lstrip("/")
        mount(source, where, None, MS_BIND | MS_REC)
        if read_only:
            mount(None, where, None, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(where))
    if args.read_only:
        mount(None, rootfs, None, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(rootfs))
    os.chdir(rootfs)
    # pivot_root(".", ".") stacks the old root under the new one; detaching it
    # leaves no path back to the host's files (unlike chroot).
    check(libc.syscall(SYS_PIVOT_ROOT[os.uname().machine], b".", b"."), "pivot_root")
    check(libc.umount2(b".", MNT_DETACH), "umount2")
    os.chdir("/")


def container(rootfs: Path, args: argparse.Namespace) -> None:
    """PID 1 of the new PID namespace: set up, then become the command. Never returns."""
    try:
        check(libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET), "unshare")
        setup_root(rootfs, args)
        socket.sethostname(args.hostname)
        loopback_up()
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME": args.hostname,
            "HOME": "/root",
            "TERM": os.environ.get("TERM", "xterm"),
        }
        os.execvpe(args.command[0], args.command, env)
    except OSError as exc:
        print(f"minicontainer.py: {exc.strerror or exc}", file=sys.stderr)
        os._exit(127 if isinstance(exc, FileNotFoundError) else 125)


def run(args: argparse.Namespace) -> int:
    rootfs = Path(args.rootfs).resolve()
    for needed in ("proc", "dev"):
        if not (rootfs / needed).is_dir():
            raise ContainerError(f"{args.rootfs} has no /{needed} folder; is it a root filesystem?")
    for source, target, _ in args.volume:
        if not Path(source).exists():
            raise ContainerError(f"volume source {source} does not exist")
        if not (rootfs / target.lstrip("/")).exists():
            raise ContainerError(
                f"volume target {target} does not exist in {args.rootfs}; create it there first"
            )
    limits = limits_from(args)
    rootless = os.geteuid() != 0
    if rootless and limits:
        raise ContainerError(
            "--memory, --pids-limit and --cpus need root (cgroups); "
            "without root, use systemd-run --user --scope -p MemoryMax=..."
        )
    with Cgroup(limits) as cgroup:
        # Only the PID namespace (and the user namespace that owns the rest) is made
        # here: it takes effect for the next child. That child makes the others, so
        # its pivot_root cannot change this process's view of /sys/fs/cgroup.
        try:
            check(libc.unshare(CLONE_NEWPID | (CLONE_NEWUSER if rootless else 0)), "unshare")
        except OSError as exc:
            raise ContainerError(
                f"cannot create namespaces ({exc.strerror}); run with sudo"
            ) from None
        if rootless:
            uid, gid = os.geteuid(), os.getegid()
            Path("/proc/self/setgroups").write_text("deny")
            Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
            Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # PID 1 inside; waits until it is in the cgroup
            os.close(go_w)
            os.read(go_r, 1)
            container(rootfs, args)
        os.close(go_r)
        cgroup.add(pid)
        os.write(go_w, b"x")
        os.close(go_w)

        # Ctrl-C or a kill of this process ends the container: killing PID 1 of a
        # PID namespace kills every process in it.
        def stop(signum: int, frame: object) -> None:
            os.kill(pid, signal.SIGKILL)

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, stop)
        _, status = os.waitpid(pid, 0)
        return (
            os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
        )


def volume(text: str) -> tuple[str, str, bool]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[1].startswith("/") or parts[2:] not in ([], ["ro"]):
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST_PATH:/CONTAINER_PATH[:ro]")
    return os.path.abspath(parts[0]), parts[1], parts[2:] == ["ro"]


def size(text: str) -> int:
    m = re.fullmatch(r"(\d+)([kKmMgG]?)[bB]?", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 256M")
    return int(m[1]) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[m[2].lower()]


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + error
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="minicontainer.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory", type=size, help="memory limit, e.g. 256M (no swap)")
    parser.add_argument("--pids-limit", type=int, help="most processes at once")
    parser.add_argument("--cpus", type=float, help="CPU time, e.g. 0.5")
    parser.add_argument("--hostname", default="minicontainer", help="host name inside")
    parser.add_argument("--read-only", action="store_true", help="mount the root read-only")
    parser.add_argument(
        "-v",
        "--volume",
        type=volume,
        action="append",
        default=[],
        metavar="HOST:CONTAINER[:ro]",
        help="bind-mount a host folder",
    )
    parser.add_argument("rootfs", help="folder with the root filesystem")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run inside")
    args = parser.parse_args(argv)
    if not args.command:
        parser.error("give the command to run inside, after the root filesystem")
    try:
        return run(args)
    except ContainerError as exc:
        print(f"minicontainer.py: {exc}", file=sys.stderr)
        return 125
    except OSError as exc:  # e.g. a folder we may not read: one line, as docker run says it
        print(
            f"minicontainer.py: {exc.strerror}: {exc.filename or ''}".rstrip(": "), file=sys.stderr
        )
        return 125


if __name__ == "__main__":
    sys.exit(main())
