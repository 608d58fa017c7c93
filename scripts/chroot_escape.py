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

Each demo runs in a child process; the folder is removed afterwards and no
mount reaches the host. Standard library only (ctypes for mount, umount2 and
pivot_root), Python 3.11+, Linux, root (or, without root, a user namespace).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import sys
import tempfile
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 4096, 16384, 1 << 18, 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
MARKER = "INSIDE-THE-BOX"  # a file only the box has
HOST_FILE = "etc/os-release"  # a file the host has and the box does not

libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(source: str | None, target: str, flags: int) -> None:
    check(
        libc.mount(source and source.encode(), target.encode(), None, ctypes.c_ulong(flags), None),
        f"mount {target}",
    )


def pivot_root(new_root: str, put_old: str) -> None:
    # glibc has no wrapper: call the system call by number.
    number = SYS_PIVOT_ROOT[os.uname().machine]
    check(libc.syscall(number, new_root.encode(), put_old.encode()), "pivot_root")


def where_am_i() -> str:
    if os.path.exists("/" + MARKER):
        return "inside the box"
    if os.path.exists("/" + HOST_FILE):
        return "on the host's /"
    return "somewhere else"


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


def demo(box: Path, use_pivot: bool) -> str:
    """In a child process: enter the box (chroot or pivot_root), then try to escape."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            # A private mount namespace, so that nothing below reaches the host.
            check(libc.unshare(CLONE_NEWNS), "unshare")
            mount(None, "/", MS_REC | MS_PRIVATE)
            # --8<-- [start:pivot]
            if use_pivot:
                # pivot_root needs the new root to be a mount point: bind it onto itself.
                mount(str(box), str(box), MS_BIND | MS_REC)
                os.chdir(box)
                pivot_root(".", ".")  # the old root is now stacked under the new one...
                check(libc.umount2(b".", MNT_DETACH), "umount2")  # ...and detached
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
            os.write(write, f"error|{exc.strerror}".encode())
            os._exit(1)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    before, after = answer.split("|")
    if before == "error":
        raise OSError(after)
    return f"entered: {before}; after the escape attempt: {after}"


def make_box(parent: Path) -> Path:
    box = Path(tempfile.mkdtemp(prefix="chroot-escape-", dir=parent))
    (box / MARKER).write_text("You are inside the box.\n")
    os.chmod(box, 0o755)
    return box


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chroot_escape.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("demo", nargs="?", choices=["both", "chroot", "pivot"], default="both")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:  # rootless: be root in a new user namespace, where allowed
        if libc.unshare(CLONE_NEWUSER) != 0:
            print(
                "chroot_escape.py: needs root, or user namespaces (not allowed here); "
                "run with sudo",
                file=sys.stderr,
            )
            return 1
        uid, gid = os.geteuid(), os.getegid()
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
        Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
    box = make_box(Path(tempfile.gettempdir()))
    try:
        for name, use_pivot in (("chroot", False), ("pivot_root", True)):
            if args.demo in ("both", name.split("_")[0]):
                print(f"{name + ':':12} {demo(box, use_pivot)}")
        return 0
    except OSError as exc:
        print(f"chroot_escape.py: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(box, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
