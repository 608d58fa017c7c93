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

# Few and light imports on purpose: start-up time is this script's benchmark
# (no argparse, pathlib, re, socket or contextlib; each costs milliseconds to
# import). _signal is the C module under `signal`, without its enum wrappers
# (enum alone takes ~5 ms to import); the functions and numbers are the same.
import _signal as signal
import ctypes
import os
import struct
import sys
import time
from types import SimpleNamespace

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 32, 4096, 16384, 1 << 18, 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
AF_INET, SOCK_DGRAM = 2, 2
CGROUP_ROOT = "/sys/fs/cgroup"
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

libc = ctypes.CDLL(None, use_errno=True)


class ContainerError(Exception):
    """A problem the user can fix: printed as one line, exit status 125 (as docker run)."""


def check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
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


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def cgroup_version(controller: str) -> int:
    if os.path.exists(f"{CGROUP_ROOT}/{controller}/cgroup.procs"):
        return 1
    if controller in read(f"{CGROUP_ROOT}/cgroup.controllers").split():
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
        self.dirs: dict[str, str] = {}
        for controller in limits:
            if cgroup_version(controller) == 1:
                own = next(
                    (
                        line.split(":", 2)[2]
                        for line in read("/proc/self/cgroup").splitlines()
                        if controller in line.split(":", 2)[1].split(",")
                    ),
                    "/",
                )
                self.dirs[controller] = os.path.join(
                    CGROUP_ROOT, controller, own.lstrip("/"), self.name
                )
            else:
                self.dirs[controller] = os.path.join(CGROUP_ROOT, self.name)
        self.made: list[str] = []

    def __enter__(self) -> "Cgroup":
        try:
            for path in dict.fromkeys(self.dirs.values()):
                os.mkdir(path)
                self.made.append(path)
            for controller, files in self.limits.items():
                for names, value in files.items():
                    v1, v2 = names.split("|")
                    name = v1 if cgroup_version(controller) == 1 else v2
                    if name and os.path.exists(f"{self.dirs[controller]}/{name}"):
                        write(f"{self.dirs[controller]}/{name}", value)
        except BaseException:
            self.__exit__()
            raise
        return self

    def join(self) -> None:
        """Move the calling process into it (the container's PID 1, before exec).

        On v1, writing "0" (this thread) to `tasks` skips a system-wide lock that
        a write to cgroup.procs takes and waits for (an RCU grace period, ~7-20 ms):
        the process is single-threaded here, so one thread is the whole process.
        """
        for path in self.made:
            v1 = os.path.exists(f"{path}/tasks")
            write(f"{path}/tasks" if v1 else f"{path}/cgroup.procs", "0")

    def __exit__(self, *exc: object) -> None:
        """Kill anything left in it, then remove it (the kernel may need a moment)."""
        for _ in range(100):
            pids = [int(p) for d in self.made for p in read(f"{d}/cgroup.procs").split()]
            if not pids:
                break
            for pid in pids:
                try:  # noqa: SIM105 (contextlib.suppress would cost an import)
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:  # it ended on its own meanwhile
                    pass
            time.sleep(0.02)
        for path in reversed(self.made):
            for _ in range(50):
                try:
                    os.rmdir(path)
                    break
                except OSError:  # busy for a moment after its last process exits
                    time.sleep(0.002)


def limits_from(args: SimpleNamespace) -> dict[str, dict[str, str]]:
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
    s = libc.socket(AF_INET, SOCK_DGRAM, 0)  # any socket will do for these ioctls
    try:
        ifreq = ctypes.create_string_buffer(struct.pack("16sH22x", b"lo", 0))  # struct ifreq
        check(libc.ioctl(s, SIOCGIFFLAGS, ifreq), "ioctl SIOCGIFFLAGS")
        flags = struct.unpack("16sH22x", ifreq.raw[:40])[1]
        ifreq.raw = struct.pack("16sH22x", b"lo", flags | IFF_UP)
        check(libc.ioctl(s, SIOCSIFFLAGS, ifreq), "ioctl SIOCSIFFLAGS")
    finally:
        os.close(s)


def locked_flags(path: str) -> int:
    """Flags of the mount `path` is on; a user namespace may not drop them on remount."""
    f = os.statvfs(path).f_flag
    return f & (MS_NOSUID | MS_NODEV | MS_NOEXEC)  # ST_* and MS_* share these values


def setup_root(rootfs: str, args: SimpleNamespace) -> None:
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
    # pivot_root(".", ".") stacks the old root under the new one; detaching it
    # leaves no path back to the host's files (unlike chroot).
    check(libc.syscall(SYS_PIVOT_ROOT[os.uname().machine], b".", b"."), "pivot_root")
    check(libc.umount2(b".", MNT_DETACH), "umount2")
    os.chdir("/")


def find_program(name: str, path: str) -> str:
    """PATH search inside the new root. (os.execvpe would import a module for it, and
    after pivot_root the host's Python library is out of reach.)"""
    if "/" in name:
        return name
    for folder in path.split(":"):
        candidate = f"{folder}/{name}"
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    raise FileNotFoundError(2, f"{name}: command not found")


def container(rootfs: str, args: SimpleNamespace, cgroup: "Cgroup") -> None:
    """PID 1 of the new PID namespace: set up, then become the command. Never returns."""
    try:
        cgroup.join()  # first, so the limits cover everything the command starts
        check(libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET), "unshare")
        setup_root(rootfs, args)
        name = args.hostname.encode()
        check(libc.sethostname(name, len(name)), "sethostname")
        loopback_up()
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME": args.hostname,
            "HOME": "/root",
            "TERM": os.environ.get("TERM", "xterm"),
        }
        os.execve(find_program(args.command[0], env["PATH"]), args.command, env)
    except OSError as exc:
        print(f"minicontainer.py: {exc.strerror or exc}", file=sys.stderr)
        os._exit(127 if isinstance(exc, FileNotFoundError) else 125)
    except BaseException as exc:  # the child must never return into the parent's code
        print(f"minicontainer.py: {type(exc).__name__}: {exc}", file=sys.stderr)
        os._exit(125)


def run(args: SimpleNamespace) -> int:
    rootfs = os.path.realpath(args.rootfs)
    if rootfs == "/":
        raise ContainerError("the root filesystem must be a folder other than /")
    for needed in ("proc", "dev"):
        if not os.path.isdir(f"{rootfs}/{needed}"):
            raise ContainerError(f"{args.rootfs} has no /{needed} folder; is it a root filesystem?")
    for source, target, _ in args.volume:
        if not os.path.exists(source):
            raise ContainerError(f"volume source {source} does not exist")
        if not os.path.exists(os.path.join(rootfs, target.lstrip("/"))):
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
            write("/proc/self/setgroups", "deny")
            write("/proc/self/uid_map", f"0 {uid} 1")
            write("/proc/self/gid_map", f"0 {gid} 1")
        pid = os.fork()
        if pid == 0:  # PID 1 inside: joins the cgroup itself before anything else runs
            container(rootfs, args, cgroup)

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


USAGE = """usage: minicontainer.py [OPTIONS] ROOTFS COMMAND [ARG...]

A container runtime in one file: namespaces, pivot_root and cgroup limits.

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


class UsageError(Exception):
    """Bad command line: one line, exit status 2."""


def volume(text: str) -> tuple[str, str, bool]:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not parts[1].startswith("/") or parts[2:] not in ([], ["ro"]):
        raise UsageError(f"{text!r} is not HOST_PATH:/CONTAINER_PATH[:ro]")
    return os.path.abspath(parts[0]), parts[1], parts[2:] == ["ro"]


def size(text: str) -> int:
    number = text.rstrip("bB")
    unit = number[-1:].lower() if number[-1:].isalpha() else ""
    digits = number[: len(number) - len(unit)]
    if not digits.isdigit() or int(digits) == 0 or unit not in ("", "k", "m", "g"):
        raise UsageError(f"{text!r} is not a size like 256M")
    return int(digits) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[unit]


def number(kind: type, text: str) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a number") from None
    if value <= 0:
        raise UsageError(f"{text!r} must be more than 0")
    return value


def parse_args(argv: list[str]) -> SimpleNamespace:
    """Options come before ROOTFS; everything after ROOTFS is the command, as in docker run."""
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
        "--memory": ("memory", size),
        "--pids-limit": ("pids_limit", lambda t: number(int, t)),
        "--cpus": ("cpus", lambda t: number(float, t)),
        "--hostname": ("hostname", str),
        "-v": ("volume", volume),
        "--volume": ("volume", volume),
    }
    i = 0
    while i < len(argv):
        word = argv[i]
        name, _, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        if word in ("-h", "--help"):
            print(USAGE, end="")
            raise SystemExit(0)
        if word == "--read-only":
            args.read_only = True
        elif name in takes_value:
            if not inline and i + 1 >= len(argv):
                raise UsageError(f"{name} needs a value")
            value = inline or argv[i + 1]
            i += 0 if inline else 1
            attr, convert = takes_value[name]
            if attr == "volume":
                args.volume.append(convert(value))
            else:
                setattr(args, attr, convert(value))
        elif word.startswith("-"):
            raise UsageError(f"unknown option {word}")
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
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        print(f"minicontainer.py: {exc} (see --help)", file=sys.stderr)
        return 2
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
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skips the interpreter's teardown: nothing is left to clean up
