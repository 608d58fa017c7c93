#!/usr/bin/env python3
"""The example analysis: Dockerfile.naive against Dockerfile, rebuilt after a code edit.

    python3 benchmarks/analysis_rebuild.py [--runs 3] [--python-base IMAGE --uv-image IMAGE]

Both images are built once (warm-up), then, for each run, one comment line is
appended to analysis.py (as when you fix a plot label) and both are rebuilt
with the layer cache: the naive file copies the whole folder before installing
the packages, so it downloads and installs them again; the better one copies
the code last and keeps the installed packages. Prints the median rebuild time
of each, their ratio (naive = 1), and both image sizes. Goal: the better
rebuild <= 0.1x the naive one.

The naive image's base is python:3.13-slim-trixie by tag; without Docker Hub,
pass the local stand-ins for the better one (images/stand-ins/build.sh) and
have the tag in the local image store. Everything it makes (a copy of the
project, two images) is removed at the end, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "images" / "analysis-python"


def docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True)


def build(context: Path, tag: str, build_args: dict[str, str], *extra: str) -> float:
    args = [f"--build-arg={k}={v}" for k, v in build_args.items() if v]
    start = time.perf_counter()
    proc = subprocess.run(
        ["docker", "build", *extra, *args, "-t", tag, str(context)],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    if proc.returncode != 0:
        sys.exit(f"analysis_rebuild.py: building {tag} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def size_mb(tag: str) -> float:
    out = docker("image", "inspect", "-f", "{{.Size}}", tag)
    return int(out.stdout) / 1e6


def measure(runs: int, base: dict[str, str], work: Path, tags: dict[str, str]) -> None:
    context = work / "analysis-python"
    shutil.copytree(PROJECT, context)
    naive_args = ("-f", str(context / "Dockerfile.naive"))
    print("warm-up: building both images once ...", flush=True)
    build(context, tags["naive"], {}, *naive_args)
    build(context, tags["better"], base)
    times: dict[str, list[float]] = {"naive": [], "better": []}
    for run in range(1, runs + 1):
        # A new line each time, never seen before: the layer cache cannot have it.
        with open(context / "analysis.py", "a") as f:
            f.write(f"# edit {uuid.uuid4().hex}\n")
        times["naive"].append(build(context, tags["naive"], {}, *naive_args))
        times["better"].append(build(context, tags["better"], base))
        print(
            f"run {run}: rebuild after a code edit: naive {times['naive'][-1]:.1f} s, "
            f"better {times['better'][-1]:.1f} s",
            flush=True,
        )
    naive, better = (statistics.median(times[k]) for k in ("naive", "better"))
    print(f"\nrebuild after editing analysis.py (median of {runs}):")
    print(f"  Dockerfile.naive {naive:6.1f} s   1.00")
    print(f"  Dockerfile       {better:6.1f} s   {better / naive:.2f}x naive (goal <= 0.10x)")
    naive_size, better_size = size_mb(tags["naive"]), size_mb(tags["better"])
    print("image size:")
    print(f"  Dockerfile.naive {naive_size:6.0f} MB  1.00")
    print(f"  Dockerfile       {better_size:6.0f} MB  {better_size / naive_size:.2f}x naive")


def stop(signum, frame):
    raise KeyboardInterrupt  # SIGTERM ends it as Ctrl-C does, through the clean-up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rebuilds of each (default 3)")
    parser.add_argument("--python-base", default="", help="default: the Dockerfile's")
    parser.add_argument("--uv-image", default="", help="default: the Dockerfile's")
    args = parser.parse_args()
    if not 1 <= args.runs <= 20:
        parser.error(f"--runs must be 1 to 20, not {args.runs}")
    if shutil.which("docker") is None or docker("info").returncode != 0:
        sys.exit("analysis_rebuild.py: needs a running Docker engine (docker info failed)")
    base = {"PYTHON_BASE": args.python_base, "UV_IMAGE": args.uv_image}
    suffix = uuid.uuid4().hex[:8]
    tags = {k: f"docker-basics/analysis-bench-{k}:{suffix}" for k in ("naive", "better")}
    signal.signal(signal.SIGTERM, stop)
    work = Path(tempfile.mkdtemp(prefix="analysis-bench-"))
    try:
        measure(args.runs, base, work, tags)
    except KeyboardInterrupt:
        print("analysis_rebuild.py: interrupted; removing what it made", file=sys.stderr)
        sys.exit(130)
    finally:
        for tag in tags.values():
            docker("rmi", "-f", tag)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
