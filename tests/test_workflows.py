"""What our GitHub workflows promise, checked without GitHub.

tests/test_lint.py runs actionlint and the workflow schema over them; this file
checks our own rules: third-party actions pinned by commit, write permissions
only in the jobs that use them, the image tests each build job names exist, and
every docs block that needs something only a GitHub job has (data-ci="apptainer",
"kubernetes", "ghcr", "arm64") is selected by a job that provides it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from conftest import GITHUB_ONLY, ROOT
from markdown_blocks import find_blocks

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")
PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def jobs() -> list[tuple[str, str, dict]]:
    return [(wf.name, name, job) for wf in WORKFLOWS for name, job in load(wf)["jobs"].items()]


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def job_id(item: tuple[str, str, dict]) -> str:
    return f"{item[0]}:{item[1]}"


def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} >= {"tests.yml", "images.yml", "docs.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_commit_with_their_version(workflow: Path):
    """A tag can be moved to other code; a commit cannot. The comment says which
    release the commit is, for people and for Dependabot."""
    found = 0
    for number, line in enumerate(workflow.read_text().splitlines(), 1):
        m = USES.match(line)
        if not m or m[1].startswith(("./", "docker://")):
            continue
        found += 1
        assert PINNED.fullmatch(m[1]), f"{workflow.name}:{number}: {m[1]} is not pinned by commit"
        assert re.search(r"#\s*v\d", m[2]), f"{workflow.name}:{number}: no # vX.Y comment"
    assert found


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_default_is_read_only(workflow: Path):
    assert load(workflow)["permissions"] == {"contents": "read"}


# What a job must do to be given each write permission.
NEEDS = {
    "packages": lambda s: "docker/login-action" in s.get("uses", ""),
    "id-token": lambda s: s.get("uses", "").startswith(("actions/attest-", "actions/deploy-pages")),
    "attestations": lambda s: s.get("uses", "").startswith("actions/attest-"),
    "pages": lambda s: s.get("uses", "").startswith("actions/deploy-pages"),
}


@pytest.mark.parametrize("item", jobs(), ids=job_id)
def test_write_permissions_only_where_used(item: tuple[str, str, dict]):
    _, _, job = item
    for scope, level in job.get("permissions", {}).items():
        if level == "write":
            assert scope in NEEDS, f"write access to {scope}: add what justifies it to NEEDS"
            assert any(NEEDS[scope](s) for s in steps(job)), f"{scope}: write, never used"


def test_pushing_jobs_have_packages_write_and_the_rest_do_not():
    for wf, name, job in jobs():
        pushes = any(
            "push-by-digest=true" in str(s.get("with", {}).get("outputs", ""))
            or "imagetools create" in s.get("run", "")
            for s in steps(job)
        )
        writes = job.get("permissions", {}).get("packages") == "write"
        assert pushes == writes, f"{wf}:{name}: pushes={pushes}, packages: write={writes}"


def image_builds() -> list[dict]:
    build = load(ROOT / ".github" / "workflows" / "images.yml")["jobs"]["build"]
    return build["strategy"]["matrix"]["include"]


def test_each_image_build_names_its_context_and_tests():
    builds = image_builds()
    assert {b["image"] for b in builds} == {"ds-python", "ds-rstudio", "analysis"}
    for b in builds:
        assert (ROOT / b["context"] / "Dockerfile").is_file(), b
        assert (ROOT / b["tests"]).is_file(), b


def test_images_are_built_on_both_architectures_natively():
    build = load(ROOT / ".github" / "workflows" / "images.yml")["jobs"]["build"]
    assert build["strategy"]["matrix"]["arch"] == ["amd64", "arm64"]
    assert "ubuntu-24.04-arm" in build["runs-on"] and "ubuntu-24.04" in build["runs-on"]
    assert not any("setup-qemu" in s.get("uses", "") for s in steps(build))


# --- docs blocks that only GitHub jobs can run ---------------------------------------


def pytest_runs(job: dict) -> list[tuple[set[str], list[str]]]:
    """(the kinds RUN_KINDS may name, the pytest arguments) of each step running pytest."""
    runs = []
    for step in steps(job):
        script = step.get("run", "").replace("\\\n", " ")
        kinds = set(re.findall(r"[a-z0-9]+", str(step.get("env", {}).get("RUN_KINDS", ""))))
        for line in script.splitlines():
            if " pytest " in f" {line} " or "-m pytest" in line:
                runs.append((kinds, shlex.split(line, comments=True)))
    return runs


def selects(args: list[str], test_id: str, kind: str) -> bool:
    """Whether `pytest <args>` runs the docs test with this id (file and -k/-m only)."""
    args = args[args.index("pytest") + 1 :] if "pytest" in args else args
    files = [a for a in args if a.startswith("tests/")]
    if files and "tests/test_docs.py" not in files:
        return False
    if "-m" in args and args[args.index("-m") + 1] != kind:
        return False
    if "-k" in args:
        terms = [t.strip() for t in args[args.index("-k") + 1].split(" or ")]
        return any(t in test_id for t in terms)
    return True


def elsewhere_blocks() -> list[tuple[str, str]]:
    blocks = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for b in find_blocks(page):
            for kind in sorted(b.kinds & set(GITHUB_ONLY)):
                blocks.append((f"{page.relative_to(ROOT).as_posix()}:{b.line}", kind))
    return blocks


def test_my_pages_have_github_only_blocks():
    kinds = {kind for _, kind in elsewhere_blocks()}
    assert {"apptainer", "kubernetes", "ghcr"} <= kinds


@pytest.mark.parametrize("block, kind", elsewhere_blocks(), ids=lambda x: str(x))
def test_a_github_job_runs_the_block(block: str, kind: str):
    runners = [
        job_id(item)
        for item in jobs()
        for kinds, args in pytest_runs(item[2])
        if kind in kinds and selects(args, block, kind)
    ]
    assert runners, f"{block} needs {kind}: no workflow job sets RUN_KINDS={kind} and selects it"


def test_the_selection_check_can_fail():
    args = shlex.split("python -m pytest tests/test_docs.py -n0 -k 'sharing/hpc or test_hpc'")
    assert selects(args, "docs/sharing/hpc.md:33", "apptainer")
    assert not selects(args, "docs/sharing/kubernetes.md:40", "kubernetes")
    assert not selects(["pytest", "tests/test_hpc.py"], "docs/sharing/hpc.md:33", "apptainer")
    assert not selects(["pytest", "-m", "arm64"], "docs/x.md:1", "ghcr")
