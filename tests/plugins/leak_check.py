"""Nothing left behind: mounts, network namespaces, our cgroups, child processes and
Docker containers and volumes, counted before and after the whole suite. More of any
fails the run; artifacts/leaks.json keeps both counts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

OUR_CGROUPS = re.compile(r"^(docker-basics|minicontainer)-(\d+)-[0-9a-f]{6}$")


def our_cgroups(pid: int | None = None) -> list[str]:
    """cgroups our scripts made (named <script>-<pid>-<random>), optionally of one pid."""
    found = []
    for dirpath, dirnames, _ in os.walk("/sys/fs/cgroup"):
        for d in dirnames:
            m = OUR_CGROUPS.match(d)
            if m and (pid is None or int(m[2]) == pid):
                found.append(os.path.join(dirpath, d))
        if dirpath.count("/") > 7:
            dirnames.clear()
    return found


def leak_counts() -> dict[str, object]:
    nets, kids = set(), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            nets.add(os.readlink(f"/proc/{pid}/ns/net"))
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(
                    os.getpid()):
                kids.append(int(pid))
        except OSError:
            pass
    return {"mounts": Path("/proc/self/mountinfo").read_text().count("\n"),
            "network namespaces": len(nets), "our cgroups": our_cgroups(),
            "child processes": sorted(kids), **docker_objects()}


def docker_objects() -> dict[str, list[str]]:
    """Containers and volumes of the Docker engine, when there is one: a page or a test
    that leaves one behind (a `docker create` never removed) is a leak too."""
    if shutil.which("docker") is None:
        return {}
    found = {}
    for kind, cmd in (("docker containers", ["ps", "-aq", "--no-trunc"]),
                      ("docker volumes", ["volume", "ls", "-q"])):
        try:
            out = subprocess.run(["docker", *cmd], capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            continue
        if out.returncode == 0:
            found[kind] = sorted(out.stdout.split())
    return found


# A run of the suite inside a test of the suite (tests/test_makefile.py) counts only its
# own child processes: the machine-wide counts move with the outer run's other tests,
# and the outer run's own leak check covers them.
NESTED = os.environ.get("DOCKER_BASICS_NESTED_RUN") == "1"


def pytest_sessionstart(session: pytest.Session) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ:  # the controller: before any worker starts
        counts = leak_counts()
        if NESTED:
            counts = {"child processes": counts["child processes"]}
        session.config.stash[LEAKS] = counts


LEAKS = pytest.StashKey[dict]()


def leaked(before: dict[str, object], after: dict[str, object]) -> bool:
    """More of anything than before. (Fewer is not ours: on a shared machine other
    processes end their containers, and with them mounts and namespaces, meanwhile.)"""
    for key, was in before.items():
        now = after.get(key, was)
        if set(now) - set(was) if isinstance(was, list) else now > was:
            return True
    return False


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if LEAKS not in session.config.stash:
        return
    before = session.config.stash[LEAKS]
    after = leak_counts()
    for _ in range(20):  # the kernel frees namespaces of just-ended processes a moment later
        if not leaked(before, after):
            break
        time.sleep(0.1)
        after = leak_counts()
    report = ", ".join(f"{k} {len(v) if isinstance(v, list) else v}->"
                       f"{len(after[k]) if isinstance(after[k], list) else after[k]}"
                       for k, v in before.items())
    out = ROOT / "artifacts" / "leaks.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"before": before, "after": after}, indent=2))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"leak check (whole suite): {report}")
    if leaked(before, after):
        if reporter:
            reporter.write_line(f"LEAK: before {before}, after {after}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
