#!/usr/bin/env python3
"""python-image against a naive Dockerfile: image size, cold build, warm rebuild.

    python3 benchmarks/image_size_and_build.py [--python-base IMAGE --uv-image IMAGE]

The naive Dockerfile installs the same locked packages on the same base the way
many tutorials do: one stage, apt without --no-install-recommends and without
cleaning its lists, plain `pip install -r requirements.txt` (pip's cache stays
in the image), no cache mounts. Both are built cold (no layer cache, uv's cache
mount emptied), then ours is rebuilt after a change to the one file it copies
last (start-jupyter.sh). Goals: size <= 0.7x naive; warm rebuild <= 0.1x cold.
Without Docker Hub, pass the local stand-ins (images/stand-ins/build.sh).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE_DIR = ROOT / "images" / "python-image"

NAIVE = """\
ARG PYTHON_BASE
FROM ${PYTHON_BASE}
RUN apt-get update && apt-get install -y tini graphviz
RUN python3 -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt
COPY start-jupyter.sh /usr/local/bin/start-jupyter.sh
ENV PATH=/opt/venv/bin:$PATH
CMD ["start-jupyter.sh"]
"""


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
        sys.exit(f"image_size_and_build.py: building {tag} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def image_id(tag: str) -> str:
    return subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Id}}", tag],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def size(tag: str) -> int:
    out = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", tag],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python-base", default="", help="default: the Dockerfile's")
    parser.add_argument("--uv-image", default="", help="default: the Dockerfile's")
    args = parser.parse_args()
    base = (
        args.python_base
        or (IMAGE_DIR / "Dockerfile").read_text().split("ARG PYTHON_BASE=", 1)[1].split()[0]
    )
    with tempfile.TemporaryDirectory() as tmp:
        ours_ctx, naive_ctx = Path(tmp) / "ours", Path(tmp) / "naive"
        shutil.copytree(IMAGE_DIR, ours_ctx)
        naive_ctx.mkdir()
        (naive_ctx / "Dockerfile").write_text(NAIVE)
        shutil.copy(IMAGE_DIR / "start-jupyter.sh", naive_ctx)
        reqs = subprocess.run(
            [
                str(ROOT / ".tools/bin/uv"),
                "export",
                "--project",
                str(IMAGE_DIR),
                "--frozen",
                "--no-hashes",
                "--format",
                "requirements-txt",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (naive_ctx / "requirements.txt").write_text(reqs)

        # Cold: no layer cache, and uv's download cache (a cache mount) emptied too.
        subprocess.run(
            ["docker", "builder", "prune", "-f", "--filter", "type=exec.cachemount"],
            capture_output=True,
        )
        cold_ours = build(
            ours_ctx,
            "bench/ds-python:ours",
            {"PYTHON_BASE": args.python_base, "UV_IMAGE": args.uv_image},
            "--no-cache",
        )
        first_ours = image_id("bench/ds-python:ours")  # untagged by the warm rebuild
        cold_naive = build(naive_ctx, "bench/ds-python:naive", {"PYTHON_BASE": base}, "--no-cache")
        # Warm: change the file the image copies last, rebuild with the cache.
        script = ours_ctx / "start-jupyter.sh"
        script.write_text(script.read_text() + "# changed\n")
        warm_ours = build(
            ours_ctx,
            "bench/ds-python:ours",
            {"PYTHON_BASE": args.python_base, "UV_IMAGE": args.uv_image},
        )
    s_ours, s_naive = size("bench/ds-python:ours"), size("bench/ds-python:naive")
    print(f"base: {base}")
    print(
        f"image size   ours {s_ours / 1e9:5.2f} GB   naive {s_naive / 1e9:5.2f} GB   "
        f"ratio {s_ours / s_naive:.3f}  (goal <= 0.7)"
    )
    print(
        f"cold build   ours {cold_ours:6.1f} s   naive {cold_naive:6.1f} s   "
        f"ratio {cold_ours / cold_naive:.2f}"
    )
    print(
        f"warm rebuild ours {warm_ours:6.1f} s   = {warm_ours / cold_ours:.3f} of the cold build "
        "(goal <= 0.1)"
    )
    subprocess.run(
        ["docker", "rmi", "bench/ds-python:ours", "bench/ds-python:naive", first_ours],
        capture_output=True,
    )


if __name__ == "__main__":
    main()
