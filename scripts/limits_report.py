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
Needs plumbing.py and cgroups.py beside it.
"""

import _signal  # the C module under `signal`, which imports enum first (~3 ms)
import sys

if __name__ == "__main__":  # stop signals wait until main is ready for them
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP})
    # Run with sudo, Python would leave root's __pycache__ in the reader's clone.
    sys.dont_write_bytecode = True

import math
import os

import plumbing
from cgroups import locate, read
from plumbing import Stop, UsageError

PROG = "limits_report.py"


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
    except (UsageError, OSError):
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


def report() -> int:
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
    return 0


# ===================================================================================
# Plumbing of this script: the command line.
# The rest is in plumbing.py, shared by every script of this folder.
# ===================================================================================


def main(argv: list[str] | None = None) -> int:
    plumbing.PROG = PROG
    plumbing.parser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    Stop.at_once()  # it changes nothing: a stop signal may end it anywhere
    return plumbing.guarded(report)


if __name__ == "__main__":
    plumbing.as_script(main, PROG)
