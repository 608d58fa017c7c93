#!/usr/bin/env python3
"""Run a command under cgroup limits, then show what the kernel counted.

    sudo python3 cgroups.py --memory 64M -- python3 -c 'b"x" * 200_000_000'
    sudo python3 cgroups.py --pids-limit 32 -- python3 -c '...a fork bomb...'
    sudo python3 cgroups.py --cpus 0.2 -- python3 -c 'while True: pass'

This is what `docker run --memory 64m --pids-limit 32 --cpus 0.2` asks of the
kernel. It works on cgroup v2 (current distributions, GitHub's runners) and
on the older cgroup v1, where each controller has its own hierarchy. It makes
one cgroup with a unique name, moves only the command into it, and removes it
afterwards, also after Ctrl-C, SIGTERM or a failing command.

Exit status, as docker run's: the command's own; 125 when this script fails or
is misused; 126 when the command cannot be run, 127 when it is not found;
128 + n when it was killed by signal n (137: SIGKILL, the OOM killer's), or when
signal n (Ctrl-C: 130, SIGTERM: 143, SIGHUP: 129) stopped it. Standard library only,
Python 3.11+, Linux, root (see --help for the rootless way). Needs plumbing.py.
"""

import _signal  # the C module under `signal`, which imports enum first (~3 ms)
import sys

if __name__ == "__main__":  # stop signals wait until we are ready (plumbing.Stop)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP})
    # Run with sudo, Python would leave root's __pycache__ in the reader's clone.
    sys.dont_write_bytecode = True

import os
import time

import plumbing
from plumbing import Stop, UsageError, become, fork, say, write

PROG = "cgroups.py"


# --8<-- [start:cgroup]
class Cgroup:
    """A new cgroup named <prefix>-<pid>-<random>, for the controllers given.

    v1: a child of our own cgroup in each controller's hierarchy, so any limit
    set on us still applies. v2: a child of the hierarchy's root, the one place
    where controllers are always enabled for children (the "no internal
    processes" rule forbids enabling them below a cgroup that has processes).
    """

    def __init__(self, prefix: str, controllers: list[str]) -> None:
        self.prefix, self.name = prefix, f"{prefix}-{os.getpid()}-{os.urandom(3).hex()}"
        self.version: dict[str, int] = {}
        self.dirs: dict[str, str] = {}
        for controller in controllers:
            version, root, own = locate(controller)
            if version == 2 and controller not in read(f"{root}/cgroup.subtree_control").split():
                raise UsageError(f"the cgroup v2 root does not enable {controller} for children")
            self.version[controller] = version
            self.dirs[controller] = os.path.join(own if version == 1 else root, self.name)
        self.made: list[str] = []

    def create(self) -> None:
        if self.dirs:
            remove_stale(self.prefix)
        for path in dict.fromkeys(self.dirs.values()):  # v2: one folder for all
            try:
                os.mkdir(path)
            except PermissionError:
                raise UsageError(
                    "making a cgroup needs root. Without root, ask systemd for one: "
                    "systemd-run --user --scope -p MemoryMax=64M -p TasksMax=32 "
                    "-p CPUQuota=20% COMMAND"
                ) from None
            except OSError as exc:  # e.g. read-only inside a container
                raise UsageError(f"cannot create the cgroup {path}: {exc.strerror}") from None
            self.made.append(path)

    def file(self, controller: str, v1: str, v2: str) -> str:
        return f"{self.dirs[controller]}/{v1 if self.version[controller] == 1 else v2}"

    def write(self, controller: str, v1: str, v2: str, value: str) -> None:
        path = self.file(controller, v1, v2)
        try:
            write(path, value)
        except OSError as exc:
            raise UsageError(f"the kernel refused {value} for {path}: {exc.strerror}") from None

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
        for path in reversed(self.made):
            empty_and_remove(path)
        self.made = [p for p in self.made if os.path.exists(p)]


def set_limits(cg: Cgroup, memory: int | None, pids_limit: int | None, cpus: float | None) -> None:
    """The limits of docker run --memory, --pids-limit and --cpus, in v1's or v2's files."""
    if memory:
        cg.write("memory", "memory.limit_in_bytes", "memory.max", str(memory))
        # No swap either, or the kernel would swap instead of killing: docker run's
        # --memory-swap equal to --memory (--memory alone allows as much swap again).
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


# --8<-- [end:cgroup]


# --8<-- [start:run]
def run(args) -> int:
    """Make the cgroup, run the command in it, report, remove the cgroup."""
    controllers = [
        c
        for c, on in (("memory", args.memory), ("pids", args.pids_limit), ("cpu", args.cpus))
        if on
    ]
    cg = Cgroup("docker-basics", controllers)
    try:
        cg.create()
        set_limits(cg, args.memory, args.pids_limit, args.cpus)
        pid = fork()
        if pid == 0:  # the child joins the cgroup first: not one instruction runs unlimited
            become(args.command, setup=cg.join, failing="cannot join the cgroup")
        status = Stop.wait_for(pid, timeout=args.timeout)
        if Stop.timed_out:
            say(f"stopped the command after {args.timeout:g} s")
        elif Stop.killed_by and not Stop.signum:
            name = signal_name(Stop.killed_by)
            oom = " (the OOM killer's signal)" if name == "SIGKILL" else ""
            print(f"the command was killed by {name}{oom}")
        for line in report(cg, args):
            print(line)
        return status
    finally:
        cg.remove()


def report(cg: Cgroup, args) -> list[str]:
    """What the kernel counted: OOM kills, refused forks, throttled CPU periods."""
    lines = []
    if args.memory:
        events = cg.read("memory", "memory.oom_control", "memory.events")
        kills = counters(events).get("oom_kill", 0)
        lines.append(f"memory: limit {args.memory} bytes, OOM kills: {kills}")
    if args.pids_limit:
        refused = counters(cg.read("pids", "pids.events", "pids.events")).get("max", 0)
        left = cg.read("pids", "pids.current", "pids.current").strip()
        lines.append(f"pids: limit {args.pids_limit}, forks refused: {refused}, left: {left}")
    if args.cpus:
        stat = counters(cg.read("cpu", "cpu.stat", "cpu.stat"))
        throttled_us = stat.get("throttled_usec", stat.get("throttled_time", 0) // 1000)
        lines.append(
            f"cpu: limit {args.cpus} CPUs, periods: {stat.get('nr_periods', 0)}, "
            f"throttled: {stat.get('nr_throttled', 0)} ({throttled_us / 1e6:.2f} s)"
        )
    return lines


# --8<-- [end:run]


# ===================================================================================
# Plumbing of this script: where the cgroups are, stale ones, the command line.
# The rest is in plumbing.py, shared by every script of this folder.
# ===================================================================================

SELF_CGROUP, MOUNTINFO = "/proc/self/cgroup", "/proc/self/mountinfo"


def read(path: str) -> str:
    with open(path, errors="surrogateescape") as f:  # a mount point's name may not be UTF-8
        return f.read()


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
    raise UsageError(f"the {controller} cgroup controller is not available on this machine")


def empty_and_remove(path: str) -> None:
    for _ in range(100):
        try:
            pids = {int(p) for p in read(f"{path}/cgroup.procs").split()}
        except FileNotFoundError:
            return
        if not pids:
            break
        for pid in pids:
            try:  # noqa: SIM105 (contextlib.suppress: one import more, for minicontainer)
                os.kill(pid, _signal.SIGKILL)
            except ProcessLookupError:  # it ended on its own meanwhile
                pass
        time.sleep(0.02)
    for _ in range(250):  # busy for a moment after its last process exits
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.002)


STALE_AFTER = 2.0  # seconds: a live run's cgroup is empty only for moments, at its start


def remove_stale(prefix: str) -> None:
    """Remove empty cgroups <prefix>-<pid>-<random> whose maker has died, where we would
    make ours: one killed by SIGKILL cannot remove its own (its command died with it, see
    plumbing.fork)."""
    folders = set()
    for controller in ("memory", "pids", "cpu"):
        try:
            version, root, own = locate(controller)
        except (UsageError, OSError):
            continue
        folders.add(own if version == 1 else root)
    for folder in folders:
        try:
            names = [n for n in os.listdir(folder) if n.startswith(prefix + "-")]
        except OSError:
            continue
        remove_stale_in(folder, names, prefix)


def remove_stale_in(folder: str, names: list[str], prefix: str) -> None:
    for name in names:
        pid, _, tag = name[len(prefix) + 1 :].partition("-")
        if not (pid.isdigit() and len(tag) == 6) or alive(int(pid)):
            continue
        path = os.path.join(folder, name)
        try:
            made = os.stat(path).st_mtime
            empty = not read(f"{path}/cgroup.procs").strip()
        except OSError:
            continue
        if empty and time.time() - made > STALE_AFTER:  # another PID namespace's, just made?
            try:  # noqa: SIM105
                os.rmdir(path)
            except OSError:
                pass


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def counters(text: str) -> dict[str, int]:
    """`key value` lines (memory.events, cpu.stat, memory.oom_control) as a dict."""
    pairs = (line.split() for line in text.splitlines())
    return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].isdigit()}


def signal_name(signum: int) -> str:
    import signal

    return signal.Signals(signum).name


def main(argv: list[str] | None = None) -> int:
    plumbing.PROG = PROG
    parser = plumbing.parser(
        description="Run a command in a new cgroup with limits, then print the kernel's counters.",
        epilog="Without root: systemd-run --user --scope -p MemoryMax=64M -p TasksMax=32 "
        "-p CPUQuota=20% COMMAND (systemd delegates these controllers to users).",
    )
    parser.add_argument("--memory", type=plumbing.size, help="memory limit, e.g. 64M (no swap)")
    parser.add_argument(
        "--pids-limit", type=plumbing.pids_limit, help="most processes and threads at once"
    )
    parser.add_argument("--cpus", type=plumbing.cpus, help="CPU time as a number of CPUs, e.g. 0.5")
    parser.add_argument(
        "--timeout", type=plumbing.seconds, default=60, help="stop the command after this"
    )
    parser.add_argument("--version", action="store_true", help="print the cgroup version in use")
    parser.add_argument("command", nargs="*", help="the command; put -- before it")
    args = parser.parse_args(argv)
    if not args.version and not args.command:
        parser.error("give a command to run, after --")
    if not args.version and not (args.memory or args.pids_limit or args.cpus):
        parser.error("give at least one limit: --memory, --pids-limit or --cpus")
    Stop.take_over()
    if args.version:
        return plumbing.guarded(versions)
    return plumbing.guarded(lambda: run(args), "the command ended and the cgroup is removed")


def versions() -> int:
    for controller in ("memory", "cpu", "pids"):
        print(f"{controller}: cgroup v{locate(controller)[0]}")
    return 0


if __name__ == "__main__":
    plumbing.as_script(main, PROG)
