"""scripts/create_sandbox.py: resolution, bad input, and real chroots (root and rootless)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import create_sandbox as cs
import pytest
from conftest import ROOT, readable_copy
from helpers import (
    ctrl_c_on_a_terminal,
    gid_of,
    marker,
    one_line,
    processes_with,
    reader,
    still_running,
    stop_at,
)

SCRIPT = ROOT / "scripts" / "create_sandbox.py"
# The nobody user runs the rootless tests, with a python3 it can read.
NOBODY = 65534
SYSTEM_PYTHON = "/usr/bin/python3"


def run(
    *args: object, cwd: Path | None = None, user: int | None = None, python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    cmd = [python, str(SCRIPT if user is None else readable_copy(SCRIPT)), *map(str, args)]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={gid_of(user)}", "--clear-groups", *cmd]
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path below folder with its mode and mtime: 'nothing changed' made checkable."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [*dirnames, *filenames]:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), folder)] = (st.st_mode, st.st_mtime_ns)
    return out


def resolve_inside(root: Path, path: str) -> str:
    """Follow symlinks as a process chrooted into root would."""
    parts, done = [p for p in path.split("/") if p], ""
    for _ in range(40):
        if not parts:
            return done or "/"
        step = f"{done}/{parts.pop(0)}"
        if os.path.islink(root / step.lstrip("/")):
            target = os.readlink(root / step.lstrip("/"))
            parts = [p for p in target.split("/") if p] + parts
            done = "" if target.startswith("/") else done
        else:
            done = step
    raise RuntimeError("symlink loop")


def mount_table() -> list[str]:
    """Mounts below the temporary folder, where the sandboxes are: a leaked /proc or /dev
    would show here, and not the mounts other tests' containers make meanwhile."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    points = [line.split()[4] for line in lines]
    return [p for p in points if p.startswith(tempfile.gettempdir() + "/")]


@pytest.fixture
def nobody_dir():
    if not os.path.exists(SYSTEM_PYTHON):
        pytest.skip(f"needs {SYSTEM_PYTHON} for the nobody user")
    folder = Path(tempfile.mkdtemp(prefix="sandbox-nobody-"))
    if os.geteuid() == 0:  # the tests run as nobody; a normal user runs them as itself
        os.chown(folder, NOBODY, NOBODY)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    box = tmp_path_factory.mktemp("sb") / "box"
    proc = run(box, "--json")
    assert proc.returncode == 0, proc.stderr
    return box


@pytest.fixture(scope="module")
def sleepy_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    box = tmp_path_factory.mktemp("sleepy") / "box"
    proc = run(box, "-c", "bash", "sleep")
    assert proc.returncode == 0, proc.stderr
    return box


# --- reading ELF files and the loader's cache ----------------------------------


def test_read_elf_of_a_dynamic_program():
    elf = cs.read_elf(Path(shutil.which("ls")))
    assert elf is not None and elf.interpreter and "ld-linux" in elf.interpreter
    assert "libc.so.6" in elf.needed


def test_read_elf_of_a_static_program():
    ldconfig = Path("/sbin/ldconfig")  # static-pie on Debian and Ubuntu
    if not ldconfig.exists():
        pytest.skip("no /sbin/ldconfig here")
    elf = cs.read_elf(ldconfig)
    assert elf is not None and elf.interpreter is None and elf.needed == []
    assert cs.Resolver().closure(ldconfig) == [ldconfig]


def test_read_elf_of_a_non_elf_file(tmp_path: Path):
    (tmp_path / "t.txt").write_text("hello")
    assert cs.read_elf(tmp_path / "t.txt") is None


def test_ld_cache_knows_libc():
    cache = cs.read_ld_cache()
    assert any(Path(p).name == "libc.so.6" for p in cache["libc.so.6"])


def test_closure_agrees_with_the_loader():
    """Compare with ld.so's own answer (the loader's trace mode) for a few programs."""
    resolver = cs.Resolver()
    for name in ("bash", "ps", "top", "ls"):
        program = Path(shutil.which(name))
        ours = {p.name for p in resolver.closure(program)} - {program.name}
        interp = cs.read_elf(program).interpreter
        trace = subprocess.run(
            [interp, "--list", str(program)], capture_output=True, text=True, check=True
        ).stdout
        loader = {
            Path(line.split("=>")[-1].split("(")[0].strip()).name
            for line in trace.splitlines()
            if "vdso" not in line
        }
        assert ours == loader, name


def test_closure_follows_a_shebang(tmp_path: Path):
    script = tmp_path / "hello"
    script.write_text("#!/usr/bin/env bash\necho hi\n")
    script.chmod(0o755)
    names = [p.name for p in cs.Resolver().closure(script)]
    assert names[:3] == ["hello", "env", "bash"] or {"env", "bash"} <= set(names)
    assert "libc.so.6" in names


def test_rpath_and_origin(tmp_path: Path):
    """A library found through $ORIGIN in DT_RUNPATH, as ld.so would find it."""
    if not shutil.which("cc"):
        pytest.skip("needs a C compiler")
    (tmp_path / "lib").mkdir()
    (tmp_path / "f.c").write_text("int f(void){return 42;}\n")
    (tmp_path / "m.c").write_text("int f(void); int main(void){return f()!=42;}\n")
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-o", tmp_path / "lib/libf.so", tmp_path / "f.c"], check=True
    )
    subprocess.run(
        [
            "cc",
            "-o",
            tmp_path / "m",
            tmp_path / "m.c",
            f"-L{tmp_path}/lib",
            "-lf",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/lib",
        ],
        check=True,
    )
    closure = cs.Resolver().closure(tmp_path / "m")
    assert tmp_path / "lib" / "libf.so" in closure


def test_builtins_are_notes_not_errors():
    programs, notes = cs.resolve_commands(["bash", "cd", "pwd"])
    assert set(programs) == {"bash", "pwd"}  # pwd is a builtin *and* a program
    assert notes == ["'cd' is a shell builtin: the sandbox's shell provides it"]


# --- bad input: one line, non-zero, nothing changed ----------------------------

BAD = {
    "missing argument": ([], "the following arguments are required: target"),
    "empty argument": ([""], "the target folder name is empty"),
    "root folder": (["/"], "/ is a system folder"),
    "system folder": (["/usr"], "/usr is a system folder"),
    "inside /proc": (["/proc/box"], "/proc/box is inside /proc, a system folder"),
    "deep in /etc": (["/etc/ssl/box"], "/etc/ssl/box is inside /etc, a system folder"),
    "deep in /usr": (["/usr/local/box"], "/usr/local/box is inside /usr, a system folder"),
    "deep in /var": (["/var/lib/box"], "/var/lib/box is inside /var, a system folder"),
    "link into /etc": (["etc-link/box"], "etc-link/box is inside /etc, a system folder"),
    "home of root": (["/root"], "/root is a system folder"),
    "existing folder": (["existing"], "existing already exists (a folder) and is left as it is"),
    "existing file": (["file.txt"], "file.txt already exists (a file)"),
    "existing link": (["dangling"], "dangling already exists (a link)"),
    "missing parent": (["no/such/parent/box"], "does not exist; create it first"),
    "unknown command": (
        ["box", "-c", "ls", "no-such-command"],
        "unknown command 'no-such-command'",
    ),
    "relative command path": (["box", "-c", "bin/ls"], "'bin/ls' is not a command name"),
    "command without --enter": (["box", "ls"], "a command goes with --enter or --run"),
    "enter a non-sandbox": (["--enter", "existing"], "existing is not a sandbox"),
    "enter the host's root": (["--enter", "/"], "/ is the host's own root, not a sandbox"),
    "enter / through a link": (["--enter", "root-link"], "root-link is the host's own root"),
    "run only a builtin": (
        ["box", "--run", "-c", "cd"],
        "--run has nothing to run: 'cd' is a "
        "shell builtin, not a program; build a shell too and run it there: "
        "-c sh --run -- sh -c 'cd ...'",
    ),
    "run only builtins": (["box", "--run", "-c", "cd", "export"], "'cd' and 'export' are shell"),
    "unknown flag": (["box", "--comands", "ls"], "unrecognized arguments: --comands"),
}


def test_a_new_folder_right_in_the_root_is_refused():
    """`create_sandbox.py box` typed in / made /box, next to /usr and /etc."""
    assert not Path("/box").exists()
    proc = run("box", "-c", "true", cwd=Path("/"))
    assert (proc.returncode, proc.stdout) == (125, ""), proc.stderr
    assert (
        proc.stderr
        == "create_sandbox.py: box is inside /, a system folder; build the sandbox somewhere else\n"
    )
    assert not Path("/box").exists()


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input(case: str, tmp_path: Path):
    args, message = BAD[case]
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "keep.txt").write_text("mine")
    (tmp_path / "file.txt").write_text("mine")
    (tmp_path / "dangling").symlink_to("nowhere")
    (tmp_path / "etc-link").symlink_to("/etc")
    (tmp_path / "root-link").symlink_to("/")
    before = snapshot(tmp_path)
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 125
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in lines[0]
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("mode", "inner", "message"),
    [
        (0o555, "box", "cannot write in {locked}; choose a folder you own"),
        (
            0o000,
            "sub/box",
            "cannot reach {locked}/sub (permission denied); choose a folder you own",
        ),
    ],
)
def test_unreachable_or_unwritable_parent(mode: int, inner: str, message: str, nobody_dir: Path):
    locked = nobody_dir / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root may write anywhere: test as the nobody user
        os.chown(locked, NOBODY, NOBODY)
    locked.chmod(mode)
    user = NOBODY if os.geteuid() == 0 else None
    proc = run(locked / inner, user=user, python=SYSTEM_PYTHON)
    assert proc.returncode == 125
    assert proc.stderr == f"create_sandbox.py: {message.format(locked=locked)}\n"
    locked.chmod(0o755)
    assert list(locked.iterdir()) == []


@pytest.fixture
def signals_restored():
    """main() holds SIGINT and SIGTERM back, as a script does: not in the test process."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    yield
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


@pytest.mark.usefixtures("signals_restored")
def test_failure_half_way_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Ctrl-C (or any error) during the copy: the temporary folder is removed."""
    calls = 0
    real_copy = cs.Builder.copy

    def interrupted(self, path):
        nonlocal calls
        calls += 1
        if calls == 20:
            raise KeyboardInterrupt
        real_copy(self, path)

    monkeypatch.setattr(cs.Builder, "copy", interrupted)
    assert cs.main([str(tmp_path / "box")]) == 130
    assert calls >= 20 and list(tmp_path.iterdir()) == []


SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}


@pytest.mark.parametrize("delay", [0, 0.002, 0.01, 0.05, 0.1, 0.2, 0.3])
@pytest.mark.parametrize("signame", SIGNALS)
def test_signal_leaves_all_or_nothing(signame: str, delay: float, tmp_path: Path):
    """SIGINT or SIGTERM while it builds: afterwards the target is complete or absent,
    and no .box.partial-* folder is left (SIGTERM used to leave one)."""
    stop = stop_at([sys.executable, SCRIPT, "box"], SIGNALS[signame], delay, cwd=tmp_path)
    name = "SIGINT (Ctrl-C)" if signame == "SIGINT" else "SIGTERM"
    left = sorted(p.name for p in tmp_path.iterdir())
    if left == ["box"]:  # finished before the signal: then it must be whole
        assert all(
            os.path.lexists(tmp_path / "box" / "usr" / "bin" / c) for c in cs.DEFAULT_COMMANDS
        ), (delay, stop.stderr)
        assert stop.returncode in (0, 128 + SIGNALS[signame])
        if stop.returncode:
            assert (
                stop.stderr == f"create_sandbox.py: stopped by {name}; box was already complete\n"
            )
    else:
        assert left == [], (delay, left, stop.stderr)
        assert stop.returncode == 128 + SIGNALS[signame], stop.stderr
        assert stop.stderr == f"create_sandbox.py: stopped by {name}; nothing was created\n"


# --- what it builds ------------------------------------------------------------


def test_layout(sandbox: Path):
    assert oct((sandbox / "tmp").stat().st_mode & 0o7777) == "0o1777"
    for name in ("proc", "dev"):
        assert (sandbox / name).is_dir() and list((sandbox / name).iterdir()) == []
    assert (sandbox / "etc" / "passwd").read_text() == "root:x:0:0:root:/root:/bin/sh\n"
    assert not (sandbox / "etc" / "shadow").exists()
    if os.path.islink("/bin"):  # usr-merged host: same shape inside
        assert os.readlink(sandbox / "bin") == os.readlink("/bin")
    interp = cs.read_elf(Path(shutil.which("ls"))).interpreter
    assert (sandbox / resolve_inside(sandbox, interp).lstrip("/")).is_file()
    assert (
        any((sandbox / "usr/share/terminfo").rglob("xterm*"))
        or any(sandbox.glob("*/terminfo/x/xterm*"))
        or any(sandbox.glob("usr/lib/terminfo/x/*"))
    )


def test_json_manifest(tmp_path: Path):
    proc = run(tmp_path / "box", "--json", "-c", "ls")
    manifest = json.loads(proc.stdout)
    assert manifest["commands"] == {"ls": shutil.which("ls", path=cs.CLEAN_PATH)}
    assert manifest["bytes"] == sum(os.lstat(f).st_size for f in manifest["files"])
    assert any(Path(f).name == "libc.so.6" or "libc.so" in f for f in manifest["files"])


def test_summary_and_verbose(tmp_path: Path):
    proc = run(tmp_path / "box", "-v", "-c", "ls")
    lines = proc.stdout.splitlines()
    assert any(line.strip().endswith("/ls") for line in lines)
    assert any(line.startswith(f"Built {tmp_path / 'box'}: 1 command") for line in lines)


# --- inside: as root -----------------------------------------------------------


@pytest.mark.root
def test_each_default_command_runs_in_chroot(sandbox: Path):
    before = mount_table()
    checks = {
        "bash": (["/bin/bash", "-c", "echo ok"], "ok"),
        "ls": (["ls", "/"], "usr"),
        "mkdir": (["mkdir", "-v", "/tmp/made"], "created directory"),
        "pwd": (["pwd"], "/"),
        "mount": (["mount"], "proc on /proc type proc"),
        "id": (["id", "-un"], "root"),
        "ps": (["ps", "-e", "-o", "pid=,comm="], "1 ps"),
        "top": (["top", "-b", "-n", "1"], "PID USER"),
    }
    assert set(checks) == set(cs.DEFAULT_COMMANDS)
    for name, (argv, expected) in checks.items():
        proc = run("--enter", sandbox, "--", *argv)
        assert proc.returncode == 0, (name, proc.stderr)
        assert expected in proc.stdout, (name, proc.stdout)
    assert mount_table() == before
    assert list((sandbox / "proc").iterdir()) == []  # proc was mounted in a private namespace


@pytest.mark.root
def test_plain_chroot_command_from_the_page(sandbox: Path):
    """The page's manual way in: chroot, with the host's /proc missing inside."""
    proc = subprocess.run(
        ["chroot", sandbox, "/bin/bash", "-c", "ls /; ps 2>&1 | head -1"],
        capture_output=True,
        text=True,
    )
    assert "usr" in proc.stdout


@pytest.mark.root
def test_run_builds_then_enters(tmp_path: Path):
    proc = run(tmp_path / "box", "--run", "-c", "bash", "id", "--", "/bin/bash", "-c", "id -u")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "0"


@pytest.mark.root
def test_exit_status_passes_through(sandbox: Path):
    assert run("--enter", sandbox, "--", "/bin/bash", "-c", "exit 7").returncode == 7
    one_line(run("--enter", sandbox, "--", "/no/such"), 127, "cannot run /no/such: command not")
    one_line(run("--enter", sandbox, "--", "nosuch"), 127, "cannot run nosuch: command not found")
    one_line(run("--enter", sandbox, "--", "cd", "/"), 127, "cannot run cd: it is a shell builtin")
    one_line(run("--enter", sandbox, "--", "/etc/passwd"), 126, "/etc/passwd: Permission denied")


@pytest.mark.root
@pytest.mark.parametrize("signame", SIGNALS)
@pytest.mark.parametrize(
    "command",
    [["sleep", "{sleep}"], ["/bin/bash", "-c", "trap '' INT TERM; sleep {sleep}; echo survived"]],
    ids=["PID 1 without a handler", "PID 1 that ignores it"],
)
def test_signal_to_enter_stops_the_command(signame: str, command: list[str], sleepy_sandbox: Path):
    """Before: the command, PID 1 of its namespace, ignored Ctrl-C, and SIGTERM orphaned it."""
    sleep = marker()
    before = mount_table()
    stop = stop_at(
        [
            sys.executable,
            SCRIPT,
            "--enter",
            sleepy_sandbox,
            "--",
            *(c.format(sleep=sleep) for c in command),
        ],
        SIGNALS[signame],
        running=lambda: processes_with(f"sleep {sleep}"),
    )
    name = "SIGINT (Ctrl-C)" if signame == "SIGINT" else "SIGTERM"
    assert stop.returncode == 128 + SIGNALS[signame], stop.stderr
    assert stop.stderr == f"create_sandbox.py: stopped by {name}; the command ended\n"
    assert stop.stdout == "" and stop.seconds < 1 and still_running(sleep) == []
    assert mount_table() == before


@pytest.mark.root
def test_ctrl_c_on_a_terminal_in_the_sandbox(sleepy_sandbox: Path):
    sleep = marker()
    stop = ctrl_c_on_a_terminal(
        [sys.executable, SCRIPT, "--enter", sleepy_sandbox, "--", "sleep", sleep],
        running=lambda: processes_with(f"sleep {sleep}"),
    )
    assert stop.returncode == 130, stop.stderr
    assert stop.stderr.endswith(
        "create_sandbox.py: stopped by SIGINT (Ctrl-C); the command ended\n"
    )
    assert still_running(sleep) == [] and stop.seconds < 1


# --- inside: as a normal user, through a user namespace --------------------------


@pytest.mark.root  # root is needed to become the test user
def test_rootless_build_and_enter(nobody_dir: Path):
    box = nobody_dir / "box"
    assert run(box, user=NOBODY, python=SYSTEM_PYTHON).returncode == 0
    before = mount_table()
    proc = run(
        "--enter",
        box,
        "--",
        "/bin/bash",
        "-c",
        "id -u; ps -o pid=,comm=; id -un",
        user=NOBODY,
        python=SYSTEM_PYTHON,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line.split() for line in proc.stdout.splitlines()]
    assert lines[0] == ["0"] and ["1", "bash"] in lines and lines[-1] == ["root"]
    assert mount_table() == before


ROOTLESS_FORBIDDEN = r"""
import ctypes, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
ready_r, ready_w = os.pipe()
mapped_r, mapped_w = os.pipe()
pid = os.fork()
if pid == 0:  # a user namespace where nobody may create another one
    assert libc.unshare(0x10000000) == 0
    os.write(ready_w, b"x")
    os.read(mapped_r, 1)
    open("/proc/sys/user/max_user_namespaces", "w").write("0")
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
    proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    sys.stdout.write(f"{proc.returncode}\n{proc.stderr}"); sys.stdout.flush()
    os._exit(0)
os.read(ready_r, 1)
for name, text in [("uid_map", "0 0 1\n65534 65534 1\n"), ("gid_map", "0 0 1\n65534 65534 1\n")]:
    open(f"/proc/{pid}/{name}", "w").write(text)
os.write(mapped_w, b"x")
os.waitpid(pid, 0)
"""


@pytest.mark.root
def test_rootless_where_user_namespaces_are_forbidden(nobody_dir: Path):
    box = nobody_dir / "box"
    assert run(box, user=NOBODY, python=SYSTEM_PYTHON).returncode == 0
    script = readable_copy(SCRIPT)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            ROOTLESS_FORBIDDEN,
            SYSTEM_PYTHON,
            script,
            "--enter",
            box,
            "--",
            "/bin/bash",
            "-c",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    rc, *err = proc.stdout.splitlines()
    assert rc == "125", proc
    assert len(err) == 1 and "user namespaces are not allowed for normal users here" in err[0]


# --- hostile input found by an adversarial run ---------------------------------


def test_a_damaged_elf_file_is_one_line(tmp_path: Path):
    """`printf '\\x7fELF\\x02\\x01' > t` ended in a struct.error traceback."""
    damaged = tmp_path / "t"
    damaged.write_bytes(b"\x7fELF\x02\x01")
    damaged.chmod(0o755)
    proc = run(tmp_path / "box", "-c", damaged)
    one_line(proc, 125, f"{damaged} is not a valid ELF file (cut short or damaged)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path):
    """A FIFO named as a command hung the script until SIGKILL."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fifo.chmod(0o755)
    proc = run(tmp_path / "box", "-c", fifo)  # run() has a timeout: a hang fails the test
    one_line(proc, 125, f"{fifo} is not a regular file (a FIFO or a device?)")


@pytest.mark.parametrize("secret", ["/etc/shadow", "{tmp}/secret.txt"])
def test_a_shebang_does_not_copy_a_host_secret(secret: str, tmp_path: Path):
    """`#!/etc/shadow` copied the host's password hashes into the sandbox."""
    secret = secret.format(tmp=tmp_path)
    if secret.endswith("secret.txt"):
        Path(secret).write_text("a token\n")
    assert os.path.exists(secret)
    script = tmp_path / "innocent"
    script.write_text(f"#!{secret}\n")
    script.chmod(0o755)
    proc = run(tmp_path / "box", "-c", script)
    # A normal user cannot even read /etc/shadow: refused all the same, for that reason.
    why = ": not a program, so not copied" if os.access(secret, os.R_OK) else ""
    one_line(proc, 125, f"names {secret} as its #! interpreter{why}")
    assert not (tmp_path / "box").exists()


def test_a_target_name_of_255_bytes(tmp_path: Path):
    """The longest name a folder may have: its own temporary name (.NAME.partial-...)
    was longer, and the build failed with 'File name too long'."""
    name = "b" * 255
    proc = run(tmp_path / name, "-c", "true")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.root
def test_rootless_enter_as_a_real_user(tmp_path: Path):
    """As a normal user whose uid is not 65534 (issue 21's blind spot)."""
    user = reader()
    home = Path(tempfile.mkdtemp(prefix="sandbox-reader-"))
    try:
        os.chown(home, user, gid_of(user))
        assert run(home / "box", user=user, python=SYSTEM_PYTHON).returncode == 0
        proc = run("--enter", home / "box", "--", "/bin/bash", "-c", "id -u; echo $$",
                   user=user, python=SYSTEM_PYTHON)  # fmt: skip
        assert (proc.returncode, proc.stdout) == (0, "0\n1\n"), proc.stderr
    finally:
        shutil.rmtree(home)
