"""The reader's walk: a page run the way a reader runs it.

One bash session per page and per path (tools/console_blocks.walks: the Docker path,
and the Podman path on pages that have Podman blocks), its blocks in page order,
starting in the top folder of a fresh copy of this repository, as a normal user
(plugins/skip_policy.reader_user: in the docker group for Docker; `sudo` only where
the page writes it). Variables and the working directory carry from block to block,
as in one terminal. A command that fails ends the walk there, as it would stop a
reader. A block the machine cannot run (Docker Hub here, say) is left out, and the
walk goes on without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from console_blocks import Block, output_matches, parse_console
from plugins.skip_policy import (
    as_reader,
    need_problem,
    reader_env,
    reader_need_problem,
    reader_user,
)

ROOT = Path(__file__).resolve().parents[2]
WALK_TIMEOUT = 1800  # seconds, a whole page


def block_problem(block: Block) -> str | None:
    """Why this machine cannot run the block as the reader, or None."""
    for kind in sorted(block.kinds):
        if problem := need_problem(kind) or reader_need_problem(kind):
            return problem
    return None


@dataclass
class Ran:
    """What one command of the walk printed, and its exit status."""

    command: str
    expected: list[str]
    output: str
    status: int


@dataclass
class Walked:
    """One path of a page: each block's result, by its line on the page, and what the
    walk left different in the clone (new files, changed or deleted ones)."""

    blocks: dict[int, BlockResult]
    left_behind: list[str]
    completed: bool  # every command the walk ran exited 0


@dataclass
class BlockResult:
    left_out: str | None = None  # why the walk did not run this block
    not_reached: str | None = None  # an earlier command failed and ended the walk
    ran: list[Ran] = field(default_factory=list)


def fresh_copy(into: Path) -> Path:
    """The repository as a reader's clone has it: the files git tracks (and new ones it
    would add), in a folder called docker-basics."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    top = into / "docker-basics"
    for name in filter(None, files):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, not yet in git
        target = top / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return top


def snapshot(top: Path) -> dict[str, str]:
    """Every file under the clone, with a digest of its content (or why not). Python's
    byte-code caches do not count: git ignores them, and so does a reader."""
    files = {}
    for path in top.rglob("*"):
        if (path.is_dir() and not path.is_symlink()) or "__pycache__" in path.parts:
            continue
        name = path.relative_to(top).as_posix()
        try:
            files[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() \
                else f"-> {os.readlink(path)}"
        except OSError as e:
            files[name] = f"unreadable: {e.strerror}"
    return files


def differences(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted([f"new: {n}" for n in after.keys() - before.keys()]
                  + [f"deleted: {n}" for n in before.keys() - after.keys()]
                  + [f"changed: {n}" for n in before.keys() & after.keys()
                     if before[n] != after[n]])


def chown_tree(folder: Path, uid: int, gid: int) -> None:
    for path in [folder, *folder.rglob("*")]:
        os.lchown(path, uid, gid)


@contextlib.contextmanager
def sudo_granted() -> Iterator[None]:
    """As root, for a reader who called us through sudo (so may use sudo anyway) but
    whose sudo asks a password, which a walk cannot type: no password for the walk's
    duration, in a sudoers file of our own that is removed afterwards."""
    user = reader_user()
    probe = subprocess.run([*as_reader(), "sudo", "-n", "true"], capture_output=True,
                           env=reader_env(), cwd="/", timeout=30)
    if os.geteuid() != 0 or user is None or probe.returncode == 0:
        yield
        return
    grant = Path(tempfile.mkstemp(prefix="docker-basics-walk-", dir="/etc/sudoers.d")[1])
    try:
        grant.write_text(f"{user.pw_name} ALL=(ALL) NOPASSWD: ALL\n")
        grant.chmod(0o440)
        yield
    finally:
        grant.unlink(missing_ok=True)


def script_of(blocks: list[Block], results: dict[int, BlockResult]) -> str:
    """One bash script for the whole walk. Each command is followed by a marker with its
    exit status; a command that fails ends the script, as it stops a reader."""
    lines = ["exec 2>&1 </dev/null"]
    for b, block in enumerate(blocks):
        if results[block.line].left_out:
            continue
        for c, command in enumerate(parse_console(block.source)):
            lines += [f"printf '\\n@@cmd {b}.{c}@@\\n'", command.command,
                      f"__rc=$?; printf '\\n@@rc {b}.{c} %s@@\\n' $__rc; "
                      "[ $__rc -eq 0 ] || exit 0"]
    return "\n".join(lines) + "\n"


def parse_output(out: str, blocks: list[Block], results: dict[int, BlockResult]) -> None:
    stopped = None
    for b, block in enumerate(blocks):
        result = results[block.line]
        if result.left_out:
            continue
        for c, command in enumerate(parse_console(block.source)):
            if stopped:
                result.not_reached = stopped
                break
            start_marker, end_marker = f"\n@@cmd {b}.{c}@@\n", f"\n@@rc {b}.{c} "
            start = out.find(start_marker)
            if start < 0:
                result.not_reached = "the walk ended before it (killed, or timed out)"
                stopped = result.not_reached
                break
            start += len(start_marker)
            end = out.find(end_marker, start)
            status = int(out[end + len(end_marker):].split("@@", 1)[0]) if end >= 0 else -1
            result.ran.append(Ran(command.command, command.expected,
                                  out[start:end if end >= 0 else None], status))
            if status != 0:
                stopped = (f"the walk stopped at {block} (`{command.command}` exited "
                           f"{status})")


def remove_walk(folder: Path, podman: dict | None, cleaner_image: str | None) -> None:
    """Files a container wrote as root (Docker) or as a subordinate id (rootless
    Podman) may be beyond our reach as a normal user: remove those with their engine."""
    shutil.rmtree(folder, ignore_errors=True)
    if not folder.exists():
        return
    if podman:
        subprocess.run([*podman["as_user"], "podman", "unshare", "rm", "-rf", str(folder)],
                       env={**os.environ, **podman["env"]}, cwd="/", capture_output=True,
                       timeout=300)
    elif cleaner_image and shutil.which("docker"):
        subprocess.run(["docker", "run", "--rm", "--network", "none", "-v",
                        f"{folder}:/walk", "--entrypoint", "rm", cleaner_image, "-rf",
                        "/walk/docker-basics"], capture_output=True, timeout=300)
    shutil.rmtree(folder, ignore_errors=True)


def walk(blocks: list[Block], podman: dict | None = None, cleaner_image: str | None = None,
         edit: Callable[[str], str] | None = None) -> Walked:
    """Run one path of a page: the result of each block, and what it left behind.

    `edit`, for tests of the tests, changes each command before it runs (to break
    a page on purpose and see its checks fail)."""
    results = {b.line: BlockResult(left_out=block_problem(b)) for b in blocks}
    if edit:
        blocks = [Block(b.path, b.line, b.lang, b.attrs, edit(b.source)) for b in blocks]
    user = reader_user()
    assert user is not None
    folder = Path(tempfile.mkdtemp(prefix="docker-basics-walk-"))
    try:
        folder.chmod(0o755)
        top = fresh_copy(folder)
        before = snapshot(top)
        # The docker command the suite uses is the reader's too (on our CI machine
        # Debian's, which has BuildKit built in).
        bin_dir = folder / "bin"
        bin_dir.mkdir()
        if docker := shutil.which("docker"):
            (bin_dir / "docker").symlink_to(os.path.realpath(docker))
        if os.geteuid() == 0 and user.pw_uid != 0:
            chown_tree(folder, user.pw_uid, user.pw_gid)
        env = reader_env()
        env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
        # A login gives each user a runtime folder of their own (pam_systemd); tools
        # such as skopeo and podman keep their state there, and fall back to a shared
        # /run/containers that root may have made first.
        runtime = folder / "xdg-run"
        runtime.mkdir(mode=0o700)
        if os.geteuid() == 0 and user.pw_uid != 0:
            os.chown(runtime, user.pw_uid, user.pw_gid)
        env["XDG_RUNTIME_DIR"] = str(runtime)
        if podman:
            env.update(podman["env"])
        script = script_of(blocks, results)
        with sudo_granted(), tempfile.TemporaryFile("w+") as log:
            # Output goes to a file, not a pipe: a command the page leaves in the
            # background (`cmd &`) would hold a pipe open. Whatever is left when bash
            # ends is killed.
            proc = subprocess.Popen([*as_reader(), "bash", "-c", script], cwd=top, env=env,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                proc.wait(timeout=WALK_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            log.seek(0)
            parse_output(log.read(), blocks, results)
        left_behind = differences(before, snapshot(top))
    finally:
        remove_walk(folder, podman, cleaner_image)
    completed = all(r.ran and r.ran[-1].status == 0 for r in results.values() if not r.left_out)
    return Walked(results, left_behind, completed)


def first_failure(blocks: list[Block], results: dict[int, BlockResult]) -> tuple[int, str] | None:
    """(line of the block, what went wrong) of the first block whose command failed,
    printed something else than the page shows, or did not run; None if all passed.
    For tests of the tests: break a page on purpose and see which check catches it."""
    for block in blocks:
        result = results[block.line]
        for ran in result.ran:
            if ran.status != 0 or not output_matches(ran.expected, ran.output):
                return block.line, ran.command
        if result.not_reached or result.left_out or not result.ran:
            return block.line, result.not_reached or result.left_out or "nothing ran"
    return None


def describe(command: str) -> str:
    return shlex.quote(command) if "\n" in command else f"`{command}`"
