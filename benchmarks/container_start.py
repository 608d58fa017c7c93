#!/usr/bin/env python3
"""Start-up time: scripts/minicontainer.py against `docker run --rm`, same root filesystem.

    sudo python3 benchmarks/container_start.py [--runs 20]

Builds a sandbox with scripts/create_sandbox.py, imports the same folder as a
Docker image (`tar | docker import`), then alternately times a trivial command
(/bin/true) through both, with the same limits (--memory, --pids-limit) and a
read-only root. The figure is the ratio of the medians (goal: <= 0.1).
Needs root and a Docker engine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "docker-basics/bench-rootfs:latest"


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"container_start.py: {' '.join(cmd[:3])}… failed: {proc.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            [sys.executable, ROOT / "scripts/create_sandbox.py", rootfs, "-c", "true"],
            check=True,
            capture_output=True,
        )
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["docker", "import", "-", IMAGE], stdin=tar.stdout, check=True, capture_output=True
        )
        tar.wait()
        # -S: no site-packages; the script needs only the standard library, and some
        # Python installs (pyenv, conda) spend 50+ ms importing .pth hooks at start.
        mini = [
            sys.executable,
            "-S",
            str(ROOT / "scripts/minicontainer.py"),
            "--memory",
            "64M",
            "--pids-limit",
            "16",
            "--read-only",
            str(rootfs),
            "/bin/true",
        ]
        docker = [
            "docker",
            "run",
            "--rm",
            "--memory",
            "64m",
            "--pids-limit",
            "16",
            "--read-only",
            IMAGE,
            "/bin/true",
        ]
        timed(mini), timed(docker)  # warm both: page cache, docker's image metadata
        ours, theirs, bare = [], [], []
        for _ in range(args.runs):
            ours.append(timed(mini))
            theirs.append(timed(docker))
            bare.append(timed([sys.executable, "-S", "-c", "pass"]))
        subprocess.run(["docker", "rmi", IMAGE], capture_output=True)
    m_ours, m_docker = statistics.median(ours), statistics.median(theirs)
    print(f"/bin/true in the same root filesystem, {args.runs} runs each, alternating")
    print(f"minicontainer.py   median {m_ours * 1000:7.1f} ms  (min {min(ours) * 1000:.1f})")
    print(f"docker run --rm    median {m_docker * 1000:7.1f} ms  (min {min(theirs) * 1000:.1f})")
    print(f"python -S -c pass  median {statistics.median(bare) * 1000:7.1f} ms  (interpreter)")
    print(f"ratio (minicontainer / docker run): {m_ours / m_docker:.3f}  (goal: <= 0.1)")


if __name__ == "__main__":
    main()
