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
cgroup (v1 or v2). Everything is undone when it ends, also after Ctrl-C or
SIGTERM: the namespaces die with their last process, and the cgroup is removed.
Without root it runs in a user namespace, with no limits (cgroups need root).

Exit status, as docker run's: the command's own; 125 when this script fails or
is misused; 126 when the command cannot be run, 127 when it is not found;
128 + n when signal n killed it (137: SIGKILL, the OOM killer's) or stopped
the container (Ctrl-C: 130, SIGTERM: 143, SIGHUP: 129). Standard library only (ctypes for
mount, umount2, pivot_root, unshare), Python 3.11+, Linux.
"""

# Start-up time is this script's benchmark: about 27 ms against 323 ms for
# `docker run --rm` on the same root filesystem (benchmarks/container_start.py).
# What it takes, all of it here:
# - Few and light imports: no argparse, pathlib, re, socket or contextlib (each
#   costs milliseconds), and _signal, the C module under `signal`, without its
#   enum wrappers (enum alone takes ~5 ms to import). Hence the hand-made
#   command-line parser at the end, and find_program instead of os.execvpe.
# - Joining the cgroup through v1's `tasks` file (Cgroup.join says why).
# - os._exit at the very end: it skips the interpreter's teardown.
import _signal as signal

if __name__ == "__main__":  # Ctrl-C and SIGTERM wait until we are ready (see Stop, below)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})

import ctypes
import os
import struct
import sys
import time
from types import SimpleNamespace

PROG = "minicontainer.py"
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 32, 4096, 16384, 1 << 18, 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
AF_INET, SOCK_DGRAM = 2, 2
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
HOST_NAME_MAX = 64


class CgroupError(Exception):
    """A problem the user can fix: printed as one line, exit status 125 (as docker run)."""


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


# --- cgroups: the same code in cgroups.py and minicontainer.py -------------------

SELF_CGROUP, MOUNTINFO = "/proc/self/cgroup", "/proc/self/mountinfo"


def read(path: str) -> str:
    with open(path, errors="surrogateescape") as f:  # a mount point's name may not be UTF-8
        return f.read()


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def locate(controller: str) -> tuple[int, str, str]:
    """(cgroup version, where its hierarchy is mounted, this process's own cgroup folder).

    /proc/self/cgroup names our cgroup as a path in the hierarchy: one line per
    hierarchy on v1 ("4:memory:/user.slice"), one line "0::/path" on v2.
    /proc/self/mountinfo says where each hierarchy is mounted, and which of its
    folders is at the mount point (the 4th field). They differ inside a container
    on v1: the line says /docker/<id>, and that very folder is mounted at
    /sys/fs/cgroup/memory, so our folder is the mount point itself.
    """
    paths = {}
    for line in read(SELF_CGROUP).splitlines():
        _, names, path = line.split(":", 2)
        for name in names.split(","):
            paths[name] = path  # "" is the v2 hierarchy
    v2 = None
    for line in read(MOUNTINFO).splitlines():
        fields = line.split()
        dash = fields.index("-")
        mounted, at, fstype = fields[3], fields[4], fields[dash + 1]
        if fstype == "cgroup" and controller in fields[dash + 3].split(","):
            version, path = 1, paths.get(controller, "/")
        elif fstype == "cgroup2" and v2 is None:
            version, path = 2, paths.get("", "/")
        else:
            continue
        inside = os.path.relpath(path, mounted) if path.startswith(mounted) else "."
        found = (version, at, os.path.normpath(os.path.join(at, inside)))
        if version == 1:
            return found
        v2 = found
    if v2 and controller in read(f"{v2[1]}/cgroup.controllers").split():
        return v2
    raise CgroupError(f"the {controller} cgroup controller is not available on this machine")


class Cgroup:
    """A new cgroup named <prefix>-<pid>-<random>, for the controllers given.

    v1: a child of our own cgroup in each controller's hierarchy, so any limit
    set on us still applies. v2: a child of the hierarchy's root, the one place
    where controllers are always enabled for children (the "no internal
    processes" rule forbids enabling them below a cgroup that has processes).
    """

    def __init__(self, prefix: str, controllers: list[str]) -> None:
        self.name = f"{prefix}-{os.getpid()}-{os.urandom(3).hex()}"
        self.version: dict[str, int] = {}
        self.dirs: dict[str, str] = {}
        for controller in controllers:
            version, root, own = locate(controller)
            if version == 2 and controller not in read(f"{root}/cgroup.subtree_control").split():
                raise CgroupError(f"the cgroup v2 root does not enable {controller} for children")
            self.version[controller] = version
            self.dirs[controller] = os.path.join(own if version == 1 else root, self.name)
        self.made: list[str] = []

    def create(self) -> None:
        for path in dict.fromkeys(self.dirs.values()):  # v2: one folder for all
            try:
                os.mkdir(path)
            except PermissionError:
                raise CgroupError(
                    "making a cgroup needs root. Without root, ask systemd for one: "
                    "systemd-run --user --scope -p MemoryMax=64M -p TasksMax=32 "
                    "-p CPUQuota=20% COMMAND"
                ) from None
            except OSError as exc:  # e.g. read-only inside a container
                raise CgroupError(f"cannot create the cgroup {path}: {exc.strerror}") from None
            self.made.append(path)

    def file(self, controller: str, v1: str, v2: str) -> str:
        return f"{self.dirs[controller]}/{v1 if self.version[controller] == 1 else v2}"

    def write(self, controller: str, v1: str, v2: str, value: str) -> None:
        path = self.file(controller, v1, v2)
        try:
            write(path, value)
        except OSError as exc:
            raise CgroupError(f"the kernel refused {value} for {path}: {exc.strerror}") from None

    def read(self, controller: str, v1: str, v2: str) -> str:
        return read(self.file(controller, v1, v2))

    def join(self) -> None:
        """Move the calling process in (the command, between fork and exec).

        On v1, writing "0" (this thread) to `tasks` skips a system-wide lock that a
        write to cgroup.procs takes and waits for (an RCU grace period, ~7-20 ms):
        the process is single-threaded here, so one thread is the whole process.
        """
        for path in self.made:
            v1 = os.path.exists(f"{path}/tasks")
            write(f"{path}/tasks" if v1 else f"{path}/cgroup.procs", "0")

    def remove(self) -> None:
        """Kill whatever is left in it (a fork bomb's children), then remove it."""
        for _ in range(100):
            pids = {int(p) for d in self.made for p in read(f"{d}/cgroup.procs").split()}
            if not pids:
                break
            for pid in pids:
                try:  # noqa: SIM105 (contextlib.suppress: one import more, for minicontainer)
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:  # it ended on its own meanwhile
                    pass
            time.sleep(0.02)
        for path in reversed(self.made):
            for _ in range(250):  # busy for a moment after its last process exits
                try:
                    os.rmdir(path)
                    break
                except OSError:
                    time.sleep(0.002)
        self.made = [p for p in self.made if os.path.exists(p)]


def set_limits(cg: Cgroup, memory: int | None, pids_limit: int | None, cpus: float | None) -> None:
    """The limits of docker run --memory, --pids-limit and --cpus, in v1's or v2's files."""
    if memory:
        cg.write("memory", "memory.limit_in_bytes", "memory.max", str(memory))
        # No swap either, or the kernel would swap instead of killing (docker does the same).
        if cg.version["memory"] == 2:
            if os.path.exists(cg.file("memory", "", "memory.swap.max")):
                cg.write("memory", "", "memory.swap.max", "0")
        elif os.path.exists(cg.file("memory", "memory.memsw.limit_in_bytes", "")):
            cg.write("memory", "memory.memsw.limit_in_bytes", "", str(memory))
    if pids_limit:
        cg.write("pids", "pids.max", "pids.max", str(pids_limit))
    if cpus:
        period = 100_000  # microseconds, the kernel's and Docker's default
        quota = round(cpus * period)
        if cg.version["cpu"] == 2:
            cg.write("cpu", "", "cpu.max", f"{quota} {period}")
        else:
            cg.write("cpu", "cpu.cfs_period_us", "", str(period))
            cg.write("cpu", "cpu.cfs_quota_us", "", str(quota))


# --- inside the new namespaces ---------------------------------------------------


def loopback_up() -> None:
    """A new network namespace has only `lo`, and it is down: bring it up."""
    s = libc.socket(AF_INET, SOCK_DGRAM, 0)  # any socket will do for these ioctls
    try:
        ifreq = ctypes.create_string_buffer(struct.pack("16sH22x", b"lo", 0))  # struct ifreq
        check(libc.ioctl(s, SIOCGIFFLAGS, ifreq), "ioctl SIOCGIFFLAGS lo")
        flags = struct.unpack("16sH22x", ifreq.raw[:40])[1]
        ifreq.raw = struct.pack("16sH22x", b"lo", flags | IFF_UP)
        check(libc.ioctl(s, SIOCSIFFLAGS, ifreq), "ioctl SIOCSIFFLAGS lo")
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
    check(libc.umount2(b".", MNT_DETACH), "umount2 (the old root)")
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
    raise FileNotFoundError(2, "command not found", name)


def container(rootfs: str, args: SimpleNamespace, cgroup: Cgroup) -> None:
    """PID 1 of the new PID namespace: set up, then become the command. Never returns."""
    try:
        Stop.in_child()
        cgroup.join()  # first, so the limits cover everything the command starts
        check(libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET), "unshare")
        setup_root(rootfs, args)
        name = args.hostname.encode()
        check(libc.sethostname(name, len(name)), f"sethostname {args.hostname}")
        loopback_up()
        env = {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME": args.hostname,
            "HOME": "/root",
            "TERM": os.environ.get("TERM", "xterm"),
        }
    except OSError as exc:
        print(f"{PROG}: cannot set up the container: {describe(exc)}", file=sys.stderr)
        os._exit(125)
    except BaseException as exc:  # the child must never return into the parent's code
        print(f"{PROG}: cannot set up the container: {type(exc).__name__}: {exc}", file=sys.stderr)
        os._exit(125)
    try:
        os.execve(find_program(args.command[0], env["PATH"]), args.command, env)
    except OSError as exc:
        os._exit(cannot_run(args.command[0], exc))
    except BaseException:
        os._exit(125)


def run(args: SimpleNamespace) -> int:
    rootfs = os.path.realpath(absolute(args.rootfs))
    if rootfs == "/":
        raise UsageError("the root filesystem must be a folder other than /, the host's own")
    try:
        os.listdir(rootfs)
    except PermissionError:
        raise UsageError(
            f"may not look into {args.rootfs} (permission denied); run with sudo"
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
        try:
            check(libc.unshare(CLONE_NEWPID | (CLONE_NEWUSER if rootless else 0)), "unshare")
        except OSError as exc:
            why = "user namespaces are not allowed here" if rootless else "run with sudo"
            raise CgroupError(f"cannot create namespaces ({exc.strerror}); {why}") from None
        if rootless:
            uid, gid = os.geteuid(), os.getegid()
            write("/proc/self/setgroups", "deny")
            write("/proc/self/uid_map", f"0 {uid} 1")
            write("/proc/self/gid_map", f"0 {gid} 1")
        pid = os.fork()
        if pid == 0:  # PID 1 inside: joins the cgroup itself before anything else runs
            container(rootfs, args, cgroup)
        return Stop.wait_for(pid, pid1=True)
    finally:
        cgroup.remove()


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


# --- limits on the command line: the same checks in cgroups.py and minicontainer.py --

UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}
MAX_PIDS = 4_194_304  # the kernel's largest pid_max


def size(text: str) -> int:
    """--memory: '64M' -> bytes (K, M or G, an optional B), as docker run reads it."""
    number = text.strip().upper().removesuffix("B")
    unit = number[-1:] if number[-1:] in ("K", "M", "G") else ""
    digits = number[: len(number) - len(unit)]
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 15 or int(digits) == 0:
        raise UsageError(f"{text!r} is not a size like 64M or 1G")
    if int(digits) * UNITS[unit] < 6 * 2**20:
        raise UsageError(f"{text!r} is less than 6M, docker run's minimum (a process needs it)")
    if int(digits) * UNITS[unit] > 2**50:
        raise UsageError(f"{text!r} is more than any machine has (1 PiB)")
    return int(digits) * UNITS[unit]


def pids_limit(text: str) -> int:
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or not 1 <= int(digits) <= MAX_PIDS:
        raise UsageError(f"{text!r} is not a whole number from 1 to {MAX_PIDS}")
    return int(digits)


def decimal(text: str) -> float:
    """float(), but of ASCII only: float() also reads '١٢' (Arabic-Indic digits) and '1_0'."""
    return float(text) if text.isascii() and "_" not in text else float("nan")


def cpus(text: str) -> float:
    """--cpus: CPUs' worth of time, from 0.01 to the CPUs there are (docker's range)."""
    most = os.cpu_count() or 1
    try:
        value = decimal(text)
    except ValueError:
        value = float("nan")
    if not 0.01 <= value <= most:  # false for nan, too
        raise UsageError(f"{text!r} is not a number of CPUs from 0.01 to {most}")
    return value


# --- the command line (by hand: argparse takes milliseconds to import) -------------

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
    """Bad command line or root filesystem: one line, exit status 125 (as docker run)."""


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
    return absolute(parts[0]), parts[1], parts[2:] == ["ro"]


def absolute(path: str) -> str:
    try:
        return os.path.abspath(path)
    except FileNotFoundError:  # from os.getcwd(), without a file name
        raise UsageError(f"cannot find {path}: the working directory was deleted") from None


def hostname(text: str) -> str:
    try:
        size = len(text.encode())
    except UnicodeEncodeError:  # bytes that are not UTF-8, passed on by the shell as they were
        raise UsageError(f"{text!r} is not UTF-8 text; give a host name such as box") from None
    if not 0 < size <= HOST_NAME_MAX:
        raise UsageError(f"{text!r} is not a host name of 1 to {HOST_NAME_MAX} characters")
    return text


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
        "--pids-limit": ("pids_limit", pids_limit),
        "--cpus": ("cpus", cpus),
        "--hostname": ("hostname", hostname),
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
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        Stop.take_over()
    except UsageError as exc:
        print(f"{PROG}: {exc} (see --help)", file=sys.stderr)
        return 125
    try:
        status = run(args)
        Stop.check()
        return status
    except (UsageError, CgroupError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 125
    except OSError as exc:  # e.g. a folder we may not read: one line, as docker run says it
        print(f"{PROG}: {describe(exc)}", file=sys.stderr)
        return 125
    except Stopped as stop:
        what = "the container is stopped and its cgroup removed"
        print(stopped_message(stop.signum, what), file=sys.stderr)
        return 128 + stop.signum


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skips the interpreter's teardown: nothing is left to clean up
