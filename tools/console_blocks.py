"""The fenced code blocks of the docs, and the commands of the console ones.

One parser for both of its users: the tests, which run each command and compare its
output (tests/site/test_docs.py), and the site build, whose copy button copies the
same commands (tools/hooks/console_copy.py).

Kept small on purpose (pytest-examples does Python; nothing maintained runs
`console` blocks *and* compares their output, see docs/about/contributing.md).

A shell block is ```console with `$ command` lines, each followed by the output
the page shows. A line `...` in the output stands for any number of lines and
`...` inside a line for any text; nothing else is normalised.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from ci_kinds import PAGE_KINDS

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# `{.console data-ci="root" title="x"}` or `console title="x"`
HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?\s*$")
ATTR = re.compile(r'([\w-]+)="([^"]*)"')

# What a fence may ask for (data-ci="..."): tools/ci_kinds.py.
CI_KINDS = PAGE_KINDS


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    attrs: dict[str, str]
    source: str
    ci: str | None = field(init=False)

    def __post_init__(self) -> None:
        self.ci = self.attrs.get("data-ci")

    @property
    def kinds(self) -> set[str]:
        """What the block needs: data-ci="root", or several, data-ci="dockerhub root"."""
        return set(self.ci.split()) if self.ci else set()

    @property
    def is_include(self) -> bool:
        """A block that only pulls in a real file through pymdownx.snippets."""
        lines = [ln for ln in self.source.splitlines() if ln.strip()]
        return bool(lines) and all(ln.strip().startswith("--8<--") for ln in lines)

    def __str__(self) -> str:
        return f"{self.path.as_posix()}:{self.line}"


def parse_info(info: str) -> tuple[str, dict[str, str]]:
    info = info.strip()
    attrs = dict(ATTR.findall(info))
    if info.startswith("{"):
        classes = re.findall(r"(?:^|\s)\.([\w+-]+)", info.strip("{}"))
        lang = classes[0] if classes else ""
    else:
        lang = info.split()[0] if info else ""
    return lang, attrs


def find_blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file, also those indented in admonitions and tabs."""
    return find_blocks_in(path.read_text(encoding="utf-8"), path)


def find_blocks_in(text: str, path: Path) -> list[Block]:
    """find_blocks of a page's text (`path` names it in messages)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = len(m["indent"]), m["fence"]
        if fence[0] == "`" and "`" in m["info"]:  # CommonMark: inline code, not a fence
            i += 1
            continue
        lang, attrs = parse_info(m["info"])
        body: list[str] = []
        j = i + 1
        closer = re.compile(rf"^ {{{indent}}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        while j < len(lines) and not closer.match(lines[j]):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        if j == len(lines):
            raise ValueError(f"{path}:{i + 1}: code fence is never closed")
        blocks.append(Block(path, i + 1, lang, attrs, "\n".join(body)))
        i = j + 1
    return blocks


@dataclass
class Command:
    command: str
    expected: list[str]


def complete(command: str) -> bool:
    """False while a quote is still open (the shell would show its `>` prompt)."""
    try:
        shlex.split(command.split("<<")[0] if "<<" in command else command, comments=True)
    except ValueError:
        return False
    return True


def parse_console(source: str) -> list[Command]:
    """Split a console block into commands (with `\\` continuations) and their output."""
    commands: list[Command] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            if not commands:
                raise ValueError(f"output before the first `$ ` command: {line!r}")
            commands[-1].expected.append(line)
            i += 1
            continue
        cmd = [line[2:]]
        # A command goes on after a trailing backslash or inside an open quote.
        while (cmd[-1].endswith("\\") or not complete("\n".join(cmd))) and i + 1 < len(lines):
            i += 1
            cmd.append(lines[i])
        if heredoc := HEREDOC.search(cmd[-1]):  # `cat > f <<'EOF'`: its lines are input
            while i + 1 < len(lines) and cmd[-1] != heredoc[1]:
                i += 1
                cmd.append(lines[i])
        commands.append(Command("\n".join(cmd), []))
        i += 1
    return commands


def output_pattern(expected: list[str]) -> re.Pattern[str]:
    parts = []
    for line in expected:
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            text = re.escape(line.rstrip()).replace(r"\.\.\.", ".*?")
            parts.append(text + r"[ \t]*\n")
    return re.compile("".join(parts), re.DOTALL)


def output_matches(expected: list[str], actual: str) -> bool:
    actual = "\n".join(ln.rstrip() for ln in actual.splitlines())
    actual = actual + "\n" if actual else ""
    return output_pattern(expected).fullmatch(actual) is not None


def strip_sudo(command: str) -> str:
    """`sudo cmd` is what a reader types; a root test runs `cmd` (sudo may not exist)."""
    words = shlex.split(command, posix=True) if command.startswith("sudo ") else []
    return command[len("sudo ") :] if words and words[0] == "sudo" else command


def console_blocks(path: Path) -> list[Block]:
    """The ```console blocks of a page that run (includes of real files do not)."""
    return [b for b in find_blocks(path) if b.lang == "console" and not b.is_include]


# Kinds that only a Docker reader's blocks have.
DOCKER_ONLY = {"docker", "buildx", "compose", "privileged"}


def walks(path: Path) -> dict[str, list[Block]]:
    """The paths a reader takes through a page, each its console blocks in order.

    "docker": every block but the Podman ones; "podman", on a page that has Podman
    blocks: every block but the Docker ones, those that need Docker itself or one of
    its plugins (a Podman reader skips the Docker tabs)."""
    blocks = console_blocks(path)
    found = {}
    if main := [b for b in blocks if "podman" not in b.kinds]:
        found["docker"] = main
    if any("podman" in b.kinds for b in blocks):
        found["podman"] = [b for b in blocks if not b.kinds & DOCKER_ONLY]
    return found
