"""Tests of the small collector in tools/console_blocks.py: it is code too."""

from pathlib import Path

import pytest
from console_blocks import (
    find_blocks,
    output_matches,
    parse_console,
    parse_info,
    strip_sudo,
    walks,
)


def test_parse_info_plain_and_braces():
    assert parse_info("console") == ("console", {})
    assert parse_info('{.console data-ci="root" title="A b"}') == (
        "console",
        {"data-ci": "root", "title": "A b"},
    )
    assert parse_info('python title="x.py"') == ("python", {"title": "x.py"})


def test_find_blocks_in_admonitions_and_tabs(tmp_path: Path):
    page = tmp_path / "p.md"
    page.write_text(
        "text\n\n"
        "```console\n$ echo a\na\n```\n\n"
        '!!! note\n\n    ```{.console data-ci="root"}\n    $ id -u\n    0\n    ```\n\n'
        "````markdown\n```python\nnot a block\n```\n````\n"
        "```` ```python ```` is inline code, not a fence\n"
    )
    blocks = find_blocks(page)
    assert [(b.line, b.lang, b.ci) for b in blocks] == [
        (3, "console", None),
        (10, "console", "root"),
        (15, "markdown", None),
    ]
    assert blocks[1].source == "$ id -u\n0"


def test_unclosed_fence_is_an_error(tmp_path: Path):
    page = tmp_path / "p.md"
    page.write_text("```console\n$ echo a\n")
    with pytest.raises(ValueError, match="never closed"):
        find_blocks(page)


def test_parse_console_continuations_and_output():
    cmds = parse_console("$ echo a \\\n  b\na b\n$ true")
    assert [(c.command, c.expected) for c in cmds] == [("echo a \\\n  b", ["a b"]), ("true", [])]
    with pytest.raises(ValueError):
        parse_console("stray output\n$ true")


def test_parse_console_open_quote_continues():
    cmds = parse_console("$ bash -c 'echo a;\n    echo b'\na\nb")
    expected = [("bash -c 'echo a;\n    echo b'", ["a", "b"])]
    assert [(c.command, c.expected) for c in cmds] == expected


def test_parse_console_heredoc_is_part_of_the_command():
    cmds = parse_console("$ cat > f.py <<'PY'\nprint(1)\nPY\n$ python3 f.py\n1")
    assert [(c.command, c.expected) for c in cmds] == [
        ("cat > f.py <<'PY'\nprint(1)\nPY", []),
        ("python3 f.py", ["1"]),
    ]


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        (["a", "b"], "a\nb\n", True),
        (["a", "b"], "a\nc\n", False),
        (["a"], "a\nb\n", False),  # extra output is a mismatch
        (["a", "...", "z"], "a\nb\nc\nz\n", True),
        (["a", "...", "z"], "a\nz\n", True),
        (["pid ... done"], "pid 4242 done\n", True),
        (["pid ... done"], "pid 4242 failed\n", False),
        ([], "", True),
        ([], "noise\n", False),
    ],
)
def test_output_matching(expected, actual, ok):
    assert output_matches(expected, actual) is ok


def test_strip_sudo():
    assert strip_sudo("sudo chroot box /bin/sh") == "chroot box /bin/sh"
    assert strip_sudo("sudoku") == "sudoku"
    assert strip_sudo("echo sudo") == "echo sudo"


def test_a_podman_reader_skips_every_docker_tab(tmp_path: Path):
    """A Docker tab's block needs Docker, or one of its plugins: none of them is in the
    Podman path, and the Podman blocks are in no Docker path."""
    page = tmp_path / "p.md"
    page.write_text(
        "```console\n$ cd here\n```\n\n"
        '```{.console data-ci="compose"}\n$ docker compose up -d\n```\n\n'
        '```{.console data-ci="docker dockerhub"}\n$ docker pull x\n```\n\n'
        '```{.console data-ci="podman"}\n$ podman-compose up -d\n```\n'
    )
    paths = walks(page)
    assert [b.line for b in paths["docker"]] == [1, 5, 9]
    assert [b.line for b in paths["podman"]] == [1, 13]
