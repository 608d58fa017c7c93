#!/usr/bin/env python3
"""Build images/python-image for linux/arm64 under QEMU emulation on an amd64 machine.

    sudo python3 benchmarks/arm64_build.py [--timeout-min 40] [--rootfs DIR] [--keep]

What a Mac with Apple Silicon does natively, this machine emulates: every arm64
instruction of the build (apt, uv, strip, the import checks) runs through
qemu-aarch64. The script reports how long the build and the import check took,
and the cost of emulation on a small CPU-bound Python loop (arm64 emulated
against amd64 native, same Debian, same Python, in the same run).

Needs: root (debootstrap), Docker with BuildKit, debootstrap, qemu-user-static,
and qemu-aarch64 registered in binfmt_misc with the F flag. This script does not
register it, because that changes the host for every process; as root:

    d=/proc/sys/fs/binfmt_misc
    mountpoint -q $d || mount -t binfmt_misc binfmt_misc $d
    [ -e $d/qemu-aarch64 ] || cat /usr/lib/binfmt.d/qemu-aarch64.conf > $d/register

Without Docker Hub and GHCR, both base images are stand-ins made here, for arm64:
Debian trixie by `debootstrap --arch=arm64 --foreign` and its second stage under
QEMU, with the same settings as images/stand-ins/build.sh; uv from its PyPI
aarch64 wheel. `docker import` in Docker 20.10 labels every import amd64, so the
root filesystem goes in through a `docker build --platform linux/arm64` of
`FROM scratch` + `ADD rootfs.tar /` instead, which labels it arm64.
The stand-ins stay (tagged docker-basics/*-arm64-standin) for the next run; the
built image is removed unless --keep. Ctrl-C stops the build and removes what
this run made.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE_DIR = ROOT / "images" / "python-image"
BASE_TAG = "docker-basics/python-arm64-standin:3.13-slim-trixie"
UV_TAG_PREFIX = "docker-basics/uv-arm64-standin"
BUILT_TAG = "docker-basics/ds-python:arm64-emulated"
AMD64_TAG = "docker-basics/ds-python:test"  # built by tests/images (amd64, native)
IMPORTS = (
    "import numpy, pandas, scipy, sklearn, xgboost, cv2, spacy, gensim, pyLDAvis, "
    "matplotlib, jupyterlab"
)
LOOP = (
    "import time; t = time.perf_counter(); sum(i * i for i in range(3_000_000)); "
    "print(time.perf_counter() - t)"
)
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
# QEMU 7.2's default CPU model for user mode ("max") computes pointer authentication
# (QARMA5) in software for every signed return address, and Debian's arm64 binaries
# sign them all: a Python loop ran 239x slower than native here, 22x with a Cortex-A72,
# which has no pointer authentication.
QEMU_CPU = "cortex-a72"
ENV = {**os.environ, "DOCKER_BUILDKIT": "1"}
# Every container this run starts has this name, so that a stopped run can remove it
# (killing `docker run` leaves its container running).
NAME = f"arm64-build-{os.getpid()}"


def fail(message: str) -> None:
    print(f"arm64_build.py: {message}", file=sys.stderr)
    raise SystemExit(1)


def run(*cmd: str, timeout: float | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout, **kw)


def have_image(tag: str) -> bool:
    return run("docker", "image", "inspect", tag).returncode == 0


def check_host() -> None:
    if os.geteuid() != 0:
        fail("needs root (debootstrap and chroot); run it with sudo.")
    for tool in ("docker", "debootstrap", "qemu-aarch64-static"):
        if shutil.which(tool) is None:
            fail(
                f"{tool} is not installed (apt-get install docker.io debootstrap qemu-user-static)."
            )
    if not BINFMT.exists() or "enabled" not in BINFMT.read_text():
        fail(
            "qemu-aarch64 is not registered in binfmt_misc; see this script's docstring "
            "for the two lines that register it."
        )
    if "F" not in BINFMT.read_text().split("flags:", 1)[1].split()[0]:
        fail(
            "qemu-aarch64 is registered without the F flag, so containers cannot use it; "
            "re-register it from /usr/lib/binfmt.d/qemu-aarch64.conf."
        )


def uv_version() -> str:
    for line in (IMAGE_DIR / "Dockerfile").read_text().splitlines():
        if line.startswith("ARG UV_IMAGE=ghcr.io/astral-sh/uv:"):
            return line.split(":", 2)[1].split("@")[0]
    fail("images/python-image/Dockerfile pins no ghcr.io/astral-sh/uv:<version>.")
    raise AssertionError


def build_base(work: Path, rootfs: Path | None) -> float:
    """The arm64 Debian trixie stand-in; returns the seconds it took (0 if it existed)."""
    if have_image(BASE_TAG):
        return 0.0
    start = time.perf_counter()
    if rootfs is None:
        rootfs = work / "rootfs"
        mirror = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
        stage1 = run(
            "debootstrap",
            "--arch=arm64",
            "--foreign",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            "trixie",
            str(rootfs),
            mirror,
        )
        if stage1.returncode != 0:
            fail(f"debootstrap (first stage) failed:\n{stage1.stderr[-2000:]}")
    if (rootfs / "debootstrap" / "debootstrap").exists():  # second stage not done yet
        stage2 = run("chroot", str(rootfs), "/debootstrap/debootstrap", "--second-stage")
        if stage2.returncode != 0:
            fail(f"debootstrap --second-stage under QEMU failed:\n{stage2.stdout[-2000:]}")
    # The settings of images/stand-ins/build.sh (the official image's apt settings).
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/")
    (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
    )
    (rootfs / "etc/apt/apt.conf.d/docker-no-languages").write_text('Acquire::Languages "none";\n')
    for pattern in ("var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb"):
        for path in rootfs.glob(pattern):
            if path.is_file():
                path.unlink()
    python = rootfs / "usr/local/bin/python"
    python.unlink(missing_ok=True)
    python.symlink_to("/usr/bin/python3")
    context = work / "base"
    context.mkdir()
    tar = run("tar", "-C", str(rootfs), "-cf", str(context / "rootfs.tar"), ".")
    if tar.returncode != 0:
        fail(f"tar of the arm64 root filesystem failed: {tar.stderr[-500:]}")
    (context / "Dockerfile").write_text(
        "FROM scratch\nADD rootfs.tar /\n"
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "
        "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "
        "PIP_CERT=/etc/ssl/certs/ca-certificates.crt\n"
        # qemu-user reads QEMU_CPU from the environment of each process it starts, so
        # every RUN of a build FROM this image gets it (a real arm64 machine ignores it).
        f"ENV QEMU_CPU={QEMU_CPU}\n"
        'CMD ["python3"]\n'
    )
    built = run("docker", "build", "-q", "--platform", "linux/arm64", "-t", BASE_TAG, str(context))
    if built.returncode != 0:
        fail(f"docker build of the arm64 base failed:\n{built.stderr[-2000:]}")
    return time.perf_counter() - start


def build_uv(work: Path, version: str) -> str:
    tag = f"{UV_TAG_PREFIX}:{version}"
    if have_image(tag):
        return tag
    index = os.environ.get("UV_BOOTSTRAP_INDEX", "https://pypi.org/pypi/uv/json")
    with urllib.request.urlopen(index, timeout=120) as response:
        files = json.load(response)["releases"].get(version, [])
    wheel = next(
        (
            f
            for f in files
            if f["filename"].endswith("manylinux_2_28_aarch64.whl")
            or "manylinux_2_17_aarch64" in f["filename"]
        ),
        None,
    )
    if wheel is None:
        fail(f"PyPI lists no uv {version} wheel for linux aarch64.")
    # A mirror may answer with an address relative to its JSON page (tools/get_uv.py).
    with urllib.request.urlopen(urllib.parse.urljoin(index, wheel["url"]), timeout=300) as response:
        data = response.read()
    if hashlib.sha256(data).hexdigest() != wheel["digests"]["sha256"]:
        fail(f"{wheel['filename']} does not match the sha256 PyPI publishes.")
    context = work / "uv"
    context.mkdir()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".data/scripts/uv"))
        (context / "uv").write_bytes(archive.read(member))
    (context / "uv").chmod(0o755)
    (context / "Dockerfile").write_text("FROM scratch\nCOPY uv /uv\n")
    built = run("docker", "build", "-q", "--platform", "linux/arm64", "-t", tag, str(context))
    if built.returncode != 0:
        fail(f"docker build of the arm64 uv image failed:\n{built.stderr[-2000:]}")
    return tag


SUBSET = ("numpy", "pandas", "scikit-learn")
SUBSET_IMPORTS = "import numpy, pandas, sklearn"


def subset_install(work: Path, platform: str, base: str, uv: str) -> tuple[float, float]:
    """Install numpy, pandas and scikit-learn at their locked versions into a venv on `base`
    (docker build, no cache), then import them; returns (build s, import s)."""
    lock = tomllib.loads((IMAGE_DIR / "uv.lock").read_text())
    pins = [f"{p['name']}=={p['version']}" for p in lock["package"] if p["name"] in SUBSET]
    context = work / f"subset-{platform.replace('/', '-')}"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {uv} AS uv\nFROM {base}\nCOPY --from=uv /uv /usr/local/bin/uv\n"
        "RUN uv venv /opt/venv --python python3 && UV_NO_BUILD=1 uv pip install "
        f"--python /opt/venv/bin/python {' '.join(pins)}\n"
    )
    tag = f"docker-basics/arm64-subset:{platform.split('/')[1]}"
    build_s, build = timed_run(
        "docker",
        "build",
        "--no-cache",
        "-q",
        "--platform",
        platform,
        "-t",
        tag,
        str(context),
        timeout=3600,
    )
    if build.returncode != 0:
        fail(f"subset build for {platform} failed:\n{build.stderr[-2000:]}")
    try:
        import_s, proc = timed_run(
            "docker",
            "run",
            "--rm",
            "--name",
            NAME,
            "--platform",
            platform,
            tag,
            "/opt/venv/bin/python",
            "-c",
            SUBSET_IMPORTS,
            timeout=1800,
        )
        if proc.returncode != 0:
            fail(f"subset import check for {platform} failed:\n{proc.stderr[-2000:]}")
    finally:
        run("docker", "rm", "-f", NAME)
        run("docker", "rmi", tag)
    return build_s, import_s


def timed_run(*cmd: str, timeout: float) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = run(*cmd, timeout=timeout)
    return time.perf_counter() - start, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--timeout-min",
        type=float,
        default=40,
        help="give up on the image build after this many minutes (default 40)",
    )
    parser.add_argument(
        "--rootfs", type=Path, help="an arm64 trixie tree from `debootstrap --foreign` to reuse"
    )
    parser.add_argument("--keep", action="store_true", help=f"keep {BUILT_TAG}")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when written to a file
    if not args.timeout_min > 0:
        parser.error("--timeout-min must be a positive number of minutes")
    if args.rootfs and not (args.rootfs / "etc" / "debian_version").exists():
        parser.error(f"--rootfs {args.rootfs}: not a Debian root filesystem")
    check_host()

    work = Path(tempfile.mkdtemp(prefix="arm64-build-", dir="/var/tmp"))
    made = []

    def stop(signum, frame):  # Ctrl-C / SIGTERM: the finally below removes what we made
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        base_s = build_base(work, args.rootfs)
        print(
            f"arm64 base stand-in {BASE_TAG}: "
            + (f"built in {base_s / 60:.1f} min" if base_s else "already there")
        )
        uv = build_uv(work, uv_version())

        arch = run(
            "docker",
            "run",
            "--rm",
            "--name",
            NAME,
            "--platform",
            "linux/arm64",
            BASE_TAG,
            "uname",
            "-m",
        )
        print(f"uname -m in the arm64 container: {arch.stdout.strip() or arch.stderr.strip()}")
        if arch.stdout.strip() != "aarch64":
            fail("the arm64 container does not run as aarch64; check binfmt_misc.")
        default_cpu = float(
            run(
                "docker",
                "run",
                "--rm",
                "--platform",
                "linux/arm64",
                "-e",
                "QEMU_CPU=max",
                BASE_TAG,
                "python3",
                "-c",
                LOOP,
            ).stdout
        )
        print(f"CPU-bound Python loop, arm64 with QEMU's default CPU (max): {default_cpu:.2f} s")
        loops = {}
        for platform, image in (("linux/arm64", BASE_TAG), ("linux/amd64", "python:3.13-slim")):
            times = sorted(
                float(
                    run(
                        "docker",
                        "run",
                        "--rm",
                        "--name",
                        NAME,
                        "--platform",
                        platform,
                        image,
                        "python3",
                        "-c",
                        LOOP,
                    ).stdout
                )
                for _ in range(3)
            )
            loops[platform] = times[1]
        print(
            f"CPU-bound Python loop, median of 3: arm64 emulated ({QEMU_CPU}) "
            f"{loops['linux/arm64']:.2f} s, "
            f"amd64 native {loops['linux/amd64']:.2f} s, ratio "
            f"{loops['linux/arm64'] / loops['linux/amd64']:.1f}x"
        )

        amd64_uv = f"local/uv:{uv_version()}"  # images/stand-ins/build.sh
        if have_image(amd64_uv) and have_image("python:3.13-slim"):
            arm = subset_install(work, "linux/arm64", BASE_TAG, uv)
            amd = subset_install(work, "linux/amd64", "python:3.13-slim", amd64_uv)
            print(
                f"subset ({', '.join(SUBSET)}): install arm64 emulated {arm[0]:.0f} s, "
                f"amd64 native {amd[0]:.0f} s ({arm[0] / amd[0]:.1f}x); import arm64 "
                f"{arm[1]:.1f} s, amd64 {amd[1]:.1f} s ({arm[1] / amd[1]:.1f}x)",
                flush=True,
            )
        else:
            print(f"subset skipped: needs python:3.13-slim and {amd64_uv} (amd64 stand-ins)")

        made.append(BUILT_TAG)
        print(
            f"building {BUILT_TAG} for linux/arm64 (time limit {args.timeout_min:g} min) ...",
            flush=True,
        )
        try:
            build_s, build = timed_run(
                "docker",
                "build",
                "--platform",
                "linux/arm64",
                "--progress",
                "plain",
                f"--build-arg=PYTHON_BASE={BASE_TAG}",
                f"--build-arg=UV_IMAGE={uv}",
                "-t",
                BUILT_TAG,
                str(IMAGE_DIR),
                timeout=args.timeout_min * 60,
            )
        except subprocess.TimeoutExpired:
            print(f"the arm64 build did not finish in {args.timeout_min:g} min; stopped.")
            raise SystemExit(2) from None
        if build.returncode != 0:
            fail(f"the arm64 build failed after {build_s / 60:.1f} min:\n{build.stderr[-3000:]}")
        (work / "build.log").write_text(build.stderr)
        print(f"arm64 build (emulated): {build_s / 60:.1f} min")

        check = {}
        for platform, image in (("linux/arm64", BUILT_TAG), ("linux/amd64", AMD64_TAG)):
            if not have_image(image):
                continue
            seconds, proc = timed_run(
                "docker",
                "run",
                "--rm",
                "--name",
                NAME,
                "--platform",
                platform,
                image,
                "python",
                "-c",
                f"{IMPORTS}; import platform; print(platform.machine())",
                timeout=1800,
            )
            if proc.returncode != 0:
                fail(f"import check in {image} failed:\n{proc.stderr[-2000:]}")
            check[platform] = seconds
            print(
                f"import check {platform} ({image}): {seconds:.1f} s, machine {proc.stdout.strip()}"
            )
        if len(check) == 2:
            print(
                f"import check ratio arm64 emulated / amd64 native: "
                f"{check['linux/arm64'] / check['linux/amd64']:.1f}x"
            )
    except KeyboardInterrupt:
        print("arm64_build.py: stopped; removing what this run made", file=sys.stderr)
        args.keep = False
        raise SystemExit(130) from None
    finally:
        run("docker", "rm", "-f", NAME)
        if not args.keep:
            for tag in made:
                run("docker", "rmi", tag)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
