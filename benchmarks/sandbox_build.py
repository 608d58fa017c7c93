#!/usr/bin/env python3
"""Wall time and size: scripts/create_sandbox.py against the original's shell steps.

    python3 benchmarks/sandbox_build.py [--runs 15]

The baseline does what the original create_sandbox.sh did for each command
(`which`, `ldd`, `cp` of the program and each library), with its bugs fixed
so that it finishes (it skips ldd's virtual linux-vdso line and copies into
the right folders). Both build the same command list, alternately, in the
same run; the figure that matters is the ratio of the medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["bash", "ls", "mkdir", "pwd", "mount", "top", "ps", "id"]

BASELINE = r"""
set -e
box=$1; shift
mkdir -p "$box"/{bin,lib,lib64,usr}
for cmd in "$@"; do
  path=$(which "$cmd")
  cp "$path" "$box/bin/"
  for lib in $(ldd "$path" | grep -o '/[^ ]*'); do
    mkdir -p "$box$(dirname "$lib")"
    cp "$lib" "$box$lib"
  done
done
"""


def size(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    ours, base = [], []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "baseline.sh"
        script.write_text(BASELINE)
        for i in range(args.runs):
            a, b = Path(tmp) / f"ours{i}", Path(tmp) / f"base{i}"
            ours.append(
                timed(
                    [
                        sys.executable,
                        str(ROOT / "scripts/create_sandbox.py"),
                        str(a),
                        "-c",
                        *COMMANDS,
                    ]
                )
            )
            base.append(timed(["bash", str(script), str(b), *COMMANDS]))
            if i < args.runs - 1:
                shutil.rmtree(a)
                shutil.rmtree(b)
        ours_size, base_size = size(a), size(b)
        works = (
            subprocess.run(
                ["chroot", str(a), "/bin/bash", "-c", "ls / >/dev/null"], capture_output=True
            ).returncode
            == 0
        )
    m_ours, m_base = statistics.median(ours), statistics.median(base)
    print(f"commands: {' '.join(COMMANDS)}; {args.runs} runs each, alternating")
    print(f"create_sandbox.py  median {m_ours * 1000:7.1f} ms   size {ours_size / 1e6:5.2f} MB")
    print(f"shell baseline     median {m_base * 1000:7.1f} ms   size {base_size / 1e6:5.2f} MB")
    print(f"time ratio (ours / baseline): {m_ours / m_base:.2f}  (goal: <= 1.0)")
    print(
        f"size ratio (ours / baseline): {ours_size / base_size:.2f}  "
        "(ours adds the loader's symlinks' targets, terminfo and /etc)"
    )
    print(f"our sandbox works under chroot: {works}")


if __name__ == "__main__":
    main()
