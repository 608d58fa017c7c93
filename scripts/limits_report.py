#!/usr/bin/env python3
"""What this process may really use: CPUs, memory and /dev/shm, as the kernel sees it.

    python3 limits_report.py            # on your laptop
    docker run --rm -v "$PWD:/w" -w /w --cpus 1 --memory 512m \
        python:3.13-slim-trixie python3 limits_report.py

Inside a container, os.cpu_count() and /proc/meminfo describe the whole
machine; the limits that apply are in the process's cgroup. This prints both,
and what joblib and the BLAS thread pools will do if they are installed.
Standard library only (joblib, threadpoolctl and numpy are looked at if there).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_dir(controller: str) -> Path | None:
    """This process's cgroup folder for a controller, on cgroup v1 or v2."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if names == "" and (CGROUP_ROOT / "cgroup.controllers").exists():
            return CGROUP_ROOT / path.lstrip("/")  # v2: one hierarchy
        if controller in names.split(","):
            return CGROUP_ROOT / controller / path.lstrip("/")  # v1
    return None


def read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_quota() -> float | None:
    """CPUs' worth of time per period, from cpu.max (v2) or cfs_quota_us (v1)."""
    folder = cgroup_dir("cpu")
    if folder is None:
        return None
    if (v2 := read(folder / "cpu.max")) is not None:
        quota, period = v2.split()
        return None if quota == "max" else int(quota) / int(period)
    quota, period = read(folder / "cpu.cfs_quota_us"), read(folder / "cpu.cfs_period_us")
    if quota is None or period is None or int(quota) < 0:
        return None
    return int(quota) / int(period)


def memory_limit() -> int | None:
    folder = cgroup_dir("memory")
    for name in ("memory.max", "memory.limit_in_bytes"):
        raw = read(folder / name) if folder else None
        if raw is not None:
            return None if raw == "max" or int(raw) >= 2**60 else int(raw)
    return None


def meminfo_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
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


def main() -> None:
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


if __name__ == "__main__":
    main()
