"""scripts/chroot_escape.py: the escape from chroot works, from pivot_root it does not."""

from __future__ import annotations

import signal

import pytest
from helpers import (
    NOBODY,
    PY,
    SCRIPTS,
    chroot_escape_boxes,
    one_line,
    reader,
    script,
    signalled_inside,
    stop_at,
)

RESULT = [
    "chroot:      entered: inside the box; after the escape attempt: on the host's /",
    "pivot_root:  entered: inside the box; after the escape attempt: inside the box",
]


@pytest.mark.root
@pytest.mark.parametrize("who", ["root", "nobody", "reader"])
def test_escape_works_from_chroot_and_fails_after_pivot_root(who: str):
    """Rootless, as nobody and as a real user: issue 21 (the uid read after unshare, when
    it is 65534 already) failed for everyone but nobody."""
    user = {"root": None, "nobody": NOBODY}.get(who) or reader()
    before = chroot_escape_boxes()
    proc = script("chroot_escape.py", user=user)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == RESULT
    assert chroot_escape_boxes() == before


@pytest.mark.root
@pytest.mark.parametrize(("demo", "lines"), [("chroot", RESULT[:1]), ("pivot", RESULT[1:])])
def test_one_demo(demo: str, lines: list[str]):
    proc = script("chroot_escape.py", demo)
    assert (proc.returncode, proc.stdout.splitlines()) == (0, lines), proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["escape"], "argument demo: invalid choice: 'escape'"),
        (["chroot", "pivot"], "unrecognized arguments: pivot"),
    ],
)
def test_bad_input(args: list[str], message: str):
    one_line(script("chroot_escape.py", *args), 125, message)


SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}


@pytest.mark.root
@pytest.mark.parametrize("delay", [0, 0.001, 0.003, 0.006, 0.01, 0.02])
@pytest.mark.parametrize("signame", SIGNALS)
def test_signal_removes_the_box(signame: str, delay: float):
    """The demos take a few milliseconds: the signal lands before, between or during them,
    or, on an idle machine, after the script is done (about 4 ms), which is then no stop."""
    before = chroot_escape_boxes()
    stop = stop_at([PY, SCRIPTS / "chroot_escape.py"], SIGNALS[signame], delay)
    name = "SIGINT (Ctrl-C)" if signame == "SIGINT" else "SIGTERM"
    if stop.returncode == 0 and delay > 0:  # too late: it finished, whole, before the signal
        assert (stop.stdout.splitlines(), stop.stderr) == (RESULT, "")
        assert chroot_escape_boxes() == before
        return
    assert stop.returncode == 128 + SIGNALS[signame], stop.stderr
    assert stop.stderr.startswith(f"chroot_escape.py: stopped by {name}; /tmp/chroot-escape-")
    assert stop.stderr.endswith(" is removed\n") and stop.stderr.count("\n") == 1
    assert chroot_escape_boxes() == before


@pytest.mark.root
@pytest.mark.parametrize("signame", SIGNALS)
def test_a_signal_while_the_box_is_removed_is_not_lost(signame: str):
    """After the last demo the box was removed in a `finally`, after the last check for a
    signal: one that came meanwhile was lost, and the script said nothing and exited 0."""
    before = chroot_escape_boxes()
    proc = signalled_inside("chroot_escape.py", ["chroot"], "shutil.rmtree", SIGNALS[signame])
    name = "SIGINT (Ctrl-C)" if signame == "SIGINT" else "SIGTERM"
    assert proc.returncode == 128 + SIGNALS[signame], proc.stderr
    assert proc.stdout.splitlines() == RESULT[:1]
    assert proc.stderr.startswith(f"chroot_escape.py: stopped by {name}; /tmp/chroot-escape-")
    assert proc.stderr.endswith(" is removed\n") and proc.stderr.count("\n") == 1
    assert chroot_escape_boxes() == before
