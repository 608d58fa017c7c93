#!/usr/bin/env python3
"""Moving the Python image through a registry against moving it as a file.

    sudo python3 benchmarks/registry_roundtrip.py [--image docker-basics/ds-python:test]

Measured in the same run, on the same machine:

- push: `docker push` of the image to a local registry (CNCF Distribution,
  Debian's docker-registry, on a free port of 127.0.0.1, storage in a temporary
  folder): the layers are compressed with gzip on the way.
- pull: `docker pull` of it into an empty Docker engine.
- save: `docker save -o image.tar` (no compression), and
- load: `docker load -i image.tar` into the same empty engine.

"Empty engine": a pull or load into the engine that already holds the image finds
every layer there and copies nothing, so pull and load go to a second dockerd of
this script's own (its own data root, containerd, socket; no network set-up),
which is stopped and removed at the end. The image must exist in the main engine
(tests/images builds docker-basics/ds-python:test from the stand-ins).
Ctrl-C or SIGTERM stops the run and removes the registry, the second engine and
the files.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCKER = shutil.which("docker", path="/usr/bin") or "docker"


def fail(message: str) -> None:
    print(f"registry_roundtrip.py: {message}", file=sys.stderr)
    raise SystemExit(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docker(*args: str, host: str | None = None, timeout: float = 3600) -> float:
    """Run a docker command, return its wall time in seconds; fail on error."""
    cmd = [DOCKER, *(["--host", host] if host else []), *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        fail(f"`{' '.join(cmd)}` failed: {proc.stderr.strip()[-1500:]}")
    return time.perf_counter() - start


def wait_for(check, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    fail(f"{what} did not start in {seconds:.0f} s")


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default="docker-basics/ds-python:test")
    args = parser.parse_args()
    if os.geteuid() != 0:
        fail("needs root for its own second Docker engine; run it with sudo.")
    for tool in ("docker-registry", "dockerd"):
        if shutil.which(tool) is None:
            fail(f"{tool} is not installed (Debian: apt-get install docker-registry docker.io).")
    if subprocess.run([DOCKER, "image", "inspect", args.image], capture_output=True).returncode:
        fail(
            f"no image {args.image} in the Docker engine; build it first, for example with "
            "`make test PYTEST_ARGS='tests/images'` or `docker build -t "
            f"{args.image} images/python-image` (with the stand-ins' build arguments)."
        )

    work = Path(tempfile.mkdtemp(prefix="registry-roundtrip-", dir="/var/tmp"))
    procs: list[subprocess.Popen] = []
    port = free_port()
    remote = f"127.0.0.1:{port}/bench/ds-python:roundtrip"
    bench_host = f"unix://{work}/docker.sock"

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    log = open(work / "dockerd.log", "w")  # noqa: SIM115 (open while dockerd runs)
    bridge = f"dbrt{os.getpid() % 10**7}"  # an interface name has at most 15 characters
    made_bridge = False
    try:
        (work / "registry.yml").write_text(
            f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {work}/registry\nhttp:\n  addr: 127.0.0.1:{port}\n"
        )
        procs.append(
            subprocess.Popen(
                ["docker-registry", "serve", str(work / "registry.yml")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

        def registry_up() -> bool:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return True
            return False

        wait_for(registry_up, "the registry")
        # A second engine, empty, that only pulls and loads images: no iptables, none of
        # the main engine's settings (an empty daemon.json of its own), and a bridge of its
        # own. (`--bridge none` would make it delete the main engine's docker0.)
        (work / "daemon.json").write_text("{}\n")
        subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
        made_bridge = True
        procs.append(
            subprocess.Popen(
                [
                    "dockerd",
                    "--config-file",
                    str(work / "daemon.json"),
                    "--data-root",
                    str(work / "data"),
                    "--exec-root",
                    str(work / "exec"),
                    "--pidfile",
                    str(work / "dockerd.pid"),
                    "--host",
                    bench_host,
                    "--bridge",
                    bridge,
                    "--iptables=false",
                    "--ip-masq=false",
                    "--storage-driver",
                    "overlay2",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        wait_for(
            lambda: (
                subprocess.run(
                    [DOCKER, "--host", bench_host, "info"], capture_output=True
                ).returncode
                == 0
            ),
            "the second Docker engine",
            120,
        )

        docker("tag", args.image, remote)
        push = docker("push", remote)
        pushed = folder_size(work / "registry")
        pull = docker("pull", remote, host=bench_host)
        docker("rmi", remote, host=bench_host)
        tar = work / "image.tar"
        save = docker("save", "-o", str(tar), args.image)
        load = docker("load", "-i", str(tar), host=bench_host)

        size = subprocess.run(
            [DOCKER, "image", "inspect", "-f", "{{.Size}}", args.image],
            capture_output=True,
            text=True,
        ).stdout.strip()
        mb = 1e6
        print(
            f"image {args.image}: {int(size) / mb:,.0f} MB unpacked, "
            f"{tar.stat().st_size / mb:,.0f} MB as a docker save tar, "
            f"{pushed / mb:,.0f} MB in the registry (gzip layers)"
        )
        print(f"push {push:6.1f} s   save {save:6.1f} s   save/push {save / push:.2f}")
        print(f"pull {pull:6.1f} s   load {load:6.1f} s   load/pull {load / pull:.2f}")
        print(
            f"push+pull {push + pull:6.1f} s   save+load {save + load:6.1f} s   "
            f"ratio {(save + load) / (push + pull):.2f}"
        )
    except KeyboardInterrupt:
        print("registry_roundtrip.py: stopped; cleaning up", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        subprocess.run([DOCKER, "rmi", remote], capture_output=True)
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if made_bridge:
            subprocess.run(["ip", "link", "delete", bridge], capture_output=True)
        # The second engine's overlay mounts must be gone before its folder is removed.
        for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
            mount_point = line.split()[4]
            if mount_point.startswith(str(work)):
                subprocess.run(["umount", "-l", mount_point], capture_output=True)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
