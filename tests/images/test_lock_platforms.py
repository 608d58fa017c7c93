"""Every uv.lock under images/ installs on linux/amd64 and linux/arm64 from wheels.

An image built for Apple Silicon (linux/arm64) installs the same uv.lock as the
amd64 one. A package with no arm64 wheel for our Python makes that build compile
it from source (slow under emulation, and it fails without a compiler) or fail
outright. This test reads the wheel file names that uv.lock lists (no network)
and fails here, before GitHub's arm64 job, on a lock change that would do that.

What counts: every package a Linux install of the lock can pick, found by walking
the dependency graph from the project with each dependency's environment marker
evaluated for Linux (so `pywin32; sys_platform == 'win32'` is left out), extras
and dependency groups included. Each needs, for CPython 3.13 (our images' base),
a wheel for manylinux x86_64 and one for manylinux aarch64, or a pure-Python wheel
(`py3-none-any`). A package with only an sdist is reported too: whether it builds
on arm64 is not known from the lock.

The last test runs an arm64 program in a container under QEMU (binfmt_misc):
what `docker run --platform linux/arm64` and `docker build --platform linux/arm64`
on an amd64 machine rely on, and what benchmarks/arm64_build.py builds the whole
image with.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tomllib
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import IN_CI, ROOT
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

PYTHON = (3, 13)  # python:3.13-slim, the base of images/*/Dockerfile
GLIBC = (2, 41)  # Debian trixie's glibc: manylinux_2_X wheels with X <= 41 install
ARCHES = ("x86_64", "aarch64")
LOCKS = sorted(ROOT.glob("images/**/uv.lock"))


def platform_env(arch: str) -> dict[str, str]:
    """The marker environment of CPython 3.13 on Linux, for `arch`."""
    return {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": arch,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "python_version": f"{PYTHON[0]}.{PYTHON[1]}",
        "python_full_version": f"{PYTHON[0]}.{PYTHON[1]}.0",
        "platform_release": "",
        "platform_version": "",
        "implementation_version": "",
        "extra": "",
    }


def supported_tags(arch: str) -> set[Tag]:
    """The wheel tags pip or uv accept for CPython 3.13 on glibc 2.41, `arch`."""
    platforms = [f"manylinux_{GLIBC[0]}_{minor}_{arch}" for minor in range(GLIBC[1], 4, -1)]
    platforms += [f"manylinux2014_{arch}"]  # = manylinux_2_17, the legacy spelling
    if arch == "x86_64":  # manylinux1 and manylinux2010 were defined for x86 only
        platforms += ["manylinux2010_x86_64", "manylinux1_x86_64"]
    return set(cpython_tags(PYTHON, platforms=platforms)) | set(
        compatible_tags(PYTHON, "cp313", platforms=platforms)
    )


def installed_on_linux(lock: dict, arch: str) -> set[str]:
    """Names of the packages a Linux `arch` install of the lock can pick."""
    packages = {p["name"]: p for p in lock.get("package", [])}
    env = platform_env(arch)
    roots = [
        p
        for p in packages.values()
        if {"virtual", "editable", "directory"} & set(p.get("source", {}))
    ]
    seen: set[str] = set()
    todo: list[tuple[str, tuple[str, ...]]] = []

    def add(deps: list[dict]) -> None:
        for dep in deps:
            marker = dep.get("marker")
            if marker is None or Marker(marker).evaluate(env):
                todo.append((dep["name"], tuple(dep.get("extra", ()))))

    for root in roots:
        seen.add(root["name"])
        add(root.get("dependencies", []))
        for deps in root.get("optional-dependencies", {}).values():
            add(deps)
        for deps in root.get("dev-dependencies", {}).values():
            add(deps)
    done: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        name, extras = item = todo.pop()
        if item in done:
            continue
        done.add(item)
        package = packages[name]
        if name not in seen:
            seen.add(name)
            add(package.get("dependencies", []))
        for extra in extras:
            add(package.get("optional-dependencies", {}).get(extra, []))
    return seen - {r["name"] for r in roots}


# --8<-- [start:check]
def wheel_problems(lock: dict) -> list[str]:
    """One line for each package that has no installable wheel on an architecture."""
    problems = []
    packages = {p["name"]: p for p in lock.get("package", [])}
    tags = {arch: supported_tags(arch) for arch in ARCHES}
    needed = {arch: installed_on_linux(lock, arch) for arch in ARCHES}
    for name in sorted(needed["x86_64"] | needed["aarch64"]):
        package = packages[name]
        wheels = [w["url"].rsplit("/", 1)[-1] for w in package.get("wheels", [])]
        wheel_tags = set().union(*(parse_wheel_filename(w)[3] for w in wheels)) if wheels else set()
        missing = [arch for arch in ARCHES if name in needed[arch] and not wheel_tags & tags[arch]]
        if not missing:
            continue
        what = "only an sdist" if not wheels else f"{len(wheels)} wheel{'s' * (len(wheels) > 1)}"
        problems.append(
            f"{name} {package.get('version', '?')}: no wheel for CPython "
            f"{PYTHON[0]}.{PYTHON[1]} on linux {' and '.join(missing)} ({what})"
        )
    return problems


# --8<-- [end:check]


# --- the real locks ---------------------------------------------------------------


def test_there_are_locks_to_check():
    assert ROOT / "images" / "python-image" / "uv.lock" in LOCKS


@pytest.mark.parametrize("lock_path", LOCKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_package_has_amd64_and_arm64_wheels(lock_path: Path):
    lock = tomllib.loads(lock_path.read_text())
    assert SpecifierSet(lock["requires-python"]).contains(".".join(map(str, PYTHON))), (
        f"{lock_path}: requires-python {lock['requires-python']} excludes our images' Python"
    )
    assert installed_on_linux(lock, "aarch64"), f"{lock_path}: no packages found"
    problems = wheel_problems(lock)
    assert not problems, (
        f"{lock_path.relative_to(ROOT)}: an arm64 (or amd64) image build "
        "would compile or fail:\n" + "\n".join(problems)
    )


# --- the check itself, on locks broken on purpose ---------------------------------

HEADER = 'version = 1\nrevision = 3\nrequires-python = "==3.13.*"\n'
PROJECT = """
[[package]]
name = "project"
version = "0.1.0"
source = {{ virtual = "." }}
dependencies = [{deps}]
"""
WHEEL = '{{ url = "https://files.pythonhosted.org/packages/00/{file}", hash = "sha256:00" }}'


def package(name: str, *wheels: str, deps: str = "", extras: str = "") -> str:
    listed = ",\n".join(WHEEL.format(file=w) for w in wheels)
    text = (
        f'\n[[package]]\nname = "{name}"\nversion = "1.0"\n'
        f'source = {{ registry = "https://pypi.org/simple" }}\n'
        f"dependencies = [{deps}]\nwheels = [\n{listed}\n]\n"
    )
    if extras:
        text += f"\n[package.optional-dependencies]\n{extras}\n"
    return text


def lock_of(deps: str, *packages: str) -> dict:
    return tomllib.loads(HEADER + PROJECT.format(deps=deps) + "".join(packages))


X86 = "-1.0-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
ARM = "-1.0-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"


def test_a_package_with_only_x86_64_wheels_is_reported():
    lock = lock_of('{ name = "fastmath" }', package("fastmath", "fastmath" + X86))
    assert wheel_problems(lock) == [
        "fastmath 1.0: no wheel for CPython 3.13 on linux aarch64 (1 wheel)"
    ]


def test_wheels_for_another_python_or_newer_glibc_do_not_count():
    lock = lock_of(
        '{ name = "old" }, { name = "new" }',
        package("old", "old" + X86, "old" + ARM.replace("cp313", "cp312")),
        package("new", "new" + X86, "new-1.0-cp313-cp313-manylinux_2_99_aarch64.whl"),
    )
    assert [p.split(":")[0] for p in wheel_problems(lock)] == ["new 1.0", "old 1.0"]


def test_pure_python_abi3_and_both_arches_pass():
    lock = lock_of(
        '{ name = "pure" }, { name = "stable" }, { name = "both" }',
        package("pure", "pure-1.0-py3-none-any.whl"),
        package(
            "stable",
            "stable-1.0-cp39-abi3-manylinux_2_28_x86_64.whl",
            "stable-1.0-cp39-abi3-manylinux_2_28_aarch64.whl",
        ),
        package("both", "both" + X86, "both" + ARM),
    )
    assert wheel_problems(lock) == []


def test_sdist_only_is_reported():
    lock = lock_of('{ name = "srconly" }', package("srconly"))
    assert wheel_problems(lock) == [
        "srconly 1.0: no wheel for CPython 3.13 on linux x86_64 and aarch64 (only an sdist)"
    ]


def test_markers_extras_and_transitive_dependencies_are_followed():
    """A Windows-only dependency is not installed on Linux; a dependency of a dependency,
    or of an extra the project asks for, is; an x86_64-only marker needs no arm64 wheel."""
    lock = lock_of(
        '{ name = "winonly", marker = "sys_platform == \'win32\'" }, '
        '{ name = "intelonly", marker = "platform_machine == \'x86_64\'" }, '
        '{ name = "top", extra = ["plots"] }',
        package("winonly", "winonly-1.0-cp313-cp313-win_amd64.whl"),
        package("intelonly", "intelonly" + X86),
        package(
            "top",
            "top-1.0-py3-none-any.whl",
            deps='{ name = "deep" }',
            extras='plots = [{ name = "plotlib" }]',
        ),
        package("deep", "deep" + X86),
        package("plotlib", "plotlib" + ARM),
    )
    assert wheel_problems(lock) == [
        "deep 1.0: no wheel for CPython 3.13 on linux aarch64 (1 wheel)",
        "plotlib 1.0: no wheel for CPython 3.13 on linux x86_64 (1 wheel)",
    ]


def test_the_real_lock_with_numpys_arm64_wheels_removed_fails():
    lock = tomllib.loads((ROOT / "images" / "python-image" / "uv.lock").read_text())
    numpy = next(p for p in lock["package"] if p["name"] == "numpy")
    numpy["wheels"] = [w for w in numpy["wheels"] if "aarch64" not in w["url"]]
    assert [p.split(":")[0] for p in wheel_problems(lock)] == [f"numpy {numpy['version']}"]


# --- an arm64 container runs here, emulated ------------------------------------------

BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
UV_INDEX = os.environ.get("UV_BOOTSTRAP_INDEX", "https://pypi.org/pypi/uv/json")


def arm64_uv(folder: Path) -> Path:
    """uv's static aarch64 binary from its PyPI wheel (the one the Python image pins),
    checked against the sha256 PyPI publishes."""
    dockerfile = (ROOT / "images" / "python-image" / "Dockerfile").read_text()
    version = dockerfile.split("ARG UV_IMAGE=ghcr.io/astral-sh/uv:", 1)[1].split("@")[0]
    with urllib.request.urlopen(UV_INDEX, timeout=120) as response:
        files = json.load(response)["releases"][version]
    wheel = next(f for f in files if "musllinux_1_1_aarch64" in f["filename"])
    url = urllib.parse.urljoin(UV_INDEX, wheel["url"])
    with urllib.request.urlopen(url, timeout=300) as response:
        data = response.read()
    assert hashlib.sha256(data).hexdigest() == wheel["digests"]["sha256"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".data/scripts/uv"))
        (folder / "uv").write_bytes(archive.read(member))
    return folder / "uv"


@pytest.mark.docker
def test_an_arm64_container_runs_under_emulation(tmp_path: Path):
    """Needs qemu-user-static with qemu-aarch64 registered in binfmt_misc with the F flag
    (Debian's package registers it where systemd-binfmt runs; .ci/run does it by hand)."""
    registered = BINFMT.exists() and "enabled" in BINFMT.read_text()
    if not registered:
        assert not IN_CI, "qemu-aarch64 is not registered in binfmt_misc (see .ci/run)"
        pytest.skip("qemu-aarch64 not registered in binfmt_misc: no arm64 emulation here")
    uv = arm64_uv(tmp_path)
    header = uv.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 0xB7, (
        "not an aarch64 ELF binary"
    )
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY --chmod=755 uv /uv\n")
    tag = f"docker-basics/arm64-smoke:{os.getpid()}"
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    build = subprocess.run(
        ["docker", "build", "-q", "--platform", "linux/arm64", "-t", tag, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    try:
        arch = subprocess.run(
            ["docker", "image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", tag],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert arch.stdout.strip() == "linux/arm64"
        run = subprocess.run(
            [
                "docker",
                "run",
                "--rm",
                "--platform",
                "linux/arm64",
                "--network",
                "none",
                tag,
                "/uv",
                "--version",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.startswith("uv ") and "aarch64" in run.stdout, run.stdout
    finally:
        subprocess.run(["docker", "rmi", tag], capture_output=True, timeout=120)
