"""scripts/minicontainer.py: namespaces, pivot_root, limits, bad input, and signals."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import cgroups
import pytest
from conftest import ROOT, our_cgroups
from helpers import (
    NOBODY,
    PY,
    SCRIPTS,
    build_sandbox,
    clean_up_after,
    ctrl_c_on_a_terminal,
    gid_of,
    marker,
    one_line,
    processes_with,
    reader,
    script,
    still_running,
    stop_at,
    wait_until,
)

MINI = SCRIPTS / "minicontainer.py"
INSPECT = (
    "import os, socket; print(os.getpid()); "
    "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit())); "
    "print(socket.gethostname()); "
    "print([l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]])"
)
# A datagram to itself on 127.0.0.1 arrives only if `lo` is up (a new network
# namespace starts with it down; minicontainer.py brings it up).
LOOPBACK_WORKS = (
    "; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
    "s.bind(('127.0.0.1', 0)); s.sendto(b'ping', s.getsockname()); "
    "print(s.recv(4).decode())"
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    box = tmp_path_factory.mktemp("mini") / "box"
    build_sandbox(box, "bash", "ls", "ps", "cat", "id", "touch", "hostname", "sleep")
    (box / "data").mkdir()
    return box


@pytest.mark.root
def test_on_the_sandbox(sandbox: Path, tmp_path: Path):
    (tmp_path / "in.txt").write_text("from the host\n")
    proc = script(
        "minicontainer.py", "--memory", "64M", "--pids-limit", "32", "--cpus", "0.5",
        "--hostname", "box", "--read-only", "-v", f"{tmp_path}:/data", sandbox,
        "/bin/bash", "-c", "echo $$; hostname; "
        "{ read; read; while read -r ifc _; do echo $ifc; done; } < /proc/net/dev; "
        "cat /data/in.txt; touch /new 2>&1; echo out > /data/out.txt; ps -e -o pid=",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [line.strip() for line in proc.stdout.splitlines()]
    assert lines[:4] == ["1", "box", "lo:", "from the host"]
    assert lines[4] == "touch: cannot touch '/new': Read-only file system"
    assert lines[5:] == ["1"]  # ps (bash exec()s it as PID 1) sees no other process
    assert (tmp_path / "out.txt").read_text() == "out\n"


@pytest.mark.root
def test_the_command_runs_in_its_cgroup_for_every_limit(sandbox: Path):
    """The container's first process joins the cgroup itself (v1: `tasks`, v2: cgroup.procs)."""
    proc = script(
        "minicontainer.py", "--memory", "64M", "--pids-limit", "32", "--cpus", "0.5", sandbox,
        "/bin/bash", "-c", "while IFS=: read -r _ ctl path; do "
        'case $path in */minicontainer-*) echo "[$ctl]";; esac; done < /proc/self/cgroup',
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    joined = proc.stdout.split()
    for controller in ("memory", "pids", "cpu"):
        if Path(f"/sys/fs/cgroup/{controller}/cgroup.procs").exists():  # v1 hierarchy
            assert any(controller in line.strip("[]").split(",") for line in joined), joined
        else:  # v2: one unified hierarchy, the line has no controller names
            assert "[]" in joined, joined


@pytest.mark.root
def test_oom_kill_is_137(sandbox: Path):
    proc = script(
        "minicontainer.py", "--memory", "32M", sandbox, "/bin/bash", "-c",
        "x=1; while true; do x=$x$x; done",
    )  # fmt: skip
    assert proc.returncode == 137


@pytest.mark.root
@pytest.mark.parametrize("who", ["nobody", "reader"])
def test_rootless(who: str, sandbox: Path):
    """Issue 21: it read our uid after unshare(CLONE_NEWUSER), when it is the overflow uid
    65534 already, and mapped that: fine for nobody (65534), refused for anyone else."""
    user = NOBODY if who == "nobody" else reader()
    home = Path(tempfile.mkdtemp(prefix="minicontainer-rootless-"))  # reachable by the user
    try:
        box = home / "box"
        subprocess.run(["cp", "-a", sandbox, box], check=True)
        subprocess.run(["chown", "-R", f"{user}:{gid_of(user)}", home], check=True)
        proc = script(
            "minicontainer.py", "--hostname", "rootless", box, "/bin/bash", "-c",
            "echo $$ $(id -u) $(hostname)", user=user,
        )  # fmt: skip
        assert (proc.returncode, proc.stdout) == (0, "1 0 rootless\n"), proc.stderr
        limited = script("minicontainer.py", "--memory", "64M", box, "true", user=user)
        one_line(limited, 125, "--memory, --pids-limit and --cpus need root (cgroups)")
    finally:
        shutil.rmtree(home)


@pytest.mark.root
@pytest.mark.docker
def test_on_a_docker_export(tmp_path: Path, python_base: str):
    """A root filesystem exported from a Docker image runs as it would in docker run."""
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    cid = subprocess.run(
        ["docker", "create", python_base], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        export = subprocess.Popen(["docker", "export", cid], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", rootfs], stdin=export.stdout, check=True)
        export.wait()
    finally:
        subprocess.run(["docker", "rm", cid], capture_output=True)
    proc = script(
        "minicontainer.py", "--memory", "128M", "--hostname", "exported", "--read-only",
        rootfs, "python3", "-c", INSPECT + LOOPBACK_WORKS,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["1", "[1]", "exported", "['lo']", "ping"]


# --- bad input: one line naming the fault, exit 125 (126, 127 for the command) -----------

LONG_NAME = "a" * 65
BAD_INPUT = {
    "no rootfs": ([], "give the root filesystem folder"),
    "no command": (["{box}"], "give the command to run inside"),
    "missing rootfs": (["/nonexistent", "true"], "/nonexistent has no /proc folder"),
    "host root": (["/", "true"], "must be a folder other than /, the host's own"),
    "system folder": (["/etc", "true"], "/etc has no /proc folder"),
    "volume syntax": (["-v", "nocolon", "{box}", "true"], "argument -v: 'nocolon' is not HOST_"),
    "volume source": (["-v", "/nonexistent:/data", "{box}", "true"], "volume source /nonexist"),
    "volume target": (["-v", "/tmp:/nodir", "{box}", "true"], "volume target /nodir does not"),
    # An empty host path was the working directory, mounted without a word.
    "volume no source": (["-v", ":/data", "{box}", "true"], "':/data' is not HOST_PATH:/"),
    "volume target /": (["-v", "/tmp:/", "{box}", "true"], "container path may not be / itself"),
    # Mounted on the host's /tmp (in the container's mount namespace), not in the box.
    "volume target ..": (["-v", "/tmp:/../../tmp", "{box}", "true"], "/../../tmp leads out of"),
    "memory 0": (["--memory", "0", "{box}", "true"], "argument --memory: '0' is not a size"),
    "memory nan": (["--memory", "nan", "{box}", "true"], "argument --memory: 'nan' is not a"),
    "memory too small": (
        ["--memory", "4K", "{box}", "true"],
        "'4K' is less than 6M, docker run's minimum",
    ),
    "memory huge": (["--memory", "99999999G", "{box}", "true"], "more than any machine has"),
    "pids 0": (["--pids-limit", "0", "{box}", "true"], "--pids-limit: '0' is not a whole"),
    "pids -1": (["--pids-limit", "-1", "{box}", "true"], "--pids-limit: '-1' is not a whole"),
    "pids huge": (["--pids-limit", "99999999", "{box}", "true"], "from 1 to 4194304"),
    "cpus nan": (["--cpus", "nan", "{box}", "true"], "argument --cpus: 'nan' is not a number"),
    "cpus inf": (["--cpus", "inf", "{box}", "true"], "argument --cpus: 'inf' is not a number"),
    "cpus 0": (["--cpus", "0", "{box}", "true"], "argument --cpus: '0' is not a number"),
    "cpus -1": (["--cpus=-1", "{box}", "true"], "argument --cpus: '-1' is not a number"),
    "cpus huge": (["--cpus", "1e9", "{box}", "true"], "'1e9' is not a number of CPUs"),
    "cpus missing": (["--cpus"], "argument --cpus: expected one argument"),
    "hostname long": (["--hostname", LONG_NAME, "{box}", "true"], "not a host name of 1 to 64"),
    "hostname empty": (["--hostname=", "{box}", "true"], "'' is not a host name"),
    "hostname not UTF-8": (["--hostname", "a\udcff", "{box}", "true"], "is not UTF-8 text"),
    "unknown flag": (["--memroy", "64M", "{box}", "true"], "unrecognized arguments: --memroy"),
}


@pytest.mark.parametrize("case", BAD_INPUT, ids=list(BAD_INPUT))
def test_bad_input(case: str, sandbox: Path):
    args, message = BAD_INPUT[case]
    proc = script("minicontainer.py", *(a.format(box=sandbox) for a in args))
    one_line(proc, 125, message)


def test_volume_target_through_a_link_out_of_the_box(sandbox: Path):
    """A link in the root filesystem to a host folder: mount(2) would follow it there."""
    link = sandbox / "hostlink"
    link.symlink_to("/etc")
    try:
        proc = script("minicontainer.py", "-v", "/tmp:/hostlink", sandbox, "true")
    finally:
        link.unlink()
    one_line(proc, 125, f"volume target /hostlink leads out of {sandbox} (.. or a link)")


@pytest.mark.root
def test_a_root_filesystem_the_user_may_not_read(tmp_path: Path):
    """It said '... has no /proc folder; is it a root filesystem?' of a folder that has one."""
    box = tmp_path / "private" / "box"
    (box / "proc").mkdir(parents=True)
    (box / "dev").mkdir()
    (tmp_path / "private").chmod(0o700)
    proc = script("minicontainer.py", box, "true", user=NOBODY)
    one_line(proc, 125, f"may not look into {box} (permission denied); run with sudo")


@pytest.mark.root
def test_a_root_filesystem_whose_name_is_not_utf8(tmp_path: Path):
    """Its bind mount failed with 'UnicodeEncodeError' (mount() encoded names as UTF-8)."""
    box = build_sandbox(tmp_path / "box", "true").rename(tmp_path / "box\udcff")
    proc = script("minicontainer.py", box, "true")
    assert (proc.returncode, proc.stderr) == (0, "")


BAD_COMMANDS = {
    "builtin cd": (["cd", "/"], 127, "cannot run cd: it is a shell builtin, not a program"),
    "builtin export": (["export"], 127, "cannot run export: it is a shell builtin"),
    "not found": (["no-such-command"], 127, "cannot run no-such-command: command not found"),
    "not runnable": (["/etc/passwd"], 126, "cannot run /etc/passwd: Permission denied"),
    "empty name": ([""], 127, "cannot run '': command not found"),
}


@pytest.mark.root
@pytest.mark.parametrize("case", BAD_COMMANDS, ids=list(BAD_COMMANDS))
def test_bad_command(case: str, sandbox: Path):
    command, status, message = BAD_COMMANDS[case]
    one_line(script("minicontainer.py", sandbox, *command), status, message)


# --- Ctrl-C and SIGTERM ----------------------------------------------------------------

SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
EARLY = [0, 0.001, 0.003, 0.01, 0.03]


def stopped_line(signame: str) -> str:
    name = "SIGINT (Ctrl-C)" if signame == "SIGINT" else "SIGTERM"
    return f"minicontainer.py: stopped by {name}; the container is stopped and its cgroup removed\n"


@pytest.mark.root
@pytest.mark.parametrize("delay", EARLY)
@pytest.mark.parametrize("signame", SIGNALS)
def test_early_signal_removes_everything(signame: str, delay: float, sandbox: Path):
    sleep = marker()
    stop = stop_at(
        [PY, MINI, "--memory", "64M", "--pids-limit", "16", sandbox, "sleep", sleep],
        SIGNALS[signame],
        delay,
    )
    assert (stop.returncode, stop.stderr) == (128 + SIGNALS[signame], stopped_line(signame))
    assert stop.cgroups_left == [] and still_running(sleep) == []


@pytest.mark.root
@pytest.mark.parametrize("signame", SIGNALS)
@pytest.mark.parametrize(
    "command",
    [["sleep", "{sleep}"], ["/bin/bash", "-c", "trap '' INT TERM; sleep {sleep}; echo survived"]],
    ids=["PID 1 without a handler", "PID 1 that ignores it"],
)
def test_signal_while_the_container_runs(signame: str, command: list[str], sandbox: Path):
    """PID 1 of a PID namespace does not die of a signal it has no handler for: the
    script does what the default action would, and kills it at once."""
    sleep = marker()
    stop = stop_at(
        [PY, MINI, "--memory", "64M", sandbox, *(c.format(sleep=sleep) for c in command)],
        SIGNALS[signame],
        running=lambda: processes_with(f"sleep {sleep}"),
    )
    assert (stop.returncode, stop.stderr) == (128 + SIGNALS[signame], stopped_line(signame))
    assert stop.stdout == "" and stop.seconds < 1
    assert stop.cgroups_left == [] and still_running(sleep) == []


@pytest.mark.root
def test_pid_1_with_a_handler_gets_the_signal(sandbox: Path):
    sleep = marker()
    stop = stop_at(
        [
            PY,
            MINI,
            sandbox,
            "/bin/bash",
            "-c",
            f"trap 'echo bye; exit 3' TERM; sleep {sleep} & wait",
        ],
        signal.SIGTERM,
        running=lambda: processes_with(f"sleep {sleep}"),
    )
    assert (stop.returncode, stop.stdout) == (143, "bye\n"), stop.stderr
    assert still_running(sleep) == []  # killed with its PID namespace


@pytest.mark.root
def test_ctrl_c_on_a_terminal(sandbox: Path):
    sleep = marker()
    stop = ctrl_c_on_a_terminal(
        [PY, MINI, "--memory", "64M", sandbox, "sleep", sleep],
        running=lambda: processes_with(f"sleep {sleep}"),
    )
    assert stop.returncode == 130
    assert stop.stderr.endswith(stopped_line("SIGINT")), stop.stderr
    assert stop.cgroups_left == [] and still_running(sleep) == [] and stop.seconds < 1


@pytest.mark.root
def test_sigkill_leaves_no_process_and_no_cgroup(sandbox: Path):
    """SIGKILL cannot be caught: the container's PID 1 dies with the script (its parent-death
    signal), and the cgroup, which only the script could remove, goes at the next run."""
    sleep = marker()
    proc = subprocess.Popen([PY, MINI, "--memory", "64M", "--pids-limit", "16", sandbox,
                             "sleep", sleep], stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_until(lambda: processes_with(f"sleep {sleep}"))
        made = our_cgroups(proc.pid)
        assert made
        proc.kill()
        proc.wait()
        wait_until(lambda: not processes_with(f"sleep {sleep}"), seconds=3)
        assert all(Path(c).is_dir() for c in made)  # left behind, and empty
        time.sleep(cgroups.STALE_AFTER)  # a younger empty one may be another run's, starting
        again = script("minicontainer.py", "--memory", "64M", sandbox, "sleep", "0")
        assert again.returncode == 0, again.stderr
        assert [c for c in made if Path(c).exists()] == []
    finally:
        still_running(sleep)
        clean_up_after(proc.pid)


# --- what the pages say about its size -------------------------------------------------

PAGES = ROOT / "docs" / "under-the-hood"


def lesson_lines() -> int:
    """The lines the page shows: its snippet sections (run, container, root)."""
    shown, inside = 0, False
    for line in MINI.read_text().splitlines():
        if "# --8<-- [start:" in line:
            inside, block = True, []
        elif "# --8<-- [end:" in line:
            inside = False
            shown += len("\n".join(block).strip("\n").splitlines())
        elif inside:
            block.append(line)
    return shown


# What a phrase on the pages counts.
SIZES = {
    "runtime whose core is about {} lines": lesson_lines,
    "about {} lines of standard-library Python": lesson_lines,
    "the file (about {} lines in all)": lambda: len(MINI.read_text().splitlines()),
}


def test_what_the_pages_say_about_its_size():
    """The pages said 'about 450 lines' of a 726-line file: every 'about N lines' on them
    is one of SIZES, and within a tenth of what it counts."""
    claims = []
    for page in sorted(PAGES.glob("*.md")):
        text = " ".join(page.read_text().split())
        for m in re.finditer(r"about (\d+) lines", text):
            context = text[max(0, m.start() - 60) : m.end() + 40]
            kinds = [k for k in SIZES if k.replace("{}", m[1]) in context]
            assert kinds, f"{page.name}: '{context}' is not a claim this test measures"
            measured = SIZES[kinds[0]]()
            claims.append((page.name, int(m[1]), measured))
            assert abs(int(m[1]) - measured) <= max(5, measured / 10), claims[-1]
    assert len(claims) >= 3, claims
    assert lesson_lines() < 250  # the idea fits on a screen or two, as bocker's does
