"""The pages of the learning path teach the same way: what you will learn and how long it
takes first, exercises whose solutions are commands the tests run, key points at the end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from console_blocks import Block, find_blocks, parse_console
from site_helpers import DOCS

# Getting started, Your own project, Share and scale: one folder each
# (test_site.py's test_the_docs_tree_mirrors_the_navigation).
PATH_FOLDERS = ("start", "project", "sharing")
PAGES = sorted(p for folder in PATH_FOLDERS for p in (DOCS / folder).glob("*.md"))

OBJECTIVES = re.compile(r'^!!! abstract "What you will learn · about \d+ minutes"$')
KEY_POINTS = '!!! success "Key points"'
EXERCISE = re.compile(r'^!!! question "Exercise: .+"$')
SOLUTION = '    ??? success "Solution"'


def test_the_path_has_its_pages():
    assert len(PAGES) >= 12, [p.name for p in PAGES]


def section(lines: list[str], start: int) -> range:
    """The lines of the admonition that opens at `start`: up to the next line that is not
    blank and not indented."""
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(" ")):
        end += 1
    return range(start, end)


def solution_blocks(page: Path) -> list[tuple[int, list[Block]]]:
    """For each exercise of a page (its line), the code blocks of its solution."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks = find_blocks(page)
    found = []
    for start in (i for i, line in enumerate(lines) if EXERCISE.match(line)):
        exercise = section(lines, start)
        solution = [i for i in exercise if lines[i] == SOLUTION]
        assert len(solution) == 1, f"{page}:{start + 1}: an exercise has one collapsed solution"
        found.append((start + 1, [b for b in blocks if solution[0] < b.line <= exercise[-1] + 1]))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_a_page_opens_with_its_objectives_and_ends_with_key_points(page: Path):
    lines = page.read_text(encoding="utf-8").splitlines()
    first_section = next(i for i, line in enumerate(lines) if line.startswith("## "))
    objectives = [i for i, line in enumerate(lines) if OBJECTIVES.match(line)]
    assert len(objectives) == 1 and objectives[0] < first_section, (
        "one 'What you will learn · about N minutes' box, before the first section")
    key_points = [i for i, line in enumerate(lines) if line == KEY_POINTS]
    exercises = [i for i, line in enumerate(lines) if EXERCISE.match(line)]
    assert exercises, "at least one exercise"
    assert len(key_points) == 1 and key_points[0] > max(exercises), (
        "one 'Key points' box, after the last exercise")
    assert len(section(lines, key_points[0])) > 2, "the key points box has its points"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_each_solution_is_commands_whose_output_the_tests_check(page: Path):
    """The solution's code is console blocks (tests/site/test_docs.py runs those in the
    page's walk), none of a kind no CI machine has, and at least one command of each
    solution has its output written under it (more than `...`), so the walk checks it."""
    for line, blocks in solution_blocks(page):
        where = f"{page.relative_to(DOCS)}:{line}"
        assert blocks, f"{where}: the solution shows what to run"
        assert {b.lang for b in blocks} <= {"console"}, f"{where}: only console blocks run"
        assert all("gpu" not in b.kinds for b in blocks), f"{where}: no CI machine runs it"
        checked = [c for b in blocks for c in parse_console(b.source)
                   if any(line.strip() not in ("", "...") for line in c.expected)]
        assert checked, f"{where}: no command of the solution has its output checked"
