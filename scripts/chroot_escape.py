#!/usr/bin/env python3
"""Show that chroot is not a wall, and that pivot_root is.

    sudo python3 chroot_escape.py            # both demos in a temporary folder
    sudo python3 chroot_escape.py chroot     # only the escape from chroot
    sudo python3 chroot_escape.py pivot      # the same attempt after pivot_root

A process that is root inside a chroot can leave it: chroot(2) changes the
root directory but not the working directory, so a second chroot into a
subfolder leaves the working directory *outside* the new root, and `..` from
there climbs to the real /. Containers do not use chroot. They call
pivot_root(2) in a new mount namespace and then detach the old root, so the
host's / is no longer reachable from inside by any path at all.

Each demo runs in a child process; the folder is removed afterwards, also
after Ctrl-C or SIGTERM (exit status 130, 143, or 129 for SIGHUP), and no mount reaches the
host. Exit status 125 when the script fails or is misused, as docker run's.
Standard library only, Python 3.11+, Linux, root (or, without root, a user
namespace). Needs plumbing.py.
"""

import _signal  # the C module under `signal`, which imports enum first (~3 ms)
import sys

if __name__ == "__main__":  # stop signals wait until we are ready (plumbing.Stop)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP})
    # Run with sudo, Python would leave root's __pycache__ in the reader's clone.
    sys.dont_write_bytecode = True

import os
import shutil
import tempfile

import plumbing
from plumbing import (
    CLONE_NEWNS,
    MS_BIND,
    MS_PRIVATE,
    MS_REC,
    Stop,
    UsageError,
    describe,
    fork,
    mount,
    pivot_root,
    umount_detached,
    unshare,
    user_namespace,
)

PROG = "chroot_escape.py"
MARKER = "INSIDE-THE-BOX"  # a file only the box has
HOST_FILE = "etc/os-release"  # a file the host has and the box does not


# --8<-- [start:escape]
def escape() -> str:
    """The classic escape: needs only root in the chroot and a folder to chroot into."""
    os.makedirs("/escape", exist_ok=True)
    os.chroot("/escape")  # the root moves down; the working directory stays above it
    for _ in range(64):  # climb: `..` of the real / is / itself, so extra steps are harmless
        os.chdir("..")
    os.chroot(".")  # make wherever we ended up the root
    return where_am_i()


# --8<-- [end:escape]


def demo(box: str, use_pivot: bool) -> str:
    """In a child process: enter the box (chroot or pivot_root), then try to escape."""
    read, write = os.pipe()
    pid = fork()
    if pid == 0:
        os.close(read)
        try:
            # A private mount namespace, so that nothing below reaches the host.
            unshare(CLONE_NEWNS)
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            # --8<-- [start:pivot]
            if use_pivot:
                # pivot_root needs the new root to be a mount point: bind it onto itself.
                mount(box, box, None, MS_BIND | MS_REC)
                os.chdir(box)
                pivot_root(".", ".")  # the old root is now stacked on top of the new one...
                umount_detached(".")  # ...and detached
                os.chdir("/")
            # --8<-- [end:pivot]
            else:
                os.chroot(box)
                os.chdir("/")
            before = where_am_i()
            after = escape()
            os.write(write, f"{before}|{after}".encode())
            os._exit(0)
        except OSError as exc:
            os.write(write, f"error|{describe(exc)}".encode())
            os._exit(1)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = pipe.read()
    Stop.wait_for(pid)
    before, after = answer.split("|") if "|" in answer else ("error", "the demo died")
    if before == "error":
        raise UsageError(after)
    return f"entered: {before}; after the escape attempt: {after}"


# ===================================================================================
# Plumbing of this script: where we are, the box, the command line.
# The rest is in plumbing.py, shared by every script of this folder.
# ===================================================================================


def where_am_i() -> str:
    if os.path.exists("/" + MARKER):
        return "inside the box"
    if os.path.exists("/" + HOST_FILE):
        return "on the host's /"
    return "somewhere else"


def make_box() -> str:
    box = tempfile.mkdtemp(prefix="chroot-escape-")
    with open(f"{box}/{MARKER}", "w") as f:
        f.write("You are inside the box.\n")
    os.chmod(box, 0o755)
    return box


def main(argv: list[str] | None = None) -> int:
    plumbing.PROG = PROG
    parser = plumbing.parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("demo", nargs="?", choices=["both", "chroot", "pivot"], default="both")
    args = parser.parse_args(argv)
    Stop.take_over()
    made = []

    def demos() -> int:
        if os.geteuid() != 0:  # rootless: be root in a new user namespace, where allowed
            user_namespace()
        made.append(make_box())
        try:
            for name, use_pivot in (("chroot", False), ("pivot_root", True)):
                if args.demo in ("both", name.split("_")[0]):
                    result = demo(made[0], use_pivot)
                    Stop.check()
                    print(f"{name + ':':12} {result}")
        finally:
            shutil.rmtree(made[0], ignore_errors=True)
        return 0

    return plumbing.guarded(demos, lambda: f"{made[0]} is removed" if made else "")


if __name__ == "__main__":
    plumbing.as_script(main, PROG)
