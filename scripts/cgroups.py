#!/usr/bin/env python3
"""Run a command under cgroup limits, then show what the kernel counted.

    sudo python3 cgroups.py --memory 64M -- python3 -c 'b"x" * 200_000_000'
    sudo python3 cgroups.py --pids 32 -- python3 -c '...a fork bomb...'
    sudo python3 cgroups.py --cpus 0.2 -- python3 -c 'while True: pass'

This is what `docker run --memory 64m --pids-limit 32 --cpus 0.2` asks of the
kernel. It works on cgroup v2 (current distributions, GitHub's runners) and
on the older cgroup v1, where each controller has its own hierarchy. It makes
one cgroup with a unique name, moves only the command into it, and removes it
afterwards, also after Ctrl-C or a failing command. Standard library only,
Python 3.11+, Linux, root (see --help for the rootless way).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}


class CgroupError(Exception):
    """A problem the user can fix: printed as one line, exit status 1."""


def version(controller: str) -> int:
    """Which cgroup version runs this controller here: 1 or 2."""
    if (CGROUP_ROOT / controller / "cgroup.procs").exists():
        return 1  # v1: one hierarchy per controller, /sys/fs/cgroup/memory/...
    controllers = CGROUP_ROOT / "cgroup.controllers"
    if controllers.exists() and controller in controllers.read_text().split():
        return 2  # v2: one hierarchy, controllers listed in cgroup.controllers
    raise CgroupError(f"the {controller} controller is not available on this machine")


def own_path(controller: str) -> str:
    """This process's cgroup for a v1 controller, from /proc/self/cgroup."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path
    return "/"


class Cgroup:
    """One new cgroup, in every hierarchy the asked-for controllers need.

    v1: a child of our own cgroup in each controller's hierarchy, so any limit
    set on us still applies. v2: a child of the root, the one place where
    controllers are always enabled for children (the "no internal processes"
    rule forbids enabling them below a cgroup that has processes).
    """

    def __init__(self, controllers: list[str]) -> None:
        self.name = f"docker-basics-{os.getpid()}-{secrets.token_hex(3)}"
        self.dirs: dict[str, Path] = {}
        for controller in controllers:
            if version(controller) == 1:
                base = CGROUP_ROOT / controller / own_path(controller).lstrip("/")
            else:
                base = CGROUP_ROOT
                enabled = (base / "cgroup.subtree_control").read_text().split()
                if controller not in enabled:
                    raise CgroupError(f"the v2 root does not enable {controller} for children")
            self.dirs[controller] = base / self.name
        self.made: list[Path] = []

    def create(self) -> None:
        for path in dict.fromkeys(self.dirs.values()):  # v2: one folder for all
            try:
                path.mkdir()
            except PermissionError:
                raise CgroupError(
                    "making a cgroup needs root. Without root, ask systemd for one: "
                    "systemd-run --user --scope -p MemoryMax=64M -p TasksMax=32 "
                    "-p CPUQuota=20% COMMAND"
                ) from None
            self.made.append(path)

    def file(self, controller: str, v1: str, v2: str) -> Path:
        return self.dirs[controller] / (v1 if version(controller) == 1 else v2)

    def write(self, controller: str, v1: str, v2: str, value: str) -> None:
        self.file(controller, v1, v2).write_text(value)

    def read(self, controller: str, v1: str, v2: str) -> str:
        return self.file(controller, v1, v2).read_text()

    def add(self, pid: int) -> None:
        for path in dict.fromkeys(self.dirs.values()):
            (path / "cgroup.procs").write_text(str(pid))

    def pids(self) -> set[int]:
        return {int(p) for d in self.made for p in (d / "cgroup.procs").read_text().split()}

    def remove(self) -> None:
        """Kill whatever is left in it (a fork bomb's children), then remove it."""
        for _ in range(100):
            left = self.pids()
            if not left:
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        for path in reversed(self.made):
            for _ in range(50):  # the kernel frees a dying cgroup a moment later
                try:
                    path.rmdir()
                    break
                except OSError:
                    time.sleep(0.05)
        self.made = [p for p in self.made if p.exists()]


def counters(cg: Cgroup, text: str) -> dict[str, int]:
    """`key value` lines (memory.events, cpu.stat, memory.oom_control) as a dict."""
    return {k: int(v) for k, v in re.findall(r"^(\w+) (\d+)$", text, re.M)}


def apply_limits(cg: Cgroup, args: argparse.Namespace) -> None:
    if args.memory:
        cg.write("memory", "memory.limit_in_bytes", "memory.max", str(args.memory))
        # No swap either, or the kernel would swap instead of killing (docker does the same).
        if version("memory") == 2:
            if (swap := cg.dirs["memory"] / "memory.swap.max").exists():
                swap.write_text("0")
        elif (memsw := cg.dirs["memory"] / "memory.memsw.limit_in_bytes").exists():
            memsw.write_text(str(args.memory))
    if args.pids:
        cg.write("pids", "pids.max", "pids.max", str(args.pids))
    if args.cpus:
        period = 100_000  # microseconds, the kernel's and Docker's default
        quota = int(args.cpus * period)
        if version("cpu") == 2:
            cg.write("cpu", "", "cpu.max", f"{quota} {period}")
        else:
            cg.write("cpu", "cpu.cfs_period_us", "", str(period))
            cg.write("cpu", "cpu.cfs_quota_us", "", str(quota))


def report(cg: Cgroup, args: argparse.Namespace) -> list[str]:
    lines = []
    if args.memory:
        if version("memory") == 2:
            kills = counters(cg, cg.read("memory", "", "memory.events")).get("oom_kill", 0)
        else:
            kills = counters(cg, cg.read("memory", "memory.oom_control", "")).get("oom_kill", 0)
        lines.append(f"memory: limit {args.memory} bytes, OOM kills: {kills}")
    if args.pids:
        events = counters(cg, cg.read("pids", "pids.events", "pids.events"))
        current = cg.read("pids", "pids.current", "pids.current").strip()
        lines.append(
            f"pids: limit {args.pids}, forks refused: {events.get('max', 0)}, left: {current}"
        )
    if args.cpus:
        stat = counters(cg, cg.read("cpu", "cpu.stat", "cpu.stat"))
        throttled_us = stat.get("throttled_usec", stat.get("throttled_time", 0) // 1000)
        lines.append(
            f"cpu: limit {args.cpus} CPUs, periods: {stat.get('nr_periods', 0)}, "
            f"throttled: {stat.get('nr_throttled', 0)} ({throttled_us / 1e6:.2f} s)"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    controllers = [
        c for c, on in (("memory", args.memory), ("pids", args.pids), ("cpu", args.cpus)) if on
    ]
    cg = Cgroup(controllers)
    # Ctrl-C is held back while the cgroup is made and the command started, and
    # delivered once both exist: a Ctrl-C in between used to leave the command
    # running (Popen interrupted after its fork) and the cgroup behind.
    hold_ctrl_c(True)
    try:
        cg.create()
        child = None
        try:
            apply_limits(cg, args)
            # The child joins the cgroup before it runs the command (preexec_fn runs
            # in the child between fork and exec), so not one instruction runs
            # unlimited; it takes Ctrl-C again before the exec.
            child = subprocess.Popen(args.command, preexec_fn=lambda: start_in(cg))
            hold_ctrl_c(False)  # a Ctrl-C held back is raised here, with child set
            status = child.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            status = child.wait()
            print(f"cgroups.py: stopped the command after {args.timeout} s", file=sys.stderr)
        except BaseException:  # Ctrl-C, or the command could not start
            if child:
                child.kill()
                child.wait()
            raise
        if status < 0:  # killed by a signal; a shell reports 128 + the signal's number
            name = signal.Signals(-status).name
            print(
                f"the command was killed by {name}"
                + (" (the OOM killer's signal)" if -status == signal.SIGKILL else "")
            )
        for line in report(cg, args):
            print(line)
        return 128 - status if status < 0 else status  # the command's status, like docker run
    finally:
        hold_ctrl_c(True)
        cg.remove()
        hold_ctrl_c(False)  # a Ctrl-C during the clean-up is raised now


def hold_ctrl_c(hold: bool) -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK if hold else signal.SIG_UNBLOCK, {signal.SIGINT})


def start_in(cg: Cgroup) -> None:
    """Runs in the child between fork and exec."""
    cg.add(os.getpid())
    hold_ctrl_c(False)  # the mask is inherited; the command must see Ctrl-C


def size(text: str) -> int:
    m = re.fullmatch(r"(\d+)([KMG]?)", text.upper().removesuffix("B"))
    if not m or int(m[1]) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 64M or 1G")
    return int(m[1]) * UNITS[m[2]]


def count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def cpus(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 0.01 <= value <= os.cpu_count():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a CPU count from 0.01 to {os.cpu_count()}"
        )
    return value


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + error
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(
        prog="cgroups.py",
        description="Run a command in a new cgroup with limits, then print the kernel's counters.",
        epilog="Without root: systemd-run --user --scope -p MemoryMax=64M -p TasksMax=32 "
        "-p CPUQuota=20%% COMMAND (systemd delegates these controllers to users).",
    )
    parser.add_argument("--memory", type=size, help="memory limit, e.g. 64M (no swap)")
    parser.add_argument("--pids", type=count, help="most processes and threads at once")
    parser.add_argument("--cpus", type=cpus, help="CPU time as a number of CPUs, e.g. 0.5")
    parser.add_argument("--timeout", type=float, default=60, help="stop the command after this")
    parser.add_argument("--version", action="store_true", help="print the cgroup version in use")
    parser.add_argument("command", nargs="*", help="the command; put -- before it")
    args = parser.parse_args(argv)
    try:
        if args.version:
            for controller in ("memory", "cpu", "pids"):
                print(f"{controller}: cgroup v{version(controller)}")
            return 0
        if not args.command:
            parser.error("give a command to run, after --")
        if not (args.memory or args.pids or args.cpus):
            parser.error("give at least one limit: --memory, --pids or --cpus")
        return run(args)
    except CgroupError as exc:
        print(f"cgroups.py: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"cgroups.py: no such command: {exc.filename}", file=sys.stderr)
        return 127
    except OSError as exc:  # the kernel refused a value: still one line, cgroup removed
        print(f"cgroups.py: {exc.strerror}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cgroups.py: interrupted; the cgroup is removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
