#!/usr/bin/env python3
"""Build a folder that a process can use as its root (/) with chroot.

The folder holds a few commands, every shared library they load, the dynamic
loader, and just enough of /etc, /proc, /dev and /tmp for them to work:

    python3 create_sandbox.py box                  # build ./box
    sudo python3 create_sandbox.py --enter box     # a shell inside it
    python3 create_sandbox.py --enter box -- ps    # rootless, via a user namespace

Nothing outside the new folder is changed: it is built in a temporary folder
beside the target and renamed at the end, so a failure, Ctrl-C or SIGTERM
leaves nothing half-made. Only programs, their interpreters and the libraries
they load are copied: /etc/passwd and /etc/group are written fresh, so the
host's users and secrets stay on the host.

Exit status, as docker run's: with --enter or --run the command's own; 125 when
this script fails or is misused; 126 when the command cannot be run, 127 when
it is not found; 128 + n when signal n killed it, or stopped the script
(Ctrl-C: 130, SIGTERM: 143, SIGHUP: 129). Standard library only, Python 3.11+, Linux.
Needs plumbing.py.
"""

from __future__ import annotations

import _signal  # the C module under `signal`, which imports enum first (~3 ms)
import sys

if __name__ == "__main__":  # stop signals wait until we are ready (plumbing.Stop)
    _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP})
    # Run with sudo, Python would leave root's __pycache__ in the reader's clone.
    sys.dont_write_bytecode = True

import ctypes
import errno
import json
import os
import shutil
import stat
import struct
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import plumbing
from plumbing import (
    CLEAN_PATH,
    CLONE_NEWNS,
    CLONE_NEWPID,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    SHELL_BUILTINS,
    Stop,
    UsageError,
    absolute,
    become,
    cannot_run,
    fork,
    mount,
    unshare,
    user_namespace,
)

PROG = "create_sandbox.py"
DEFAULT_COMMANDS = ["bash", "ls", "mkdir", "pwd", "mount", "top", "ps", "id"]

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


# --8<-- [start:resolver]
class Resolver:
    """Finds each library the way ld.so does: RPATH, RUNPATH, ld.so.cache, defaults."""

    def __init__(self) -> None:
        self.cache = read_ld_cache()
        self.defaults = default_lib_dirs()

    def find(self, soname: str, user: Elf, loaders: list[Elf]) -> Path:
        if "/" in soname:
            return loadable(Path(soname), user.path, "library")
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
                try:
                    lib = read_elf(path)
                except UsageError:  # not a library after all: the loader passes it by, too
                    continue
                if lib is not None and lib.machine == user.machine:
                    return path
        raise UsageError(f"{user.path} needs {soname}, which the loader cannot find")

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
                todo.append((loadable(Path(elf.interpreter), path, "loader"), []))
            for soname in elf.needed:
                todo.append((self.find(soname, elf, loaders), [elf, *loaders]))
        return found


# --8<-- [end:resolver]


def script_interpreters(path: Path) -> list[Path]:
    """`#!/usr/bin/env python3` needs env and python3; `#!/bin/sh` needs sh."""
    first = read_file(path, 256).split(b"\n")[0]
    if not first.startswith(b"#!"):
        return []
    words = first[2:].decode(errors="replace").split()
    if not words:
        return []
    found = [loadable(Path(words[0]), path, "#! interpreter")]
    if Path(words[0]).name == "env" and len(words) > 1 and not words[1].startswith("-"):
        program = shutil.which(words[1], path=CLEAN_PATH)
        if program is None:
            raise UsageError(f"{path} runs {words[1]!r} through env, and it is not installed")
        found.append(Path(program))
    return found


def loadable(path: Path, user: Path, what: str) -> Path:
    """A file a program names to be loaded or run with it must be a program or a library:
    a crafted `#!/etc/shadow` or DT_NEEDED would otherwise copy a host secret in."""
    try:
        is_elf = read_file(path, 4) == b"\x7fELF"
    except UsageError:
        raise UsageError(f"{user} names {path} as its {what}, and it is not a file") from None
    if not (is_elf or os.access(path, os.X_OK)):
        raise UsageError(f"{user} names {path} as its {what}: not a program, so not copied")
    return path


# --- building the folder ------------------------------------------------------


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


def build(raw_target: str, commands: list[str], verbose: bool = False) -> Manifest:
    target = check_target(raw_target)
    programs, notes = resolve_commands(commands)
    resolver = Resolver()
    needed = {name: resolver.closure(program) for name, program in programs.items()}
    manifest = Manifest(str(target), {n: str(p) for n, p in programs.items()}, notes=notes)
    # A short name of its own: the target's name may be as long as a name can be (255).
    work = Path(tempfile.mkdtemp(prefix=".sandbox-partial-", dir=target.parent))
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


# --- entering it --------------------------------------------------------------


# --8<-- [start:enter]
def enter_namespaces() -> None:
    """New mount and PID namespaces; for a normal user, inside a new user namespace."""
    flags = CLONE_NEWNS | CLONE_NEWPID
    if os.geteuid() != 0:
        user_namespace(flags)  # root inside, our own user outside: no new privilege
    else:
        try:
            unshare(flags)
        except OSError as exc:
            raise UsageError(
                f"cannot create namespaces ({exc.strerror}); is this a "
                "container without CAP_SYS_ADMIN?"
            ) from None
    # Nothing we mount from here on may propagate back to the host.
    mount(None, "/", None, MS_REC | MS_PRIVATE)


def enter(folder: str, command: list[str]) -> int:
    root = Path(absolute(folder)).resolve()
    if root == Path("/"):
        raise UsageError(
            f"{folder} is the host's own root, not a sandbox: the command would run on the host"
        )
    if not (root / "proc").is_dir() or not (root / "dev").is_dir():
        build = f"python3 {sys.argv[0]} {'./box' if system_folder(root) else folder}"
        raise UsageError(f"{folder} is not a sandbox (no proc/ and dev/ in it); build one: {build}")
    program = command[0]
    if not os.path.lexists(root / program.lstrip("/")) and "/" in program:
        return cannot_run(program, FileNotFoundError(2, "not in the sandbox", program))
    enter_namespaces()

    def set_up() -> None:
        mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        mount("tmpfs", f"{root}/dev", "tmpfs", MS_NOSUID, "mode=755")
        for node in ("null", "zero", "full", "random", "urandom", "tty"):
            (root / "dev" / node).touch()
            mount(f"/dev/{node}", f"{root}/dev/{node}", None, MS_BIND)
        os.chroot(root)
        os.chdir("/")

    env = {"PATH": CLEAN_PATH, "HOME": "/root", "TERM": os.environ.get("TERM", "dumb")}
    pid = fork()  # the first child in a new PID namespace is its PID 1
    if pid == 0:
        become(command, {**env, "PS1": "sandbox# "}, set_up, f"cannot enter {folder}")
    return Stop.wait_for(pid, pid1=True)


# --8<-- [end:enter]


# ===================================================================================
# Plumbing of this script: reading ELF files, checking the target, the command line.
# The rest is in plumbing.py, shared by every script of this folder.
# ===================================================================================


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
    data = read_file(path)
    if data[:4] != b"\x7fELF":
        return None
    try:
        return parse_elf(path, data)
    except (struct.error, IndexError, ValueError, StopIteration, UnicodeDecodeError):
        raise UsageError(f"{path} is not a valid ELF file (cut short or damaged)") from None


def read_file(path: Path, size: int = -1) -> bytes:
    """A regular file's bytes (the first `size`); a FIFO or a device is refused (reading
    one might never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO would block the open itself
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"{path} is not a regular file (a FIFO or a device?)")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(size)
    finally:
        os.close(fd)


def parse_elf(path: Path, data: bytes) -> Elf:
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
        if strtab is None:
            raise ValueError("no DT_STRTAB")
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


def resolve_commands(names: list[str]) -> tuple[dict[str, Path], list[str]]:
    """Programs for each name, before anything is written; builtins become notes."""
    programs: dict[str, Path] = {}
    notes: list[str] = []
    for name in names:
        if not name or ("/" in name and not os.path.isabs(name)):
            raise UsageError(
                f"{name!r} is not a command name; give a name like 'ls' or an absolute path"
            )
        found = (
            name
            if os.path.isabs(name) and os.access(name, os.X_OK)
            else shutil.which(name, path=CLEAN_PATH)
        )
        if found is None and name in SHELL_BUILTINS:
            notes.append(f"'{name}' is a shell builtin: the sandbox's shell provides it")
            continue
        if found is None:
            raise UsageError(
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


def check_target(raw: str) -> Path:
    if not raw.strip():
        raise UsageError("the target folder name is empty; give a new folder, e.g. ./box")
    target = Path(absolute(raw))
    for path in (target, Path(os.path.realpath(target))):
        if (folder := system_folder(path)) == str(path):
            raise UsageError(f"{raw} is a system folder; give a new folder, e.g. ./box")
        if folder:
            raise UsageError(
                f"{raw} is inside {folder}, a system folder; build the sandbox somewhere else"
            )
    if os.path.lexists(target):
        kind = "a link" if target.is_symlink() else "a folder" if target.is_dir() else "a file"
        raise UsageError(
            f"{raw} already exists ({kind}) and is left as it is; give a new folder name"
        )
    parent = target.parent.resolve()
    try:
        if not stat.S_ISDIR(os.stat(parent).st_mode):
            raise UsageError(f"{parent} is not a folder; give a path inside a folder")
    except FileNotFoundError:
        raise UsageError(f"the parent folder {parent} does not exist; create it first") from None
    except PermissionError:
        raise UsageError(
            f"cannot reach {parent} (permission denied); choose a folder you own"
        ) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write in {parent}; choose a folder you own")
    return target


def rename_noreplace(src: Path, dst: Path) -> None:
    """rename(2) would replace an empty folder made meanwhile at dst; RENAME_NOREPLACE won't."""
    libc = plumbing.libc
    if hasattr(libc, "renameat2"):
        at_fdcwd, noreplace = -100, 1
        if libc.renameat2(at_fdcwd, bytes(src), at_fdcwd, bytes(dst), noreplace) == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise UsageError(f"{dst} appeared while building; it is left as it is")
        if err not in (errno.EINVAL, errno.ENOSYS):  # not supported here: fall back
            raise OSError(err, os.strerror(err), str(dst))
    if os.path.lexists(dst):
        raise UsageError(f"{dst} appeared while building; it is left as it is")
    os.rename(src, dst)


def main(argv: list[str] | None = None) -> int:
    plumbing.PROG = PROG
    parser = plumbing.parser(
        description="Build a folder to chroot into, with a few commands and their libraries.",
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

    def stopped_what() -> str:
        if args.enter:
            return "the command ended"
        done = os.path.lexists(args.target)  # only after the final rename
        return f"{args.target} was already complete" if done else "nothing was created"

    if args.enter:
        return plumbing.guarded(lambda: enter(args.target, args.command or ["/bin/bash"]),
                                stopped_what)  # fmt: skip
    return plumbing.guarded(lambda: build_and_run(args), stopped_what)


def build_and_run(args) -> int:
    if args.run and not args.command:  # the command is the first shell built in
        programs, _ = resolve_commands(args.commands)
        if not programs:
            names = " and ".join(repr(c) for c in args.commands)
            what = "is a shell builtin" if len(args.commands) == 1 else "are shell builtins"
            raise UsageError(
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
    plumbing.Output.flush_quietly()  # before the command writes to the same output
    return enter(args.target, args.command or default)


if __name__ == "__main__":
    plumbing.as_script(main, PROG)
