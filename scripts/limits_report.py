#!/usr/bin/env python3
"""What this process may really use: CPUs, memory and /dev/shm, as the kernel sees it.

    python3 limits_report.py            # on your laptop
    docker run --rm -v "$PWD:/w:ro" -w /w --cpus 1 --memory 512m \
        python:3.13-slim-trixie python3 limits_report.py

Inside a container, os.cpu_count() and /proc/meminfo describe the whole
machine; the limits that apply are in the process's cgroup, and in the
cgroups above it. This prints both, and what joblib and the BLAS thread pools
will do if they are installed. It finds its cgroup on cgroup v1 and v2, on a
host and inside a container (where /proc/self/cgroup may name a path that is
mounted elsewhere). Exit status 125 when misused, as docker run's; 130 after
Ctrl-C, 143 after SIGTERM, 129 after SIGHUP (it changes nothing: nothing to undo).
Standard library only (joblib, threadpoolctl and numpy are looked at if there).
"""

from __future__ import annotations

import _signal  # the C module under `signal`, which imports enum first (~3 ms)

if __name__ == "__main__":  # Ctrl-C and SIGTERM wait until main is ready for them
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP})

import argparse
import math
import os
import signal
import sys

PROG = "limits_report.py"


class CgroupError(Exception):
    """No such controller here: the report says "none"."""


# --- where our cgroup is: the same code as in cgroups.py and minicontainer.py -----

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


# --- the limits ------------------------------------------------------------------


def read_or_none(path: str) -> str | None:
    try:
        return read(path).strip()
    except OSError:
        return None


def cgroup_chain(controller: str) -> list[str]:
    """Our cgroup folder for a controller and those above it, up to the visible root.

    A limit set on any of them applies to us: a systemd slice, a scheduler's job,
    the container itself.
    """
    try:
        _, root, own = locate(controller)
    except (CgroupError, OSError):
        return []
    chain = [own]
    while chain[-1] != root and chain[-1].startswith(root):
        chain.append(os.path.dirname(chain[-1]))
    return chain


def cpu_quota() -> float | None:
    """CPUs' worth of time per period, from cpu.max (v2) or cfs_quota_us (v1); the lowest."""
    quotas = []
    for folder in cgroup_chain("cpu"):
        if (v2 := read_or_none(f"{folder}/cpu.max")) is not None:
            quota, period = v2.split()
            if quota != "max":
                quotas.append(int(quota) / int(period))
            continue
        quota = read_or_none(f"{folder}/cpu.cfs_quota_us")
        period = read_or_none(f"{folder}/cpu.cfs_period_us")
        if quota is not None and period is not None and int(quota) > 0:
            quotas.append(int(quota) / int(period))
    return min(quotas, default=None)


def memory_limit() -> int | None:
    limits = []
    for folder in cgroup_chain("memory"):
        for name in ("memory.max", "memory.limit_in_bytes"):
            raw = read_or_none(f"{folder}/{name}")
            if raw is not None and raw != "max" and int(raw) < 2**60:  # v1's "none": ~2**63
                limits.append(int(raw))
    return min(limits, default=None)


def meminfo_total() -> int:
    for line in read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def usable_cpus() -> int:
    """What to size a process pool by: affinity, and the quota rounded up (as loky does)."""
    quota = cpu_quota()
    affinity = len(os.sched_getaffinity(0))
    return max(1, min(affinity, math.ceil(quota))) if quota else affinity


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def report() -> None:
    quota = cpu_quota()
    print(f"os.cpu_count():        {os.cpu_count()}  (the machine)")
    print(f"CPU affinity:          {len(os.sched_getaffinity(0))}")
    print(f"cgroup CPU quota:      {quota if quota is not None else 'none'}")
    print(f"workers to start:      {usable_cpus()}")
    try:
        import joblib

        print(f"joblib.cpu_count():    {joblib.cpu_count()}")
    except ImportError:
        pass
    try:
        import numpy  # noqa: F401  (loads the BLAS library threadpoolctl looks for)
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            name = f"{pool['internal_api']} threads:"
            print(f"{name:<23}{pool['num_threads']}")
    except ImportError:
        pass
    limit = memory_limit()
    print(f"/proc/meminfo total:   {gib(meminfo_total())}  (the machine; what `free` shows)")
    print(f"cgroup memory limit:   {gib(limit) if limit else 'none'}")
    shm = os.statvfs("/dev/shm") if os.path.isdir("/dev/shm") else None
    print(f"/dev/shm size:         {gib(shm.f_blocks * shm.f_frsize) if shm else 'none'}")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, and docker run's status for bad flags
        self.exit(125, f"{self.prog}: {message} (see --help)\n")


class Stopped(Exception):
    """Ctrl-C or SIGTERM: stop at once, with one line and 128 + signum."""


def stopped(signum: int, frame: object) -> None:
    raise Stopped(signum)


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    stop_signals = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    try:
        for signum in stop_signals:
            if signal.getsignal(signum) != signal.SIG_IGN:  # SIGINT in a background job, nohup
                signal.signal(signum, stopped)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stop_signals)  # one held back comes now
        report()
        sys.stdout.flush()
    except BrokenPipeError:  # `limits_report.py | head -3`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # for the final flush
        return 128 + signal.SIGPIPE  # what a shell shows for a command ended by SIGPIPE
    except OSError as exc:  # the output's disk is full, say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"{PROG}: cannot write the report: {exc.strerror}", file=sys.stderr)
        return 125
    except Stopped as stop:
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # a second one changes nothing
        signum = stop.args[0]
        names = {signal.SIGINT: "SIGINT (Ctrl-C)", signal.SIGHUP: "SIGHUP (the terminal closed)"}
        name = names.get(signum, "SIGTERM")
        sys.stdout.flush()
        print(f"{PROG}: stopped by {name}", file=sys.stderr)
        return 128 + signum
    return 0


if __name__ == "__main__":
    sys.exit(main())
