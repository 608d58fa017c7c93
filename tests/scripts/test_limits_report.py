"""scripts/limits_report.py: the limits it reports are the ones given, on v1 and v2,
on the host, under cgroups.py and inside a Docker container."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import cgroups
import limits_report
import pytest
from helpers import PY, SCRIPTS, one_line, script, signalled_inside


def fake_proc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cgroup: str, mountinfo: str):
    (tmp_path / "cgroup").write_text(cgroup)
    (tmp_path / "mountinfo").write_text(mountinfo)
    monkeypatch.setattr(cgroups, "SELF_CGROUP", str(tmp_path / "cgroup"))
    monkeypatch.setattr(cgroups, "MOUNTINFO", str(tmp_path / "mountinfo"))


def files(folder: Path, **contents: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        (folder / name.replace("_", ".", 1)).write_text(text + "\n")


def test_v2_own_cgroup_and_a_lower_limit_above_it(tmp_path, monkeypatch):
    """GitHub's runners are on v2: cpu.max and memory.max, here with a slice above us
    that has the lower memory limit, as systemd-run or a batch scheduler would set it."""
    tree = tmp_path / "sys"
    files(tree, cgroup_controllers="cpu memory pids")
    files(tree / "job.slice", memory_max="1073741824", cpu_max="max 100000")
    files(tree / "job.slice" / "step.scope", memory_max="max", cpu_max="150000 100000")
    fake_proc(monkeypatch, tmp_path, "0::/job.slice/step.scope\n",
              f"30 23 0:26 / {tree} rw,nosuid - cgroup2 cgroup2 rw\n")  # fmt: skip
    assert limits_report.cpu_quota() == 1.5
    assert limits_report.memory_limit() == 2**30
    assert limits_report.usable_cpus() == min(2, len(limits_report.os.sched_getaffinity(0)))


def test_v2_in_a_container_with_its_own_cgroup_namespace(tmp_path, monkeypatch):
    """There /proc/self/cgroup reads 0::/ and the container's cgroup is the mount's root."""
    tree = tmp_path / "sys"
    files(tree, cgroup_controllers="cpu memory", cpu_max="100000 100000", memory_max="536870912")
    fake_proc(monkeypatch, tmp_path, "0::/\n", f"1 0 0:26 / {tree} ro - cgroup2 cgroup2 rw\n")
    assert (limits_report.cpu_quota(), limits_report.memory_limit()) == (1.0, 2**29)


def test_v1_in_a_docker_container(tmp_path, monkeypatch):
    """The bug: /proc/self/cgroup says /docker/ID, which is mounted at the hierarchy's
    mount point; the old report looked for memory/docker/ID and said "none"."""
    cid = "/docker/3f1c0ffee"
    files(tmp_path / "memory", memory_limit_in_bytes="536870912")
    files(tmp_path / "cpu,cpuacct", cpu_cfs_quota_us="100000", cpu_cfs_period_us="100000")
    fake_proc(monkeypatch, tmp_path, f"9:memory:{cid}\n3:cpu,cpuacct:{cid}\n",
              f"252 251 0:29 {cid} {tmp_path}/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n"
              f"256 251 0:33 {cid} {tmp_path}/memory ro - cgroup cgroup rw,memory\n")  # fmt: skip
    assert (limits_report.cpu_quota(), limits_report.memory_limit()) == (1.0, 2**29)


def test_v1_on_a_host_without_limits(tmp_path, monkeypatch):
    files(tmp_path / "memory" / "user.slice", memory_limit_in_bytes=str(2**63 - 4096))
    files(tmp_path / "memory", memory_limit_in_bytes=str(2**63 - 4096))
    files(tmp_path / "cpu" / "user.slice", cpu_cfs_quota_us="-1", cpu_cfs_period_us="100000")
    fake_proc(monkeypatch, tmp_path, "9:memory:/user.slice\n4:cpu:/user.slice\n",
              f"32 31 0:29 / {tmp_path}/cpu rw - cgroup cgroup rw,cpu\n"
              f"34 31 0:31 / {tmp_path}/memory rw - cgroup cgroup rw,memory\n")  # fmt: skip
    assert (limits_report.cpu_quota(), limits_report.memory_limit()) == (None, None)


def test_no_cgroup_filesystem_at_all(tmp_path, monkeypatch, capsys):
    fake_proc(monkeypatch, tmp_path, "0::/\n", "22 1 0:21 / /proc rw - proc proc rw\n")
    limits_report.report()
    out = capsys.readouterr().out
    assert "cgroup CPU quota:      none\n" in out and "cgroup memory limit:   none\n" in out


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [(["--bogus"], 125, "unrecognized arguments: --bogus"), (["extra"], 125, "unrecognized")],
)
def test_bad_input(args: list[str], status: int, message: str):
    one_line(script("limits_report.py", *args), status, message)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_midway_is_one_line(signum: int):
    """Ctrl-C (while it imported numpy, say) ended in a KeyboardInterrupt traceback, SIGTERM
    with no word. Here the signal comes with the report half printed."""
    proc = signalled_inside("limits_report.py", [], "os.sched_getaffinity", signum)
    name = "SIGINT (Ctrl-C)" if signum == signal.SIGINT else "SIGTERM"
    assert (proc.returncode, proc.stderr) == (
        128 + signum,
        f"limits_report.py: stopped by {name}\n",
    )
    assert proc.stdout.startswith("os.cpu_count():") and "CPU affinity" not in proc.stdout


def test_a_reader_that_stops_reading():
    """`limits_report.py | head -3` ended in a BrokenPipeError traceback. The report is
    done, and the reader chose to read no more: nothing to say, the work's status."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([PY, SCRIPTS / "limits_report.py"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60)  # fmt: skip
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_help():
    proc = script("limits_report.py", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: limits_report.py")


@pytest.mark.root
def test_under_cgroups_py():
    proc = script("cgroups.py", "--cpus", "1", "--memory", "512M", "--", PY,
                  SCRIPTS / "limits_report.py")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "cgroup CPU quota:      1.0\n" in proc.stdout
    assert "workers to start:      1\n" in proc.stdout
    assert "cgroup memory limit:   0.50 GiB\n" in proc.stdout


@pytest.mark.docker
@pytest.mark.parametrize(
    ("limits", "quota", "memory"),
    [
        (["--cpus", "1", "--memory", "512m", "--pids-limit", "64"], "1.0", "0.50 GiB"),
        (["--cpus", "0.5", "--memory", "256m"], "0.5", "0.25 GiB"),
        ([], "none", "none"),
    ],
)
def test_inside_a_docker_container(python_base: str, limits: list[str], quota: str, memory: str):
    """The documented docker run; on this machine's engine (cgroup v1, or v2 on GitHub)."""
    proc = subprocess.run(
        ["docker", "run", "--rm", "--network=none",
         "-v", f"{SCRIPTS}:/w:ro",  # with plumbing.py and cgroups.py, which it imports
         "-w", "/w", *limits, python_base, "python3", "limits_report.py"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(":", 1) for line in proc.stdout.splitlines())
    assert lines["cgroup CPU quota"].strip() == quota
    assert lines["cgroup memory limit"].strip() == memory
    assert lines["/dev/shm size"].strip() == "0.06 GiB"  # Docker's 64 MB
    if quota != "none":
        assert lines["workers to start"].strip() == "1"
