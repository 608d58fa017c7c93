#!/usr/bin/env python3
"""Put a pinned uv binary in .tools/bin/uv, taken from its PyPI wheel.

Why not `pip install uv`: a fresh Debian 12 or Ubuntu 24.04 has python3 but
neither pip nor ensurepip (python3-venv), and we promise that python3 + make
are enough. A wheel is a zip file, so the standard library can fetch it from
PyPI, check the sha256 that PyPI publishes for it, and unpack the binary.

UV_VERSION below is the one place the repository pins the uv it works with
(the Makefile runs this script; images pin their own uv image by digest). When
DEST already is that version, nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

UV_VERSION = "0.13.9"
INDEX = os.environ.get("UV_BOOTSTRAP_INDEX", "https://pypi.org/pypi/uv/json")

# Wheel platform tags by (system, machine), in order of preference.
TAGS = {
    ("Linux", "x86_64"): ["manylinux_2_17_x86_64", "musllinux_1_1_x86_64"],
    ("Linux", "aarch64"): ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64"],
    ("Darwin", "x86_64"): ["macosx_10_12_x86_64"],
    ("Darwin", "arm64"): ["macosx_11_0_arm64"],
}


def fail(message: str) -> None:
    print(f"get_uv: {message}", file=sys.stderr)
    raise SystemExit(1)


def ssl_context() -> ssl.SSLContext:
    # Honour a corporate CA bundle the same way pip, curl and uv do.
    cafile = os.environ.get("SSL_CERT_FILE") or os.environ.get("PIP_CERT")
    return ssl.create_default_context(cafile=cafile if cafile and Path(cafile).is_file() else None)


def fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, context=ssl_context(), timeout=120) as response:
            return response.read()
    except (OSError, ValueError) as exc:
        fail(f"cannot download {url}: {exc}. Check your network or proxy and try again.")
        raise  # unreachable; keeps type checkers happy


def installed_version(dest: Path) -> str | None:
    """The version of the uv at dest ("uv 0.13.9 (...)" -> "0.13.9"), or None."""
    try:
        out = subprocess.run([dest, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = out.stdout.split()
    return words[1] if out.returncode == 0 and len(words) > 1 else None


def main() -> None:
    # get_uv.py [DEST [VERSION]]: the Makefile uses the defaults; images/stand-ins
    # asks for the version its Dockerfile pins.
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else ".tools/bin/uv")
    version = sys.argv[2] if len(sys.argv) > 2 else UV_VERSION
    if installed_version(dest) == version:
        dest.touch()  # newer than this script: make sees it up to date
        return
    key = (platform.system(), platform.machine())
    if key not in TAGS:
        fail(f"no uv wheel known for {key[0]} {key[1]}; install uv {UV_VERSION} yourself.")
    files = json.loads(fetch(INDEX))["releases"].get(version, [])
    wheel = next(
        (
            f
            for tag in TAGS[key]
            for f in files
            if f["filename"].endswith(".whl") and tag in f["filename"]
        ),
        None,
    )
    if wheel is None:
        fail(f"PyPI lists no uv {version} wheel for {key[0]} {key[1]}.")
    # Mirrors may answer with a URL relative to the JSON page.
    data = fetch(urllib.parse.urljoin(INDEX, wheel["url"]))
    if hashlib.sha256(data).hexdigest() != wheel["digests"]["sha256"]:
        fail(f"{wheel['filename']} does not match the sha256 PyPI publishes; not installing it.")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".data/scripts/uv"))
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        partial.write_bytes(archive.read(member))
        partial.chmod(0o755)
        partial.replace(dest)  # atomic: a half-written uv is never left at dest
    print(f"get_uv: uv {version} installed at {dest}")


if __name__ == "__main__":
    main()
