"""What the scripts say and return for the same failure must agree. Their shared rules
are one code (scripts/plumbing.py, tested in test_plumbing.py); these check what can
still differ: each script's own first lines and command line."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from helpers import (
    SCRIPTS,
    SYSTEM_PYTHON,
    script,
)

ALL = ["cgroups.py", "chroot_escape.py", "create_sandbox.py", "limits_report.py",
       "minicontainer.py", "namespaces.py"]  # fmt: skip


def test_every_script_is_tested_here():
    teaching = {p.name for p in SCRIPTS.glob("*.py")} - {"plumbing.py"}
    assert teaching == set(ALL)


UNKNOWN_FLAG = {name: ["--no-such-flag"] for name in ALL} | {
    "namespaces.py": ["show", "-x"],
    "create_sandbox.py": ["box", "-x"],
}


@pytest.mark.parametrize("name", ALL)
def test_unknown_flag_is_125_as_in_docker_run(name: str):
    proc = script(name, *UNKNOWN_FLAG[name])
    assert proc.returncode == 125, proc.stderr
    assert re.fullmatch(rf"{name}( \w+)?: unrecognized arguments: \S+ \(see --help\)\n",
                        proc.stderr)  # fmt: skip


@pytest.mark.parametrize("name", ALL)
def test_help(name: str):
    proc = script(name, "--help")
    assert proc.returncode == 0 and proc.stdout.startswith(f"usage: {name}"), proc.stderr
    assert "%%" not in proc.stdout  # argparse leaves %% as it is in an epilog without %(prog)


@pytest.mark.skipif(not shutil.which("strace"), reason="needs strace")
@pytest.mark.parametrize("name", ALL)
def test_stop_signals_are_held_back_before_anything_slow_is_imported(name: str):
    """A Ctrl-C while `import signal` loaded enum (~3 ms) ended in a KeyboardInterrupt
    traceback, a SIGTERM then in no word at all: the first line now blocks both with the
    C module _signal, before the first module the script itself imports (enum)."""
    proc = subprocess.run(
        ["strace", "-e", "trace=rt_sigprocmask,openat", SYSTEM_PYTHON, SCRIPTS / name, "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    calls = proc.stderr.splitlines()
    block = next(
        i
        for i, c in enumerate(calls)
        if re.match(r"rt_sigprocmask\(SIG_BLOCK, \[HUP INT TERM\]", c)
    )
    enum = next((i for i, c in enumerate(calls) if "/enum." in c), len(calls))  # or none
    assert block < enum, calls[: enum + 1]


@pytest.mark.parametrize(
    "flag",
    [["--memory", "0"], ["--memory", "1e3"], ["--pids-limit", "0"], ["--cpus", "nan"],
     ["--cpus", "٢"], ["--cpus", "0.2_5"], ["--pids-limit", "٢٢"]],
)  # fmt: skip
def test_cgroups_and_minicontainer_check_limits_alike(flag: list[str]):
    ours = script("cgroups.py", *flag, "--", "true")
    mini = script("minicontainer.py", *flag, "/", "true")
    assert ours.returncode == mini.returncode == 125
    assert ours.stderr.replace("cgroups.py", "X") == mini.stderr.replace("minicontainer.py", "X")
