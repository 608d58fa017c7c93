"""The under-the-hood scripts run inside a privileged container, as the page tells macOS
and Windows readers to run them (docs/under-the-hood/index.md).

Docker Desktop, Colima and the like run a Linux VM; `docker run --privileged` gives a
container in it what the scripts need: every capability, no seccomp or AppArmor filter,
/proc and /sys unmasked, /sys/fs/cgroup writable. `--cgroupns=host` lets cgroups.py and
minicontainer.py see the VM's whole cgroup tree: in a private cgroup namespace on
cgroup v2 the container's own cgroup is the root, and it enables no controller for
children. Our own CI machine's engine refuses --privileged, so these run on GitHub's
runners (a skip there is a failure; conftest.privileged_problem probes the engine).
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.privileged, pytest.mark.docker]
# With --cgroupns=host the scripts make their cgroups in the host's (the VM's) tree; the
# suite's leak check (conftest.pytest_sessionfinish) fails the run if one is left there.
CPU_LINE = "cpu: limit 0.5 CPUs, periods: N, throttled: N (S s)"


def in_container(image: str, script: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a bash script as root in a new privileged container with scripts/ mounted
    read-only at /scripts; the container is removed afterwards, also on a timeout."""
    name = f"docker-basics-uth-{os.getpid()}-{os.urandom(3).hex()}"
    cmd = [
        "docker",
        "run",
        "--rm",
        "--name",
        name,
        "--privileged",
        "--cgroupns=host",
        "--network",
        "none",
        "-v",
        f"{ROOT / 'scripts'}:/scripts:ro",
        "-w",
        "/tmp",
        image,
        "bash",
        "-c",
        script,
    ]
    try:
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


def test_namespaces_run_is_pid_1_with_its_own_host_name_and_only_lo(python_base: str):
    inspect = (
        "import os, socket; print(os.getpid(), socket.gethostname()); "
        "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit())); "
        "print([l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]])"
    )
    proc = in_container(
        python_base,
        "python3 /scripts/namespaces.py run --hostname box -- "
        f'python3 -c "{inspect}"; echo "exit status: $?"',
    )
    assert proc.stdout == "1 box\n[1]\n['lo']\nexit status: 0\n", proc.stderr


def test_cgroups_oom_kill_and_every_limit(python_base: str):
    proc = in_container(
        python_base,
        """
        python3 /scripts/cgroups.py --memory 64M -- python3 -c 'data = b"x" * 200_000_000'
        echo "exit status: $?"
        python3 /scripts/cgroups.py --pids-limit 16 --cpus 0.5 -- python3 -c 'print("ran")'
        echo "exit status: $?"
    """,
    )
    lines = proc.stdout.splitlines()
    cpu = r"cpu: limit 0\.5 CPUs, periods: \d+, throttled: \d+ \(\d+\.\d\d s\)"
    if len(lines) == 7 and re.fullmatch(cpu, lines[5]):
        lines[5] = CPU_LINE
    assert lines == [
        "the command was killed by SIGKILL (the OOM killer's signal)",
        "memory: limit 67108864 bytes, OOM kills: 1",
        "exit status: 137",
        "ran",
        "pids: limit 16, forks refused: 0, left: 0",
        CPU_LINE,
        "exit status: 0",
    ], proc.stderr


def test_create_sandbox_builds_and_enters(python_base: str):
    proc = in_container(
        python_base,
        """
        python3 /scripts/create_sandbox.py box -c bash ls id >/dev/null
        python3 /scripts/create_sandbox.py --enter box -- bash -c 'echo "PID $$"; id; ls /'
        echo "exit status: $?"
    """,
    )
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["PID 1", "uid=0(root) gid=0(root) groups=0(root)"], proc.stderr
    assert lines[-1] == "exit status: 0", proc.stderr
    # Only what the sandbox holds: no trace of the image's /usr/local or /scripts.
    seen = set(" ".join(lines[2:-1]).split())
    assert {"bin", "etc", "proc"} <= seen and not seen & {"scripts", "home", "srv"}, lines


def test_chroot_escape_leaves_chroot_but_not_pivot_root(python_base: str):
    proc = in_container(python_base, 'python3 /scripts/chroot_escape.py; echo "exit status: $?"')
    assert proc.stdout.splitlines() == [
        "chroot:      entered: inside the box; after the escape attempt: on the host's /",
        "pivot_root:  entered: inside the box; after the escape attempt: inside the box",
        "exit status: 0",
    ], proc.stderr


def test_minicontainer_runs_a_limited_read_only_box(python_base: str):
    proc = in_container(
        python_base,
        """
        python3 /scripts/create_sandbox.py rootfs -c bash hostname touch >/dev/null
        python3 /scripts/minicontainer.py --memory 64M --pids-limit 32 --cpus 0.5 \\
            --hostname box --read-only rootfs \\
            /bin/bash -c 'echo "PID $$ on $(hostname)"; touch /oops 2>&1'
        echo "exit status: $?"
    """,
    )
    assert proc.stdout.splitlines() == [
        "PID 1 on box",
        "touch: cannot touch '/oops': Read-only file system",
        "exit status: 1",  # the command's own status, as docker run passes it on
    ], proc.stderr
