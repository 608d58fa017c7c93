"""Find the fenced code blocks of the docs and run the shell ones.

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

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# `{.console data-ci="root" title="x"}` or `console title="x"`
HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?\s*$")
ATTR = re.compile(r'([\w-]+)="([^"]*)"')

# What a fence may ask for (data-ci="..."), and what it means (tests/conftest.py KINDS).
# Run on this project's own CI machine (.ci/run):
HERE_KINDS = {"root", "docker", "podman"}
# Run only on GitHub's runners (privileged: our engine refuses it; the others in a job
# that provides them), or nowhere (gpu); every block that asks for one is listed with
# its reason in tests/not_run_by_ci.yaml.
ELSEWHERE_KINDS = {"dockerhub", "privileged", "apptainer", "kubernetes", "ghcr", "arm64", "gpu"}
CI_KINDS = HERE_KINDS | ELSEWHERE_KINDS


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
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
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
