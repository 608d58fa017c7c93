"""The under-the-hood scripts: every claim the chapters make, asserted.

Nothing may be left behind: conftest.py counts mounts, cgroups made by our
scripts, network namespaces and child processes before and after the whole
suite, and fails the run if any number moved.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import ROOT, our_cgroups, readable_copy

SCRIPTS = ROOT / "scripts"
PY = sys.executable
NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"


def script(name: str, *args: object, user: int | None = None, timeout: float = 120,
           python: str = PY) -> subprocess.CompletedProcess[str]:
    path = SCRIPTS / name if user is None else readable_copy(SCRIPTS / name)
    cmd = [python, str(path), *map(str, args)]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    box = tmp_path_factory.mktemp("internals") / "box"
    proc = script("create_sandbox.py", box, "-c", "bash", "ls", "ps", "cat", "id", "touch",
                  "hostname", "sleep")
    assert proc.returncode == 0, proc.stderr
    (box / "data").mkdir()
    return box


INSPECT = ("import os, socket; print(os.getpid()); "
           "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit())); "
           "print(socket.gethostname()); "
           "print([l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]])")
# A datagram to itself on 127.0.0.1 arrives only if `lo` is up (a new network
# namespace starts with it down; minicontainer.py brings it up).
LOOPBACK_WORKS = ("; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                  "s.bind(('127.0.0.1', 0)); s.sendto(b'ping', s.getsockname()); "
                  "print(s.recv(4).decode())")


# --- namespaces.py -------------------------------------------------------------


@pytest.mark.root
def test_run_is_pid_1_alone_with_its_own_hostname_and_only_lo():
    host_name = os.uname().nodename
    proc = script("namespaces.py", "run", "--hostname", "box", "--", PY, "-c", INSPECT)
    assert proc.returncode == 0, proc.stderr
    pid, visible, hostname, interfaces = proc.stdout.splitlines()
    assert pid == "1"
    assert visible == "[1]"  # no host process is visible
    assert hostname == "box" and os.uname().nodename == host_name
    assert interfaces == "['lo']"


@pytest.mark.root
def test_rootless_run_maps_us_to_root():
    proc = script("namespaces.py", "run", "--", "id", "-u", user=NOBODY, python=SYSTEM_PYTHON)
    assert (proc.returncode, proc.stdout) == (0, "0\n"), proc.stderr


@pytest.mark.root
def test_root_can_ask_for_a_user_namespace_too():
    """Root may not map its own uid 0 (Linux >= 5.12): a helper writes the map."""
    proc = script("namespaces.py", "run", "--user", "--", "cat", "/proc/self/uid_map")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "0", "1"]


@pytest.mark.root
def test_join_enters_a_running_namespace():
    runner = subprocess.Popen([PY, SCRIPTS / "namespaces.py", "run", "--hostname", "joined", "--",
                               "sleep", "60"])
    try:
        for _ in range(100):  # the namespaced sleep is the runner's child
            kids = [p for p in filter(str.isdigit, os.listdir("/proc"))
                    if Path(f"/proc/{p}/stat").exists() and
                    Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1]
                    == str(runner.pid)]
            if kids and Path(f"/proc/{kids[0]}/comm").read_text().strip() == "sleep":
                break
            time.sleep(0.05)
        proc = script("namespaces.py", "join", kids[0], "--", PY, "-c", INSPECT)
        assert proc.returncode == 0, proc.stderr
        _pid, visible, hostname, _ = proc.stdout.splitlines()
        assert hostname == "joined"
        assert visible.startswith("[1, ")  # sleep is PID 1 there, we are one more
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()
        for kid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(kid), signal.SIGKILL)


def test_join_of_a_missing_process_is_one_line():
    proc = script("namespaces.py", "join", "999999999", "--", "true")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "no process 999999999" in proc.stderr and "Traceback" not in proc.stderr


# --- chroot_escape.py ------------------------------------------------------------


@pytest.mark.root
@pytest.mark.parametrize("user", [None, NOBODY], ids=["root", "rootless"])
def test_escape_works_from_chroot_and_fails_after_pivot_root(user):
    proc = script("chroot_escape.py", user=user, python=SYSTEM_PYTHON if user else PY)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "chroot:      entered: inside the box; after the escape attempt: on the host's /",
        "pivot_root:  entered: inside the box; after the escape attempt: inside the box",
    ]


# --- cgroups.py -------------------------------------------------------------------

FORK_BOMB = """
import os, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError as exc:
    print(f"fork refused after {n} children: {exc.strerror}")
"""


@pytest.mark.root
def test_memory_limit_ends_in_an_oom_kill():
    proc = script("cgroups.py", "--memory", "64M", "--", PY, "-c", "b = b'x' * 300_000_000")
    assert proc.returncode == 137, proc.stderr
    assert proc.stdout.splitlines() == [
        "the command was killed by SIGKILL (the OOM killer's signal)",
        "memory: limit 67108864 bytes, OOM kills: 1",
    ]


@pytest.mark.root
def test_pids_limit_stops_a_fork_bomb_and_we_survive():
    start = time.monotonic()
    proc = script("cgroups.py", "--pids", "16", "--", PY, "-c", FORK_BOMB)
    assert proc.returncode == 0, proc.stderr
    assert "fork refused after 15 children: Resource temporarily unavailable" in proc.stdout
    assert re.search(r"forks refused: [1-9]", proc.stdout)
    # The host stayed responsive: we fork and run a program at once, and quickly.
    assert subprocess.run(["true"]).returncode == 0
    assert time.monotonic() - start < 30


@pytest.mark.root
def test_cpu_quota_throttles_a_busy_loop():
    busy = "import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end: pass"
    proc = script("cgroups.py", "--cpus", "0.2", "--", PY, "-c", busy)
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"periods: (\d+), throttled: (\d+) \(([\d.]+) s\)", proc.stdout)
    assert m and int(m[2]) >= 5 and float(m[3]) > 0.5, proc.stdout


# Ctrl-C right after the cgroup appears lands while the command is being started;
# that used to leave the command running and the cgroup behind.
@pytest.mark.root
@pytest.mark.parametrize("delay", [0, 0.002, 0.005, 0.01, 0.2])
def test_ctrl_c_removes_the_cgroup_and_the_command(delay):
    # As from a terminal: a shell running the tests in the background (`&`) would
    # have them, and so the script, ignore SIGINT.
    proc = subprocess.Popen([PY, SCRIPTS / "cgroups.py", "--memory", "64M", "--", "sleep", "60"],
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for _ in range(2000):
            if our_cgroups(proc.pid):
                break
            time.sleep(0.001)
        assert our_cgroups(proc.pid)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:  # if the script hung: stop it, and what it left, before failing
        proc.kill()
        proc.wait()
        for cgroup in our_cgroups(proc.pid):
            for pid in Path(cgroup, "cgroup.procs").read_text().split():
                os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.2)
            os.rmdir(cgroup)
    assert proc.returncode == 130
    assert err == "cgroups.py: interrupted; the cgroup is removed\n"
    assert our_cgroups(proc.pid) == []
    sleeping = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
    assert sleeping.stdout == ""


@pytest.mark.root
def test_the_command_gets_ctrl_c():
    """cgroups.py holds Ctrl-C back while it starts the command; the command must not
    inherit that: SIGINT (bit 1 of SigBlk) is not blocked in it."""
    proc = subprocess.run([PY, SCRIPTS / "cgroups.py", "--memory", "64M", "--",
                           "grep", "SigBlk", "/proc/self/status"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    blocked = int(proc.stdout.split("SigBlk:")[1].split()[0], 16)
    assert not blocked & (1 << (signal.SIGINT - 1))


def test_cgroup_v2_layout_with_a_fake_tree(tmp_path, monkeypatch):
    """The v2 code path (GitHub's runners run it for real) against a fake /sys/fs/cgroup."""
    sys.path.insert(0, str(SCRIPTS))
    import cgroups

    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("cpu memory pids\n")
    monkeypatch.setattr(cgroups, "CGROUP_ROOT", tmp_path)
    assert [cgroups.version(c) for c in ("memory", "cpu", "pids")] == [2, 2, 2]
    cg = cgroups.Cgroup(["memory", "cpu", "pids"])
    cg.create()
    folder = tmp_path / cg.name
    assert cg.dirs == {"memory": folder, "cpu": folder, "pids": folder}
    (folder / "memory.swap.max").write_text("max")
    args = cgroups.argparse.Namespace(memory=64 * 2**20, pids=16, cpus=0.5)
    cgroups.apply_limits(cg, args)
    assert (folder / "memory.max").read_text() == str(64 * 2**20)
    assert (folder / "memory.swap.max").read_text() == "0"
    assert (folder / "cpu.max").read_text() == "50000 100000"
    assert (folder / "pids.max").read_text() == "16"


@pytest.mark.parametrize(("args", "message"), [
    (["--", "true"], "give at least one limit"),
    (["--memory", "lots", "--", "true"], "'lots' is not a size like 64M or 1G"),
    (["--cpus", "0", "--", "true"], "is not a CPU count"),
    (["--memory", "64M"], "give a command to run"),
    (["--pids", "-1", "--", "true"], "'-1' is not a whole number of at least 1"),
    (["--memory", "0", "--", "true"], "'0' is not a size like 64M or 1G"),
])
def test_cgroups_bad_input(args, message):
    proc = script("cgroups.py", *args)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and message in proc.stderr


def test_cgroups_without_root_explains_systemd_run():
    if os.geteuid() == 0:
        proc = script("cgroups.py", "--memory", "64M", "--", "true", user=NOBODY,
                      python=SYSTEM_PYTHON)
    else:
        proc = script("cgroups.py", "--memory", "64M", "--", "true")
    assert proc.returncode == 1
    assert proc.stderr.startswith("cgroups.py: making a cgroup needs root. Without root, ask "
                                  "systemd for one: systemd-run --user --scope -p MemoryMax=64M")


# --- minicontainer.py ---------------------------------------------------------------


@pytest.mark.root
def test_minicontainer_on_the_sandbox(sandbox: Path, tmp_path: Path):
    (tmp_path / "in.txt").write_text("from the host\n")
    proc = script("minicontainer.py", "--memory", "64M", "--pids-limit", "32", "--cpus", "0.5",
                  "--hostname", "box", "--read-only", "-v", f"{tmp_path}:/data", sandbox,
                  "/bin/bash", "-c", "echo $$; hostname; "
                  "{ read; read; while read -r ifc _; do echo $ifc; done; } < /proc/net/dev; "
                  "cat /data/in.txt; "
                  "touch /new 2>&1; echo out > /data/out.txt; ps -e -o pid=")
    assert proc.returncode == 0, proc.stderr
    lines = [line.strip() for line in proc.stdout.splitlines()]
    assert lines[:4] == ["1", "box", "lo:", "from the host"]
    assert lines[4] == "touch: cannot touch '/new': Read-only file system"
    assert lines[5:] == ["1"]  # ps (bash exec()s it as PID 1) sees no other process
    assert (tmp_path / "out.txt").read_text() == "out\n"


@pytest.mark.root
def test_minicontainer_runs_the_command_in_its_cgroup_for_every_limit(sandbox: Path):
    """The container's first process joins the cgroup itself (v1: `tasks`, v2: cgroup.procs)."""
    proc = script("minicontainer.py", "--memory", "64M", "--pids-limit", "32", "--cpus", "0.5",
                  sandbox, "/bin/bash", "-c",
                  "while IFS=: read -r _ ctl path; do "
                  "case $path in */minicontainer-*) echo \"[$ctl]\";; esac; "
                  "done < /proc/self/cgroup")
    assert proc.returncode == 0, proc.stderr
    joined = proc.stdout.split()
    for controller in ("memory", "pids", "cpu"):
        if Path(f"/sys/fs/cgroup/{controller}/cgroup.procs").exists():  # v1 hierarchy
            assert any(controller in line.strip("[]").split(",") for line in joined), joined
        else:  # v2: one unified hierarchy, the line has no controller names
            assert "[]" in joined, joined


@pytest.mark.root
def test_minicontainer_oom_kill_is_137(sandbox: Path):
    proc = script("minicontainer.py", "--memory", "32M", sandbox, "/bin/bash", "-c",
                  "x=1; while true; do x=$x$x; done")
    assert proc.returncode == 137


@pytest.mark.root
def test_minicontainer_rootless(sandbox: Path):
    home = Path(tempfile.mkdtemp(prefix="minicontainer-nobody-"))  # reachable by nobody
    box = home / "box"
    subprocess.run(["cp", "-a", sandbox, box], check=True)
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", home], check=True)
    proc = script("minicontainer.py", "--hostname", "rootless", box, "/bin/bash", "-c",
                  "echo $$ $(id -u) $(hostname)", user=NOBODY, python=SYSTEM_PYTHON)
    assert (proc.returncode, proc.stdout) == (0, "1 0 rootless\n"), proc.stderr
    limited = script("minicontainer.py", "--memory", "64M", box, "true", user=NOBODY,
                     python=SYSTEM_PYTHON)
    shutil.rmtree(home)
    assert limited.returncode == 125 and "need root (cgroups)" in limited.stderr


@pytest.mark.root
def test_minicontainer_ctrl_c_kills_and_cleans(sandbox: Path):
    proc = subprocess.Popen([PY, SCRIPTS / "minicontainer.py", "--memory", "64M", sandbox,
                             "sleep", "60"])
    for _ in range(100):
        if our_cgroups(proc.pid) and any(Path(f"/proc/{p}/comm").read_text().strip() == "sleep"
                                         for p in children_of(proc.pid)):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 137  # PID 1 (sleep) was killed
    assert our_cgroups(proc.pid) == []


def children_of(pid: int) -> list[str]:
    out = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                out.append(p)
        except OSError:
            pass
    return out


@pytest.mark.parametrize(("args", "message"), [
    (["/nonexistent", "true"], "/nonexistent has no /proc folder"),
    (["-v", "nocolon", "/", "true"], "'nocolon' is not HOST_PATH:/CONTAINER_PATH[:ro]"),
    (["/"], "give the command to run inside"),
    (["--memory", "0", "/", "true"], "'0' is not a size like 256M"),
    (["/", "true"], "the root filesystem must be a folder other than /"),
])
def test_minicontainer_bad_input(args, message):
    proc = script("minicontainer.py", *args)
    assert proc.returncode in (2, 125) and proc.stderr.count("\n") == 1, proc.stderr
    assert message in proc.stderr


@pytest.mark.root
@pytest.mark.docker
def test_minicontainer_on_a_docker_export(tmp_path: Path, python_base: str):
    """A root filesystem exported from a Docker image runs as it would in docker run."""
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    cid = subprocess.run(["docker", "create", python_base], capture_output=True, text=True,
                         check=True).stdout.strip()
    try:
        export = subprocess.Popen(["docker", "export", cid], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", rootfs], stdin=export.stdout, check=True)
        export.wait()
    finally:
        subprocess.run(["docker", "rm", cid], capture_output=True)
    proc = script("minicontainer.py", "--memory", "128M", "--hostname", "exported", "--read-only",
                  rootfs, "python3", "-c", INSPECT + LOOPBACK_WORKS)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["1", "[1]", "exported", "['lo']", "ping"]
