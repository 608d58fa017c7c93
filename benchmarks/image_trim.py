#!/usr/bin/env python3
"""What the python-image builder's trim step removes, by category, next to the image size.

    python3 benchmarks/image_trim.py [--stand-ins | --python-base IMAGE --uv-image IMAGE]

images/python-image/Dockerfile trims its environment in one RUN after `uv sync`:
unused test suites, debug sections of compiled modules (strip --strip-unneeded),
C/C++ sources, headers and Cython declarations, and pyLDAvis/lib. This script
builds the image from a copy of that Dockerfile in which the builder stage is split
in two just before that RUN (the same layers, so the build cache serves both), then
in a throw-away container of the untrimmed stage applies the same four steps one
after another and measures what each removes (apparent file sizes, MB = 10^6 bytes),
per package. As a check, it compares the result with /opt/venv in the real image.
--stand-ins builds and uses the local base images (images/stand-ins/build.sh), as
the tests do where Docker Hub and GHCR are out of reach.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE_DIR = ROOT / "images" / "python-image"
PROG = "image_trim.py"
TAG = f"bench/ds-python-trim-{os.getpid()}"
TRIM_MARK = "RUN --mount=type=bind,source=check_imports.py"
BUILDER = "FROM ${PYTHON_BASE} AS builder\n"

# Runs inside the untrimmed stage as root, with /opt/venv's Python: the same steps as
# the Dockerfile's trim RUN, in the same order, each measured before the next.
MEASURE = r"""
import fnmatch, json, os, shutil, subprocess, sys, sysconfig
from collections import Counter
from pathlib import Path

site = Path(sysconfig.get_path("platlib"))
seen = set()

def files(root):
    if root.is_file() or root.is_symlink():
        yield root
        return
    for d, _, names in os.walk(root):
        for n in names:
            yield Path(d, n)

def size(p):
    st = os.lstat(p)
    if st.st_nlink > 1:
        if (st.st_dev, st.st_ino) in seen:
            return 0
        seen.add((st.st_dev, st.st_ino))
    return st.st_size

def total(root):
    seen.clear()
    return sum(size(p) for p in files(root))

def package(p):
    return Path(p).relative_to(site).parts[0]

def matching(patterns):
    for d, _, names in os.walk(site):
        for n in names:
            p = Path(d, n)
            if any(fnmatch.fnmatchcase(n, pat) for pat in patterns) and p.is_file() \
                    and not p.is_symlink():
                yield p

out = {"before": total(Path(sys.prefix))}
paths = subprocess.run([sys.executable, "/tmp/unused_test_code.py"], capture_output=True,
                       text=True, check=True).stdout.splitlines()
tests, gensim_data = Counter(), 0
for line in paths:
    p = Path(line)
    seen.clear()
    n = sum(size(f) for f in files(p))
    tests[package(p)] += n
    if p.is_relative_to(site / "gensim/test/test_data"):
        gensim_data += n
for line in paths:
    p = Path(line)
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif os.path.lexists(p):
        p.unlink()
out["tests"], out["gensim_test_data"] = tests, gensim_data

so = list(matching(["*.cpython-*.so", "*.abi3.so"]))
before = {p: os.lstat(p).st_size for p in so}
for i in range(0, len(so), 200):
    subprocess.run(["strip", "--strip-unneeded", *map(str, so[i:i + 200])], check=True)
strip = Counter()
for p in so:
    strip[package(p)] += before[p] - os.lstat(p).st_size
out["strip"] = strip

sources = Counter()
for p in list(matching(["*.c", "*.cpp", "*.h", "*.hpp", "*.pyx", "*.pxd", "*.pxi"])):
    sources[package(p)] += os.lstat(p).st_size
    p.unlink()
out["sources"] = sources

lib = site / "pyLDAvis" / "lib"
out["pyldavis_lib"] = total(lib) if lib.exists() else 0
shutil.rmtree(lib, ignore_errors=True)
out["after"] = total(Path(sys.prefix))
print(json.dumps(out))
"""

VENV_SIZE = (
    "import os, sys\n"
    "seen, n = set(), 0\n"
    "for d, _, names in os.walk(sys.prefix):\n"
    "    for f in names:\n"
    "        st = os.lstat(os.path.join(d, f))\n"
    "        if (st.st_dev, st.st_ino) not in seen:\n"
    "            seen.add((st.st_dev, st.st_ino)); n += st.st_size\n"
    "print(n)\n"
)


class Stop(Exception):
    pass


def on_term(signum, frame):
    raise Stop


def docker(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["/usr/bin/docker", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
        **kw,
    )
    if check and proc.returncode != 0:
        sys.exit(f"{PROG}: docker {args[0]} failed:\n{proc.stderr[-3000:]}")
    return proc


def split_dockerfile(text: str) -> str:
    """The Dockerfile with the builder stage cut in two before its trim RUN."""
    if text.count(BUILDER) != 1 or text.count(TRIM_MARK) != 1:
        sys.exit(
            f"{PROG}: images/python-image/Dockerfile no longer has one {BUILDER.strip()!r} "
            f"and one trim step starting {TRIM_MARK!r}: update this script to match it."
        )
    text = text.replace(BUILDER, "FROM ${PYTHON_BASE} AS untrimmed\n")
    return text.replace(TRIM_MARK, "FROM untrimmed AS builder\n" + TRIM_MARK)


def mb(n: int) -> str:
    return f"{n / 1e6:7.1f} MB"


def breakdown(counter: dict[str, int], top: int = 8) -> str:
    items = sorted(counter.items(), key=lambda kv: -kv[1])
    shown = [f"{k} {v / 1e6:.1f}" for k, v in items[:top] if v >= 0.5e6]
    rest = sum(v for _, v in items[len(shown) :])
    return ", ".join(shown + ([f"others {rest / 1e6:.1f}"] if rest else []))


def stand_ins() -> tuple[str, str]:
    out = subprocess.run(
        ["bash", str(ROOT / "images" / "stand-ins" / "build.sh")], capture_output=True, text=True
    )
    if out.returncode != 0:
        sys.exit(f"{PROG}: images/stand-ins/build.sh failed:\n{out.stderr[-2000:]}")
    python, uv, _ = out.stdout.split()
    return python, uv


def run(args: argparse.Namespace, created: list[str]) -> None:
    python_base, uv_image = args.python_base, args.uv_image
    if args.stand_ins:
        python_base, uv_image = stand_ins()
    build_args = [
        f"--build-arg={k}={v}"
        for k, v in {"PYTHON_BASE": python_base, "UV_IMAGE": uv_image}.items()
        if v
    ]
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp) / "python-image"
        shutil.copytree(IMAGE_DIR, ctx, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
        (ctx / "Dockerfile").write_text(split_dockerfile((ctx / "Dockerfile").read_text()))
        for target in ("untrimmed", None):
            tag = f"{TAG}:{target or 'final'}"
            created.append(tag)
            extra = ["--target", target] if target else []
            docker("build", *extra, *build_args, "-t", tag, str(ctx))
    unused = IMAGE_DIR / "unused_test_code.py"
    name = f"trim-measure-{os.getpid()}"
    created.append("container:" + name)
    m = json.loads(
        docker(
            "run", "--rm", "--name", name, "--network", "none", "-i",
            "-v", f"{unused}:/tmp/unused_test_code.py:ro",
            f"{TAG}:untrimmed", "/opt/venv/bin/python", "-",
            input=MEASURE,
        ).stdout
    )  # fmt: skip
    final_venv = int(
        docker("run", "--rm", "--network", "none", f"{TAG}:final", "python", "-c", VENV_SIZE).stdout
    )
    image = int(docker("image", "inspect", "-f", "{{.Size}}", f"{TAG}:final").stdout)
    rows = [
        ("test suites", sum(m["tests"].values()), m["tests"]),
        ("debug info (strip)", sum(m["strip"].values()), m["strip"]),
        ("C/C++/Cython sources", sum(m["sources"].values()), m["sources"]),
        ("pyLDAvis/lib", m["pyldavis_lib"], {}),
    ]
    print(f"base: {python_base or 'the Dockerfile default'}")
    print(f"/opt/venv untrimmed          {mb(m['before'])}")
    for label, n, per in rows:
        print(f"  - {label:<24} {mb(n)}   {breakdown(per)}".rstrip())
        if label == "test suites":
            print(f"      (of which gensim/test/test_data {m['gensim_test_data'] / 1e6:.1f} MB)")
    removed = sum(n for _, n, _ in rows)
    print(f"  = removed                  {mb(removed)}")
    print(f"/opt/venv trimmed here       {mb(m['after'])}")
    print(f"/opt/venv in the image       {mb(final_venv)}   (built by the Dockerfile's own RUN)")
    print(f"image size                   {mb(image)}")
    if abs(m["after"] - final_venv) > 1e6:
        print(
            f"{PROG}: the steps here and the Dockerfile's trim RUN disagree by "
            f"{(m['after'] - final_venv) / 1e6:.1f} MB: update MEASURE to match the Dockerfile.",
            file=sys.stderr,
        )
        sys.exit(1)


def cleanup(created: list[str]) -> None:
    for item in reversed(created):
        if item.startswith("container:"):
            docker("rm", "-f", item.removeprefix("container:"), check=False)
        else:
            docker("rmi", item, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--stand-ins", action="store_true", help="use images/stand-ins/build.sh")
    group.add_argument("--python-base", default="", help="default: the Dockerfile's")
    parser.add_argument("--uv-image", default="", help="default: the Dockerfile's")
    args = parser.parse_args()
    if args.stand_ins and args.uv_image:
        parser.error("--stand-ins picks --uv-image too: give one or the other")
    if shutil.which("/usr/bin/docker") is None:
        sys.exit(f"{PROG}: /usr/bin/docker not found: this needs Docker with BuildKit.")
    signal.signal(signal.SIGTERM, on_term)
    created: list[str] = []
    try:
        run(args, created)
    except (KeyboardInterrupt, Stop):
        print(f"{PROG}: stopped; removing what it created", file=sys.stderr)
        sys.exit(130)
    finally:
        cleanup(created)


if __name__ == "__main__":
    main()
