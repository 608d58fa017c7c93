"""What every script in this folder needs and none of them teaches.

The scripts import it (`from plumbing import ...`): copy it along with any of
them. Standard library only, Python 3.11+, Linux. Light to import on purpose:
no argparse, enum or socket at the top, because minicontainer.py's start-up
time is its benchmark.

The rules, one place each:

- Bad input, or a machine that cannot do it: one line `<script>: <why>` on
  stderr, exit status 125 (UsageError), as docker run's. A command that cannot
  be run: 127 when it is not found, 126 when it is not runnable (cannot_run).
- Stop signals (SIGINT, SIGTERM, SIGHUP): held back from the script's first
  line and taken only where it waits (Stop); what was made is removed, and the
  script exits with 128 + the signal's number (130, 143, 129) after one line.
- A child the script forks dies with it, even when the script is killed with
  SIGKILL (fork: PR_SET_PDEATHSIG).
- Output that cannot be written (`> /dev/full`, `| head -0`) does not undo the
  work: the exit status is the one the work earned, and stderr gets one line
  saying the output was lost, or nothing when the reader closed the pipe (that
  is how `head` says "enough"). (as_script, Output)
"""

from __future__ import annotations

import _signal as signal  # `signal` imports enum first (~3 ms)
import ctypes
import errno
import os
import sys
import time

PROG = "script"  # the script's name in its messages, set by as_script and main()
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
GRACE = 3.0  # seconds a command gets to end after a stop signal (docker stop waits 10)
SI_KERNEL = 0x80  # si_code of a signal from the terminal, sent to its whole process group
SHELL_BUILTINS = {
    ".", ":", "alias", "bg", "cd", "declare", "eval", "exec", "exit", "export", "fg", "hash",
    "history", "jobs", "local", "read", "readonly", "return", "set", "shift", "shopt",
    "source", "trap", "type", "ulimit", "umask", "unalias", "unset", "wait",
}  # fmt: skip
CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_PIDS = 4_194_304  # the kernel's largest pid_max
HOST_NAME_MAX = 64


class UsageError(Exception):
    """A problem the user can fix (the command line, the machine): one line, status 125."""


def say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr)


def as_root_hint() -> str:
    """'; run with sudo', for a user who is not root (root is told nothing of the kind)."""
    return "" if os.geteuid() == 0 else "; run with sudo"


# --- system calls Python 3.11 lacks (ctypes), from <sched.h> and <sys/mount.h> --------

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 32, 4096, 16384, 1 << 18, 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
PR_SET_PDEATHSIG = 1

libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    """Raise OSError naming `what` if a libc call failed."""
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), what)


def unshare(flags: int) -> None:
    check(libc.unshare(flags), "unshare")


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


def pivot_root(new_root: str, put_old: str) -> None:
    """glibc has no wrapper: the system call by its number."""
    number = SYS_PIVOT_ROOT[os.uname().machine]
    check(libc.syscall(number, os.fsencode(new_root), os.fsencode(put_old)), "pivot_root")


def umount_detached(target: str) -> None:
    check(libc.umount2(os.fsencode(target), MNT_DETACH), f"umount2 {target}")


def sethostname(name: str) -> None:
    raw = name.encode()
    check(libc.sethostname(raw, len(raw)), f"sethostname {name}")


def describe(exc: OSError) -> str:
    """'what: why' for an OSError: the file or call at fault, then the kernel's reason."""
    return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror or str(exc)


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def user_namespace(flags: int = 0) -> None:
    """unshare(flags | CLONE_NEWUSER), then be root inside, mapped to our own user outside.

    Our ids are read before unshare: after it, until the maps are written, we are the
    overflow user 65534. The maps are written by a helper that stays in the parent
    user namespace: since Linux 5.12 a process may not map user 0 of the parent into
    its own new namespace (that needs CAP_SETFCAP there), so root could not otherwise.
    """
    uid, gid, me = os.geteuid(), os.getegid(), os.getpid()
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        os.close(ready_w)
        os.read(ready_r, 1)  # wait until the parent has unshared
        try:
            write(f"/proc/{me}/setgroups", "deny")
            write(f"/proc/{me}/uid_map", f"0 {uid} 1")
            write(f"/proc/{me}/gid_map", f"0 {gid} 1")
            os.write(done_w, b"y")
        finally:
            os._exit(0)
    os.close(ready_r)
    os.close(done_w)
    try:
        unshare(flags | CLONE_NEWUSER)
    except OSError as exc:
        if uid == 0:
            raise UsageError(f"cannot create a user namespace: {exc.strerror}") from None
        raise UsageError(
            f"user namespaces are not allowed for normal users here ({exc.strerror}); "
            "run with sudo, or see /proc/sys/user/max_user_namespaces and, on Ubuntu, "
            "kernel.apparmor_restrict_unprivileged_userns"
        ) from None
    finally:
        os.write(ready_w, b"x")
        os.close(ready_w)
        mapped = os.read(done_r, 1) == b"y"
        os.close(done_r)
        os.waitpid(helper, 0)
    if not mapped:
        raise UsageError(
            "cannot map our user into the user namespace (AppArmor may forbid it)" + as_root_hint()
        )


# --- children: forked, then the command ----------------------------------------------


def fork() -> int:
    """os.fork(); the child has the default signal handling, and dies (SIGKILL) with us,
    even when we are killed by SIGKILL (PR_SET_PDEATHSIG), so nothing runs on unwatched."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        Stop.in_child()
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        try:  # we may have died before prctl: then nobody would send it
            os.stat(f"/proc/{parent}" if Stop.proc < 0 else str(parent), dir_fd=Stop.proc)
        except OSError:
            os._exit(128 + signal.SIGKILL)
    return pid


def become(command: list[str], env: dict[str, str] | None = None, setup=None, failing="") -> None:
    """In a forked child: run setup(), then exec the command; or say why not. Never returns."""
    try:
        if setup:
            setup()
    except OSError as exc:
        say(f"{failing}: {describe(exc)}")
        os._exit(125)
    except BaseException as exc:  # the child must never return into the parent's code
        say(f"{failing}: {type(exc).__name__}: {exc}")
        os._exit(125)
    try:
        # Python ignores SIGPIPE and SIGXFSZ for itself; a command must not inherit that
        # (`yes | head` would end in "Broken pipe" errors), as subprocess knows too.
        for signum in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(signum, signal.SIG_DFL)
        env = dict(os.environ) if env is None else env
        os.execve(find_program(command[0], env.get("PATH", CLEAN_PATH)), command, env)
    except OSError as exc:
        os._exit(cannot_run(command[0], exc))
    finally:
        os._exit(125)


def find_program(name: str, path: str) -> str:
    """The PATH search of execvp, by hand: os.execvpe imports a module for it, and after
    pivot_root the host's Python library is out of reach."""
    if "/" in name:
        return name
    for folder in path.split(":"):
        candidate = f"{folder}/{name}"
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    raise FileNotFoundError(2, "command not found", name)


def cannot_run(name: str, exc: OSError) -> int:
    """One line on why the command did not start; 127 not found, 126 not runnable."""
    missing = isinstance(exc, FileNotFoundError) or not name
    if name in SHELL_BUILTINS and missing:
        why = f"it is a shell builtin, not a program; run it in a shell: sh -c '{name} ...'"
    elif missing:
        why = "command not found"
    else:
        why = exc.strerror or str(exc)
    say(f"cannot run {name or repr(name)}: {why}")
    return 127 if missing else 126


# --- stop signals: Ctrl-C, SIGTERM, SIGHUP -----------------------------------------------
#
# The script holds them back (blocks them) from its first line, and takes them only
# where it waits for the command: nothing it makes or removes can be cut in half. Then
# it passes each on to the command. PID 1 of a new PID namespace ignores a signal it
# has no handler for (the kernel shields a namespace's init), so for such a command we
# do what the default action would: SIGKILL. A command still running GRACE seconds
# later is killed; so is one that gets a second signal. The script then removes what
# it made and exits with 128 + the signal's number. Ctrl-C typed on a terminal is
# different: the terminal sends SIGINT to the command as well, and the command
# decides. A shell or a Python prompt carries on.


class Stopped(Exception):
    """A stop signal came: undo what was made, then exit with 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Stop:
    """Where stop signals go: held back, then passed on to the command."""

    signum = 0  # the stop signal that arrived, 0 if none
    killed_by = 0  # the signal that ended the command, 0 if it exited
    typed = 0  # a signal typed on the terminal (Ctrl-C), which the command got too
    timed_out = False
    proc = -1  # a file descriptor of the host's /proc
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
    def at_once(cls) -> None:
        """For a script that makes nothing: a stop signal raises Stopped where it lands."""

        def stopped(signum: int, frame: object) -> None:
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # a second one: no matter
            raise Stopped(signum)

        for signum in STOP_SIGNALS - cls.ignored:
            signal.signal(signum, stopped)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # one held back comes now

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
        cls.take_over()
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


def stopped_message(signum: int, what: str = "") -> str:
    names = {signal.SIGINT: "SIGINT (Ctrl-C)", signal.SIGHUP: "SIGHUP (the terminal closed)"}
    return f"stopped by {names.get(signum, 'SIGTERM')}" + (f"; {what}" if what else "")


def guarded(work, stopped_what="") -> int:
    """work()'s status, after a last look for a stop signal; each failure as one line.

    stopped_what: what the stop message says was undone (a function, if that depends).
    """
    try:
        status = work()
        Stop.check()
        return status
    except UsageError as exc:
        say(str(exc))
        return 125
    except OSError as exc:  # a fork refused (a process limit), a folder we may not read
        say(describe(exc))
        return 125
    except (Stopped, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        Output.flush_quietly()  # what was printed before comes before the message
        what = stopped_what() if callable(stopped_what) else stopped_what
        say(stopped_message(signum, what))
        return 128 + signum


# --- output -------------------------------------------------------------------------------


class Output:
    """sys.stdout, but a write that fails is remembered, not raised: the work goes on."""

    lost: OSError | None = None

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        if Output.lost is None:
            try:
                return self.stream.write(text)
            except OSError as exc:
                Output.lose(exc)
        return len(text)

    def flush(self) -> None:
        if Output.lost is None:
            try:
                self.stream.flush()
            except OSError as exc:
                Output.lose(exc)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)

    @staticmethod
    def lose(exc: OSError) -> None:
        Output.lost = exc
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # what is still buffered goes there

    @staticmethod
    def flush_quietly() -> None:
        try:
            sys.stdout.flush()
        except OSError as exc:
            Output.lose(exc)


def as_script(main, prog: str, fast: bool = False) -> None:
    """Run main() as the script, and exit with its status (`if __name__ == "__main__"`).

    fast: leave by os._exit, which skips the interpreter's teardown (minicontainer).
    """
    global PROG
    PROG = prog
    sys.stdout = Output(sys.stdout)
    try:
        status = main()
    except SystemExit as exc:  # argparse: --help, or a bad command line
        status = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 125
    Output.flush_quietly()
    lost = Output.lost
    if lost is not None and lost.errno != errno.EPIPE:
        say(f"cannot write the output: {lost.strerror}")
    sys.stderr.flush()
    if fast:
        os._exit(status)
    sys.exit(status)


# --- the command line ------------------------------------------------------------------


def parser(**kwargs):
    """An argparse parser whose errors are one line and docker run's 125, and whose type
    functions may raise UsageError (argparse is imported here: ~12 ms)."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:
            self.exit(125, f"{self.prog}: {message} (see --help)\n")

        def add_argument(self, *args, **kw):
            if "type" in kw:
                kw["type"] = checked(kw["type"], argparse.ArgumentTypeError)
            return super().add_argument(*args, **kw)

    kwargs.setdefault("prog", PROG)
    kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
    made = Parser(**kwargs)
    made.Parser = Parser  # for add_subparsers(parser_class=...)
    return made


def checked(convert, error: type[Exception]):
    def converted(text: str):
        try:
            return convert(text)
        except UsageError as exc:
            raise error(str(exc)) from None

    return converted


UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}


def size(text: str) -> int:
    """--memory: '64M' -> bytes (K, M or G, an optional B), as docker run reads it."""
    number = text.strip().upper().removesuffix("B")
    unit = number[-1:] if number[-1:] in ("K", "M", "G") else ""
    digits = number[: len(number) - len(unit)]
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 15 or int(digits) == 0:
        raise UsageError(f"{text!r} is not a size like 64M or 1G")
    if int(digits) * UNITS[unit] < 6 * 2**20:
        raise UsageError(f"{text!r} is less than 6M, docker run's minimum (a process needs it)")
    if int(digits) * UNITS[unit] > 2**50:
        raise UsageError(f"{text!r} is more than any machine has (1 PiB)")
    return int(digits) * UNITS[unit]


def pids_limit(text: str) -> int:
    return whole_number(text, "a whole number")


def process_id(text: str) -> int:
    return whole_number(text, "a process ID (a whole number")


def whole_number(text: str, what: str) -> int:
    """1 to MAX_PIDS, of ASCII digits only."""
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or not 1 <= int(digits) <= MAX_PIDS:
        close = ")" if "(" in what else ""
        raise UsageError(f"{text!r} is not {what} from 1 to {MAX_PIDS}{close}")
    return int(digits)


def decimal(text: str, low: float, high: float, what: str) -> float:
    """float(), of ASCII only (float() also reads '١٢', Arabic-Indic digits, and '1_0'),
    from low to high; nan and inf are refused."""
    try:
        value = float(text) if text.isascii() and "_" not in text else float("nan")
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # false for nan, too
        raise UsageError(f"{text!r} is not {what}")
    return value


def cpus(text: str) -> float:
    """--cpus: CPUs' worth of time, from 0.01 to the CPUs there are (docker's range)."""
    most = os.cpu_count() or 1
    return decimal(text, 0.01, most, f"a number of CPUs from 0.01 to {most}")


def seconds(text: str) -> float:
    value = decimal(text, 0, 7 * 86400, "a number of seconds from 0 to 604800 (a week)")
    if value == 0:
        raise UsageError(f"{text!r} is not a number of seconds from 0 to 604800 (a week)")
    return value


def hostname(text: str) -> str:
    try:
        length = len(text.encode())
    except UnicodeEncodeError:  # bytes that are not UTF-8, passed on by the shell as they were
        raise UsageError(f"{text!r} is not UTF-8 text; give a host name such as box") from None
    if not 0 < length <= HOST_NAME_MAX:
        raise UsageError(f"{text!r} is not a host name of 1 to {HOST_NAME_MAX} characters")
    return text


def absolute(path: str) -> str:
    try:
        return os.path.abspath(path)
    except FileNotFoundError:  # from os.getcwd(), without a file name
        raise UsageError(f"cannot find {path}: the working directory was deleted") from None
