"""Docker helpers for the image tests: run a command, build, wait, probe over HTTP."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def docker(*args: object, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["docker", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc


def build(context: Path, tag: str, build_args: dict[str, str], *extra: str) -> None:
    # The images workflow builds with buildx and its GitHub Actions cache first, and
    # says so with PREBUILT_IMAGES=1: test that image instead of building it again.
    if (
        os.environ.get("PREBUILT_IMAGES") == "1"
        and not extra
        and docker("image", "inspect", tag, check=False).returncode == 0
    ):
        print(f"using the prebuilt {tag}")
        return
    args = [f"--build-arg={k}={v}" for k, v in build_args.items()]
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    proc = subprocess.run(
        ["docker", "build", *args, *extra, "-t", tag, str(context)],
        capture_output=True,
        text=True,
        timeout=3000,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def wait_healthy(container: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = docker("inspect", "-f", "{{.State.Health.Status}}", container).stdout.strip()
        if status in ("healthy", "unhealthy"):
            return status
        time.sleep(1)
    return status


def http(url: str) -> tuple[int, str]:
    """Status and Location of a GET, without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", "")


def host_port(container: str, port: int) -> int:
    out = docker("port", container, str(port)).stdout.split()[0]
    assert out.startswith("127.0.0.1:"), out  # published on loopback only
    return int(out.rsplit(":", 1)[1])


def proc_status(container: str, *fields: str) -> dict[str, str]:
    """Fields of /proc/1/status (the container's first process) seen from inside."""
    out = docker("exec", container, "cat", "/proc/1/status").stdout
    values = dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)
    return {f: values[f].strip() for f in fields}


# The container's own cgroup files, as cgroup v1 (Debian 12's Docker 20.10) or v2 show them.
PIDS_MAX = "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"
MEMORY_MAX = (
    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"
)

# The run options the docs recommend and compose.yaml sets. Jupyter: a read-only root
# with /tmp in memory, no capabilities, no gaining privileges, limited processes and
# memory. RStudio Server: the same but a writable root, and the capabilities its
# start-up (as root) needs to set up its user and switch to it.
NO_PRIVILEGES_AND_LIMITS = "--security-opt no-new-privileges --pids-limit 1024 --memory 4g"
PYTHON_HARDENED = f"--read-only --tmpfs /tmp --cap-drop ALL {NO_PRIVILEGES_AND_LIMITS}".split()
RSTUDIO_CAPS = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"]
RSTUDIO_HARDENED = [
    *("--cap-drop", "ALL"),
    *(arg for cap in RSTUDIO_CAPS for arg in ("--cap-add", cap)),
    *NO_PRIVILEGES_AND_LIMITS.split(),
]
