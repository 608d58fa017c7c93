#!/usr/bin/env python3
"""Build a folder that a process can use as its root (/) with chroot.

The folder holds a few commands, every shared library they load, the dynamic
loader, and just enough of /etc, /proc, /dev and /tmp for them to work:

    python3 create_sandbox.py box                  # build ./box
    sudo python3 create_sandbox.py --enter box     # a shell inside it
    python3 create_sandbox.py --enter box -- ps    # rootless, via a user namespace

Nothing outside the new folder is changed: it is built in a temporary folder
beside the target and renamed at the end, so a failure, Ctrl-C or SIGTERM
leaves nothing half-made.

Exit status, as docker run's: with --enter or --run the command's own; 125 when
this script fails or is misused; 126 when the command cannot be run, 127 when
it is not found; 128 + n when signal n killed it, or stopped the script
(Ctrl-C: 130, SIGTERM: 143, SIGHUP: 129). Standard library only, Python 3.11+, Linux.
"""

from __future__ import annotations

import _signal  # the C module under `signal`, which imports enum first (~3 ms)

if __name__ == "__main__":  # Ctrl-C and SIGTERM wait until we are ready (see Stop, below)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP})

import argparse
import ctypes
import errno
import json
import os
import shutil
import signal
import stat
import struct
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PROG = "create_sandbox.py"
DEFAULT_COMMANDS = ["bash", "ls", "mkdir", "pwd", "mount", "top", "ps", "id"]
# A PATH without the reader's own folders (and the same inside the sandbox).
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Shell builtins with no program of their own: the sandbox's shell provides them.
BUILTINS = {
    "cd",
    "alias",
    "unalias",
    "export",
    "source",
    ".",
    "exit",
    "set",
    "unset",
    "ulimit",
    "umask",
    "type",
    "hash",
    "history",
    "jobs",
    "fg",
    "bg",
    "wait",
    "shopt",
    "declare",
    "local",
    "readonly",
    "eval",
    "exec",
    "return",
    "trap",
}
# Refused as a target, or as a folder a target would be made in (at any depth),
# except in the folders for one's own files among them. So are / and a new
# folder right in it (`box` typed with / as the working directory).
SYSTEM_DIRS = {
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var",
}
OWN_FILES = {"/root", "/var/tmp"}
TERMINALS = [
    "dumb",
    "linux",
    "vt100",
    "vt220",
    "xterm",
    "xterm-256color",
    "screen",
    "screen-256color",
    "tmux",
    "tmux-256color",
]
TERMINFO_DIRS = ["/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo"]


class SandboxError(Exception):
    """A problem the user can fix: printed as one line, exit status 125."""


# --- Reading ELF files -------------------------------------------------------
#
# Why not `ldd`? ldd asks the program's own loader to resolve it, and for a
# program with a non-standard loader (PT_INTERP) that means running foreign
# code; `man ldd` warns never to use it on untrusted files. It is also one
# process per command. Reading the ELF headers and /etc/ld.so.cache, as the
# loader does, runs nothing, works on any file and is fast.

PT_DYNAMIC, PT_INTERP, PT_LOAD = 2, 3, 1
DT_NULL, DT_NEEDED, DT_STRTAB, DT_RPATH, DT_RUNPATH = 0, 1, 5, 15, 29


@dataclass
class Elf:
    path: Path
    machine: tuple[int, int]  # (ELF class, e_machine): a library must match its user
    interpreter: str | None = None
    needed: list[str] = field(default_factory=list)
    rpath: list[str] = field(default_factory=list)
    runpath: list[str] = field(default_factory=list)


def read_elf(path: Path) -> Elf | None:
    """The loader-relevant facts of an ELF file, or None if it is not one."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        return None
    is64, end = data[4] == 2, "<" if data[5] == 1 else ">"
    if is64:
        phoff, phentsize, phnum = (
            struct.unpack_from(end + "Q", data, 0x20)[0],
            *struct.unpack_from(end + "HH", data, 0x36),
        )
        ph_fmt, dyn_fmt = end + "IIQQQQQQ", end + "qQ"
    else:
        phoff, phentsize, phnum = (
            struct.unpack_from(end + "I", data, 0x1C)[0],
            *struct.unpack_from(end + "HH", data, 0x2A),
        )
        ph_fmt, dyn_fmt = end + "IIIIIIII", end + "iI"
    elf = Elf(path, (data[4], struct.unpack_from(end + "H", data, 0x12)[0]))
    loads, dynamic = [], None
    for i in range(phnum):
        fields = struct.unpack_from(ph_fmt, data, phoff + i * phentsize)
        if is64:
            p_type, _, p_offset, p_vaddr, _, p_filesz = fields[:6]
        else:
            p_type, p_offset, p_vaddr, _, p_filesz = fields[:5]
        if p_type == PT_INTERP:
            elf.interpreter = data[p_offset : p_offset + p_filesz].rstrip(b"\0").decode()
        elif p_type == PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    if dynamic is None:  # statically linked: needs nothing
        return elf
    entries, strtab = [], None
    size = struct.calcsize(dyn_fmt)
    for off in range(dynamic[0], dynamic[0] + dynamic[1], size):
        tag, value = struct.unpack_from(dyn_fmt, data, off)
        if tag == DT_NULL:
            break
        if tag == DT_STRTAB:
            # DT_STRTAB is an address in memory: map it back to a file offset.
            strtab = next(value - va + off for va, off, sz in loads if va <= value < va + sz)
        entries.append((tag, value))

    def string(offset: int) -> str:
        assert strtab is not None
        return data[strtab + offset : data.index(b"\0", strtab + offset)].decode()

    for tag, value in entries:
        if tag == DT_NEEDED:
            elf.needed.append(string(value))
        elif tag in (DT_RPATH, DT_RUNPATH):
            dirs = [
                d.replace("$ORIGIN", str(path.parent)).replace("${ORIGIN}", str(path.parent))
                for d in string(value).split(":")
                if d
            ]
            (elf.rpath if tag == DT_RPATH else elf.runpath).extend(dirs)
    return elf


def read_ld_cache(path: Path = Path("/etc/ld.so.cache")) -> dict[str, list[str]]:
    """soname -> paths, from glibc's cache (format 'glibc-ld.so.cache1.1')."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    magic = b"glibc-ld.so.cache1.1"
    start = data.find(magic)  # an old-format part may come first
    if start < 0:
        return {}
    nlibs = struct.unpack_from("<I", data, start + 20)[0]
    cache: dict[str, list[str]] = {}

    def cstr(offset: int) -> str:
        return data[offset : data.index(b"\0", offset)].decode()

    for i in range(nlibs):
        _, key, value = struct.unpack_from("<iII", data, start + 48 + i * 24)
        cache.setdefault(cstr(key), []).append(cstr(value))
    return cache


def default_lib_dirs() -> list[str]:
    arch = sysconfig.get_config_var("MULTIARCH") or ""
    dirs = [f"/lib/{arch}", f"/usr/lib/{arch}"] if arch else []
    return [*dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib"]


# --8<-- [start:resolver]
class Resolver:
    """Finds each library the way ld.so does: RPATH, RUNPATH, ld.so.cache, defaults."""

    def __init__(self) -> None:
        self.cache = read_ld_cache()
        self.defaults = default_lib_dirs()

    def find(self, soname: str, user: Elf, loaders: list[Elf]) -> Path:
        if "/" in soname:
            return Path(soname)
        dirs: list[str] = []
        if not user.runpath:  # DT_RPATH counts only without DT_RUNPATH (ld.so(8))
            for elf in [user, *loaders]:
                dirs += elf.rpath
        dirs += user.runpath
        candidates = [os.path.join(d, soname) for d in dirs]
        candidates += self.cache.get(soname, [])
        candidates += [os.path.join(d, soname) for d in self.defaults]
        for candidate in candidates:
            path = Path(candidate)
            if path.is_file():
                lib = read_elf(path)
                if lib is not None and lib.machine == user.machine:
                    return path
        raise SandboxError(f"{user.path} needs {soname}, which the loader cannot find")

    def closure(self, program: Path) -> list[Path]:
        """The program, its interpreter (#! or PT_INTERP) and every library, in order."""
        found: list[Path] = []
        todo: list[tuple[Path, list[Elf]]] = [(program, [])]
        while todo:
            path, loaders = todo.pop()
            if path in found:
                continue
            found.append(path)
            elf = read_elf(path)
            if elf is None:
                todo += [(p, []) for p in script_interpreters(path)]
                continue
            if elf.interpreter:
                todo.append((Path(elf.interpreter), []))
            for soname in elf.needed:
                todo.append((self.find(soname, elf, loaders), [elf, *loaders]))
        return found


# --8<-- [end:resolver]


def script_interpreters(path: Path) -> list[Path]:
    """`#!/usr/bin/env python3` needs env and python3; `#!/bin/sh` needs sh."""
    with path.open("rb") as f:
        first = f.readline(256)
    if not first.startswith(b"#!"):
        return []
    words = first[2:].decode(errors="replace").split()
    if not words:
        return []
    found = [Path(words[0])]
    if Path(words[0]).name == "env" and len(words) > 1 and not words[1].startswith("-"):
        program = shutil.which(words[1], path=CLEAN_PATH)
        if program is None:
            raise SandboxError(f"{path} runs {words[1]!r} through env, and it is not installed")
        found.append(Path(program))
    return found


# --- Building the folder ----------------------------------------------------


@dataclass
class Manifest:
    target: str
    commands: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    bytes: int = 0


class Builder:
    def __init__(self, root: Path, manifest: Manifest, verbose: bool) -> None:
        self.root, self.manifest, self.verbose = root, manifest, verbose
        self.done: set[str] = set()

    def inside(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def copy(self, host_path: str) -> None:
        """Copy one path to the same place in the sandbox, recreating every symlink on
        the way (/bin -> usr/bin on usr-merged systems, libfoo.so.6 -> libfoo.so.6.1)."""
        host_path = os.path.normpath(host_path)
        if host_path in self.done or host_path == "/":
            return
        Stop.check()  # Ctrl-C or SIGTERM: stop here, and build() removes the partial folder
        self.done.add(host_path)
        parent = os.path.dirname(host_path)
        self.copy(parent)  # the folders (or links) that lead to it come first
        real_parent = os.path.realpath(parent)
        here = os.path.join(real_parent, os.path.basename(host_path))
        dest = self.inside(os.path.join(real_parent, os.path.basename(host_path)))
        if os.path.islink(here):
            target = os.readlink(here)
            if not os.path.lexists(dest):
                os.symlink(target, dest)
            self.manifest.links[os.path.join(real_parent, os.path.basename(host_path))] = target
            self.copy(os.path.join(real_parent, target))  # absolute targets stay absolute
        elif os.path.isdir(here):
            dest.mkdir(exist_ok=True)
        else:
            shutil.copy2(here, dest, follow_symlinks=False)
            self.manifest.files.append(here)
            self.manifest.bytes += dest.stat().st_size
            if self.verbose:
                print(f"  {here}")

    def skeleton(self) -> None:
        for name, mode in [
            ("proc", 0o555),
            ("dev", 0o755),
            ("tmp", 0o1777),
            ("root", 0o700),
            ("etc", 0o755),
        ]:
            (self.root / name).mkdir(exist_ok=True)
            os.chmod(self.root / name, mode)  # mkdir's mode is masked by the umask
        # On usr-merged systems /bin, /lib... are links into /usr: keep that shape.
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                self.copy(top)
        # Written fresh, never copied: the host's users and hashes stay on the host.
        files = {
            "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
            "etc/group": "root:x:0:\n",
            "etc/nsswitch.conf": "passwd: files\ngroup: files\n",
        }
        for name, text in files.items():
            (self.root / name).write_text(text)
            os.chmod(self.root / name, 0o644)

    def terminfo(self) -> None:
        """`top` draws with terminfo: copy the entries of common terminals."""
        for term in TERMINALS:
            for base in TERMINFO_DIRS:
                entry = os.path.join(base, term[0], term)
                if os.path.exists(entry):
                    self.copy(entry)
                    break


def resolve_commands(names: list[str]) -> tuple[dict[str, Path], list[str]]:
    """Programs for each name, before anything is written; builtins become notes."""
    programs: dict[str, Path] = {}
    notes: list[str] = []
    for name in names:
        if not name or ("/" in name and not os.path.isabs(name)):
            raise SandboxError(
                f"{name!r} is not a command name; give a name like 'ls' or an absolute path"
            )
        found = (
            name
            if os.path.isabs(name) and os.access(name, os.X_OK)
            else shutil.which(name, path=CLEAN_PATH)
        )
        if found is None and name in BUILTINS:
            notes.append(f"'{name}' is a shell builtin: the sandbox's shell provides it")
            continue
        if found is None:
            raise SandboxError(
                f"unknown command {name!r}: it is not installed in "
                f"{CLEAN_PATH}; check the name or install it first"
            )
        programs[name] = Path(found)
    if notes and not any(p.name in ("bash", "sh", "dash") for p in programs.values()):
        notes.append("no shell is in the list, so builtins like 'cd' will not be available")
    return programs, notes


def system_folder(path: Path) -> str | None:
    """The system folder path is, or is inside (/etc for /etc/ssl/box), if any."""
    for folder in [path, *path.parents]:
        if str(folder) in OWN_FILES and folder != path:
            return None
        if str(folder) in SYSTEM_DIRS or folder == Path("/") == path.parent:  # /, /box
            return str(folder)
    return None


def absolute(path: str) -> str:
    try:
        return os.path.abspath(path)
    except FileNotFoundError:  # from os.getcwd(), without a file name
        raise SandboxError(f"cannot find {path}: the working directory was deleted") from None


def check_target(raw: str) -> Path:
    if not raw.strip():
        raise SandboxError("the target folder name is empty; give a new folder, e.g. ./box")
    target = Path(absolute(raw))
    for path in (target, Path(os.path.realpath(target))):
        if (folder := system_folder(path)) == str(path):
            raise SandboxError(f"{raw} is a system folder; give a new folder, e.g. ./box")
        if folder:
            raise SandboxError(
                f"{raw} is inside {folder}, a system folder; build the sandbox somewhere else"
            )
    if os.path.lexists(target):
        kind = "a link" if target.is_symlink() else "a folder" if target.is_dir() else "a file"
        raise SandboxError(
            f"{raw} already exists ({kind}) and is left as it is; give a new folder name"
        )
    parent = target.parent.resolve()
    try:
        if not stat.S_ISDIR(os.stat(parent).st_mode):
            raise SandboxError(f"{parent} is not a folder; give a path inside a folder")
    except FileNotFoundError:
        raise SandboxError(f"the parent folder {parent} does not exist; create it first") from None
    except PermissionError:
        raise SandboxError(
            f"cannot reach {parent} (permission denied); choose a folder you own"
        ) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SandboxError(f"cannot write in {parent}; choose a folder you own")
    return target


def rename_noreplace(src: Path, dst: Path) -> None:
    """rename(2) would replace an empty folder made meanwhile at dst; RENAME_NOREPLACE won't."""
    libc = ctypes.CDLL(None, use_errno=True)
    if hasattr(libc, "renameat2"):
        at_fdcwd, noreplace = -100, 1
        if libc.renameat2(at_fdcwd, bytes(src), at_fdcwd, bytes(dst), noreplace) == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise SandboxError(f"{dst} appeared while building; it is left as it is")
        if err not in (errno.EINVAL, errno.ENOSYS):  # not supported here: fall back
            raise OSError(err, os.strerror(err), str(dst))
    if os.path.lexists(dst):
        raise SandboxError(f"{dst} appeared while building; it is left as it is")
    os.rename(src, dst)


def build(raw_target: str, commands: list[str], verbose: bool = False) -> Manifest:
    target = check_target(raw_target)
    programs, notes = resolve_commands(commands)
    resolver = Resolver()
    needed = {name: resolver.closure(program) for name, program in programs.items()}
    manifest = Manifest(str(target), {n: str(p) for n, p in programs.items()}, notes=notes)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        os.chmod(work, 0o755)
        builder = Builder(work, manifest, verbose)
        builder.skeleton()
        for paths in needed.values():
            for path in paths:
                builder.copy(str(path))
        builder.terminfo()
        rename_noreplace(work, target)
    except BaseException:  # also Ctrl-C: remove the half-made folder, then go on failing
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


# --- system calls Python lacks: the same code in every script that mounts ----------

libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    """Raise OSError naming `what` if a libc call failed."""
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), what)


def mount(
    source: str | None,
    target: str,
    fstype: str | None = None,
    flags: int = 0,
    data: str | None = None,
) -> None:
    check(
        libc.mount(
            source and os.fsencode(source),  # fsencode: a name that is not UTF-8, too
            os.fsencode(target),
            fstype and fstype.encode(),
            ctypes.c_ulong(flags),
            data and data.encode(),
        ),
        f"mount {target}",
    )


def describe(exc: OSError) -> str:
    """'what: why' for an OSError: the file or call at fault, then the kernel's reason."""
    return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror or str(exc)


# --- Entering it ---------------------------------------------------------------

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID = 0x00020000, 0x10000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18


# --8<-- [start:enter]
def enter_namespaces() -> None:
    """New mount and PID namespaces; for a normal user, inside a new user namespace."""
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWPID
    try:
        check(libc.unshare(flags if uid == 0 else flags | CLONE_NEWUSER), "unshare")
    except OSError as exc:
        if uid == 0:
            raise SandboxError(
                f"cannot create namespaces ({exc.strerror}); is this a "
                "container without CAP_SYS_ADMIN?"
            ) from None
        raise SandboxError(
            "user namespaces are not allowed for normal users here "
            f"({exc.strerror}); run with sudo, or see "
            "/proc/sys/user/max_user_namespaces and, on Ubuntu, "
            "kernel.apparmor_restrict_unprivileged_userns"
        ) from None
    if uid != 0:
        # Be root inside, mapped to our own user outside: no new privilege.
        try:
            Path("/proc/self/setgroups").write_text("deny")
            Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
            Path("/proc/self/gid_map").write_text(f"0 {gid} 1")
        except OSError as exc:
            raise SandboxError(
                f"cannot map our user into the user namespace ({exc.strerror});"
                " AppArmor may forbid it: run with sudo"
            ) from None
    # Nothing we mount from here on may propagate back to the host.
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def enter(folder: str, command: list[str]) -> int:
    root = Path(absolute(folder)).resolve()
    if root == Path("/"):
        raise SandboxError(
            f"{folder} is the host's own root, not a sandbox: the command would run on the host"
        )
    if not (root / "proc").is_dir() or not (root / "dev").is_dir():
        build = f"python3 {sys.argv[0]} {'./box' if system_folder(root) else folder}"
        raise SandboxError(
            f"{folder} is not a sandbox (no proc/ and dev/ in it); build one: {build}"
        )
    program = command[0]
    if not os.path.lexists(root / program.lstrip("/")) and "/" in program:
        return cannot_run(program, FileNotFoundError(2, "not in the sandbox", program))
    enter_namespaces()
    pid = os.fork()  # the first child in a new PID namespace is its PID 1
    if pid == 0:
        try:
            Stop.in_child()
            mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            mount("tmpfs", f"{root}/dev", "tmpfs", MS_NOSUID, "mode=755")
            for node in ("null", "zero", "full", "random", "urandom", "tty"):
                (root / "dev" / node).touch()
                mount(f"/dev/{node}", f"{root}/dev/{node}", None, MS_BIND)
            os.chroot(root)
            os.chdir("/")
        except OSError as exc:
            print(f"{PROG}: cannot enter {folder}: {describe(exc)}", file=sys.stderr)
            os._exit(125)
        env = {"PATH": CLEAN_PATH, "HOME": "/root", "TERM": os.environ.get("TERM", "dumb")}
        try:
            os.execvpe(program, command, {**env, "PS1": "sandbox# "})
        except (OSError, ValueError) as exc:
            os._exit(cannot_run(program, exc))
        finally:
            os._exit(125)
    return Stop.wait_for(pid, pid1=True)


# --8<-- [end:enter]


# --- Ctrl-C and SIGTERM: the same code in every script of this folder -------------
#
# The script holds both signals back (blocks them) from its first line, and takes
# them only where it waits for the command: nothing it makes or removes can be cut
# in half. Then it passes each on to the command. PID 1 of a new PID namespace
# ignores a signal it has no handler for (the kernel shields a namespace's init),
# so for such a command we do what the default action would: SIGKILL. A command
# still running GRACE seconds later is killed (docker stop waits 10 s); so is one
# that gets a second signal. The script then removes what it made and exits with
# 128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM. SIGHUP, which a
# terminal sends as it closes, is a stop signal too: 129.
# Ctrl-C typed on a terminal is different: the terminal sends SIGINT to the command
# as well, and the command decides. A shell or a Python prompt carries on.

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
GRACE = 3.0  # seconds
SI_KERNEL = 0x80  # si_code of a signal from the terminal, sent to its whole process group
SHELL_BUILTINS = {
    ".", ":", "alias", "bg", "cd", "declare", "eval", "exec", "exit", "export", "fg", "hash",
    "history", "jobs", "local", "read", "readonly", "return", "set", "shift", "shopt",
    "source", "trap", "type", "ulimit", "umask", "unalias", "unset", "wait",
}  # fmt: skip


class Stopped(Exception):
    """A stop signal came: undo what was made, then exit with 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Stop:
    """Where SIGINT and SIGTERM go: held back, then passed on to the command."""

    signum = 0  # the stop signal that arrived, 0 if none
    killed_by = 0  # the signal that ended the command, 0 if it exited
    typed = 0  # a signal typed on the terminal (Ctrl-C), which the command got too
    timed_out = False
    proc = -1  # a file descriptor of /proc
    # Ignored from the start, SIGINT in a background job (`cmd &`), SIGHUP under nohup: so be it.
    ignored = frozenset(s for s in STOP_SIGNALS if signal.getsignal(s) == signal.SIG_IGN)

    @classmethod
    def take_over(cls) -> None:
        """Hold stop signals back from now on; wait_for and check take them when ready.

        Their handlers are the default again: a child forked meanwhile must not run
        Python's Ctrl-C handler (KeyboardInterrupt) inside our code.
        """
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        for signum in STOP_SIGNALS - cls.ignored:
            signal.signal(signum, signal.SIG_DFL)
        if cls.proc < 0:  # this /proc, before a child mounts its own on top of it
            cls.proc = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)

    @classmethod
    def check(cls) -> None:
        """Raise Stopped if a stop signal came: held back till now, or while a command ran."""
        for signum in signal.sigpending() & STOP_SIGNALS - cls.ignored:
            signal.sigtimedwait({signum}, 0)
            cls.signum = cls.signum or signum
        if cls.signum:
            raise Stopped(cls.signum)

    @staticmethod
    def in_child() -> None:
        """After fork, in the child: the default handling, nothing held back."""
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS | {signal.SIGCHLD})

    @classmethod
    def wait_for(cls, pid: int, pid1: bool = False, timeout: float | None = None) -> int:
        """The command's exit status (128 + n if signal n killed it), passing stop signals on."""
        Stop.take_over()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # taken below, too
        kill_at = float("inf") if timeout is None else time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                if os.WIFEXITED(status):
                    return os.WEXITSTATUS(status)
                cls.killed_by = os.WTERMSIG(status)
                if cls.killed_by == cls.typed:  # the command did not survive Ctrl-C
                    cls.signum = cls.signum or cls.typed
                return 128 + cls.killed_by  # as a shell reports it
            wait = min(kill_at - time.monotonic(), 1.0)
            info = signal.sigtimedwait(STOP_SIGNALS | {signal.SIGCHLD}, max(wait, 0))
            if info is None:
                if time.monotonic() >= kill_at:
                    cls.timed_out = cls.timed_out or not cls.signum
                    os.kill(pid, signal.SIGKILL)
                    kill_at = float("inf")
                continue
            signum = info.si_signo
            if signum == signal.SIGCHLD or signum in cls.ignored:
                continue
            reaches = not pid1 or catches(pid, signum)  # PID 1 is spared one it has no handler for
            if info.si_code == SI_KERNEL and reaches:  # typed: the command got it too
                cls.typed = signum
            elif cls.signum:  # a second stop signal: no more waiting
                os.kill(pid, signal.SIGKILL)
            else:
                cls.signum = signum
                kill_at = min(kill_at, time.monotonic() + GRACE)
                os.kill(pid, signum if reaches else signal.SIGKILL)  # SIGKILL: the default action


def catches(pid: int, signum: int) -> bool:
    """Has process pid a handler for signum? (the SigCgt mask of /proc/PID/status)"""
    try:
        fd = os.open(f"{pid}/status", os.O_RDONLY, dir_fd=Stop.proc)
        try:
            status = os.read(fd, 4096).decode()
        finally:
            os.close(fd)
        caught = int(status.split("SigCgt:")[1].split()[0], 16)
    except (OSError, IndexError):
        return False
    return bool(caught >> (signum - 1) & 1)


def stopped_message(signum: int, what: str) -> str:
    names = {signal.SIGINT: "SIGINT (Ctrl-C)", signal.SIGHUP: "SIGHUP (the terminal closed)"}
    return f"{PROG}: stopped by {names.get(signum, 'SIGTERM')}; {what}"


def cannot_run(name: str, exc: OSError | ValueError) -> int:
    """One line on why the command did not start; 127 not found, 126 not runnable."""
    missing = isinstance(exc, FileNotFoundError) or not name  # "": execvp's ValueError
    if name in SHELL_BUILTINS and missing:
        why = f"it is a shell builtin, not a program; run it in a shell: sh -c '{name} ...'"
    elif missing:
        why = "command not found"
    else:
        why = exc.strerror or str(exc)
    print(f"{PROG}: cannot run {name or repr(name)}: {why}", file=sys.stderr)
    return 127 if missing else 126


# --- Command line --------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, and docker run's status for bad flags
        self.exit(125, f"{self.prog}: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = Parser(
        prog="create_sandbox.py",
        description="Build a folder to chroot into, with a few commands and their libraries.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  python3 create_sandbox.py box\n"
        "  python3 create_sandbox.py box --commands sh cat ls\n"
        "  sudo python3 create_sandbox.py --enter box -- ps aux\n",
    )
    parser.add_argument("target", help="the new folder (must not exist yet)")
    parser.add_argument(
        "-c",
        "--commands",
        nargs="+",
        metavar="CMD",
        default=DEFAULT_COMMANDS,
        help=f"commands to put in it (default: {' '.join(DEFAULT_COMMANDS)})",
    )
    parser.add_argument(
        "--enter",
        action="store_true",
        help="run a command inside an existing sandbox instead of building one",
    )
    parser.add_argument(
        "--run", action="store_true", help="build the sandbox, then run a command inside it"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="list each file copied")
    parser.add_argument("--json", action="store_true", help="print a JSON manifest")
    parser.add_argument(
        "command",
        nargs="*",
        default=[],
        help="with --enter/--run: the command "
        "(default /bin/bash, or the first shell built in); put -- before it",
    )
    argv = sys.argv[1:] if argv is None else argv
    # Everything after `--` is the command to run inside, even words that look like options.
    tail = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.command += tail
    if args.command and not (args.enter or args.run):
        parser.error(f"unexpected {args.command[0]!r}: a command goes with --enter or --run")
    Stop.take_over()
    try:
        if args.enter:
            status = enter(args.target, args.command or ["/bin/bash"])
        else:
            status = build_and_run(args)
        Stop.check()
        return status
    except SandboxError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 125
    except (Stopped, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        done = not args.enter and os.path.lexists(args.target)  # only after the final rename
        what = f"{args.target} was already complete" if done else "nothing was created"
        print(
            stopped_message(signum, what if not args.enter else "the command ended"),
            file=sys.stderr,
        )
        return 128 + signum
    except OSError as exc:  # e.g. disk full: still one line, and the partial folder is gone
        print(f"{PROG}: {describe(exc)}", file=sys.stderr)
        return 125


def build_and_run(args: argparse.Namespace) -> int:
    if args.run and not args.command:  # the command is the first shell built in
        programs, _ = resolve_commands(args.commands)
        if not programs:
            names = " and ".join(repr(c) for c in args.commands)
            what = "is a shell builtin" if len(args.commands) == 1 else "are shell builtins"
            raise SandboxError(
                f"--run has nothing to run: {names} {what}, not a program; build a shell "
                f"too and run it there: -c sh --run -- sh -c '{args.commands[0]} ...'"
            )
    manifest = build(args.target, args.commands, args.verbose and not args.json)
    if args.json:
        print(json.dumps(manifest.__dict__, indent=2))
    else:
        n = len(manifest.commands)
        print(
            f"Built {args.target}: {n} command{'s' * (n != 1)}, "
            f"{len(manifest.files)} files, {manifest.bytes / 1e6:.1f} MB"
        )
        for note in manifest.notes:
            print(f"note: {note}")
        if not args.run:
            print(f"Enter it: sudo python3 {sys.argv[0]} --enter {args.target}")
    if not args.run:
        return 0
    shells = [p for p in manifest.commands.values() if Path(p).name in ("bash", "sh")]
    default = [shells[0]] if shells else [next(iter(manifest.commands.values()))]
    sys.stdout.flush()  # before the command writes to the same output
    return enter(args.target, args.command or default)


if __name__ == "__main__":
    sys.exit(main())
