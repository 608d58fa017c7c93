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
Python 3.11+, Linux, root (see --help for the rootless way).
"""

from __future__ import annotations

import _signal  # the C module under `signal`, which imports enum first (~3 ms)

if __name__ == "__main__":  # Ctrl-C and SIGTERM wait until we are ready (see Stop, below)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP})

import argparse
import errno
import math
import os
import re
import signal
import subprocess
import sys
import time

PROG = "cgroups.py"


class CgroupError(Exception):
    """A problem the user can fix: printed as one line, exit status 125."""


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


# --- what this script does ----------------------------------------------------


def counters(text: str) -> dict[str, int]:
    """`key value` lines (memory.events, cpu.stat, memory.oom_control) as a dict."""
    return {k: int(v) for k, v in re.findall(r"^(\w+) (\d+)$", text, re.M)}


def report(cg: Cgroup, args: argparse.Namespace) -> list[str]:
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


def run(args: argparse.Namespace) -> int:
    """Make the cgroup, run the command in it, report, remove the cgroup.

    Ctrl-C and SIGTERM are held back meanwhile (see Stop): they reach the
    command once it runs, and cannot cut the making or the removing in half.
    """
    controllers = [
        c
        for c, on in (("memory", args.memory), ("pids", args.pids_limit), ("cpu", args.cpus))
        if on
    ]
    cg = Cgroup("docker-basics", controllers)
    try:
        cg.create()
        set_limits(cg, args.memory, args.pids_limit, args.cpus)
        try:
            # The child joins the cgroup before it runs the command (preexec_fn runs in
            # the child between fork and exec): not one instruction runs unlimited.
            child = subprocess.Popen(args.command, preexec_fn=lambda: in_child(cg))
        except OSError as exc:
            return cannot_run(args.command[0], exc)
        status = Stop.wait_for(child.pid, timeout=args.timeout)
        if Stop.timed_out:
            print(f"{PROG}: stopped the command after {args.timeout:g} s", file=sys.stderr)
        elif Stop.killed_by and not Stop.signum:
            name = signal.Signals(Stop.killed_by).name
            oom = " (the OOM killer's signal)" if Stop.killed_by == signal.SIGKILL else ""
            print(f"the command was killed by {name}{oom}")
        for line in report(cg, args):
            print(line)
        return status
    finally:
        cg.remove()


def in_child(cg: Cgroup) -> None:
    """Runs in the child between fork and exec."""
    cg.join()
    Stop.in_child()


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


# --- the command line -----------------------------------------------------------

UsageError = argparse.ArgumentTypeError  # argparse prints it as "argument --flag: message"


def seconds(text: str) -> float:
    try:
        value = decimal(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 7 * 86400:
        raise UsageError(f"{text!r} is not a number of seconds from 0 to 604800 (a week)")
    return value


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, and docker run's status for bad flags
        self.exit(125, f"{self.prog}: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(
        prog=PROG,
        description="Run a command in a new cgroup with limits, then print the kernel's counters.",
        epilog="Without root: systemd-run --user --scope -p MemoryMax=64M -p TasksMax=32 "
        "-p CPUQuota=20% COMMAND (systemd delegates these controllers to users).",
    )
    parser.add_argument("--memory", type=size, help="memory limit, e.g. 64M (no swap)")
    parser.add_argument("--pids-limit", type=pids_limit, help="most processes and threads at once")
    parser.add_argument("--cpus", type=cpus, help="CPU time as a number of CPUs, e.g. 0.5")
    parser.add_argument("--timeout", type=seconds, default=60, help="stop the command after this")
    parser.add_argument("--version", action="store_true", help="print the cgroup version in use")
    parser.add_argument("command", nargs="*", help="the command; put -- before it")
    args = parser.parse_args(argv)
    Stop.take_over()
    try:
        if args.version:
            for controller in ("memory", "cpu", "pids"):
                print(f"{controller}: cgroup v{locate(controller)[0]}")
            return 0
        if not args.command:
            parser.error("give a command to run, after --")
        if not (args.memory or args.pids_limit or args.cpus):
            parser.error("give at least one limit: --memory, --pids-limit or --cpus")
        status = run(args)
        Stop.check()
        return status
    except CgroupError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 125
    except OSError as exc:  # a fork refused (a process limit), the output's disk full
        why = exc.strerror
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EPIPE):  # the output
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # not retried at exit
            why = f"cannot write the output: {exc.strerror}"
        print(f"{PROG}: {why}", file=sys.stderr)
        return 125
    except Stopped as stop:
        print(
            stopped_message(stop.signum, "the command ended and the cgroup is removed"),
            file=sys.stderr,
        )
        return 128 + stop.signum


if __name__ == "__main__":
    sys.exit(main())
