"""What our GitHub workflows promise, checked without GitHub.

tests/test_lint.py runs actionlint and the workflow schema over them; this file
checks our own rules: every action pinned to the commit in one table
(action_pins.yaml), write permissions only in the jobs and events that push, no
token left in a checkout, nothing after a failure, the Dockerfiles' labels kept,
the same linters as here, and every docs block that needs something only a GitHub
job has (data-ci="apptainer", "kubernetes", "ghcr", "arm64") selected by a job
that provides it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from ci_kinds import JOB_KINDS
from conftest import ROOT
from console_blocks import find_blocks

GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
PINS_FILE = Path(__file__).with_name("action_pins.yaml")
PINS = yaml.safe_load(PINS_FILE.read_text())
DOCS_TEST = next(ROOT.glob("tests/**/test_docs.py")).relative_to(ROOT).as_posix()
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict) -> dict:
    # PyYAML reads the key `on` as True.
    return workflow.get("on", workflow.get(True)) or {}


def reusable(path: Path) -> bool:
    return set(triggers(load(path))) == {"workflow_call"}


def jobs() -> list[tuple[str, str, dict]]:
    return [(wf.name, name, job) for wf in WORKFLOWS for name, job in load(wf)["jobs"].items()]


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def job_id(item: tuple[str, str, dict]) -> str:
    return f"{item[0]}:{item[1]}"


def called(job: dict) -> Path | None:
    """The local workflow a job calls (`uses: ./.github/workflows/x.yml`), if any."""
    return ROOT / job["uses"].removeprefix("./") if "uses" in job else None


def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} >= {"tests.yml", "images.yml", "docs.yml"}


# --- every action pinned to the commit in action_pins.yaml ----------------------------


def pin_problems(text: str, where: str, pins: list[dict], used: set[str]) -> list[str]:
    """What is wrong with the `uses:` lines of one file, given the table of pins."""
    rows = {row["action"]: row for row in pins}
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        m = USES.match(line)
        if not m or m[1].startswith(("./", "docker://")):
            continue
        action, _, ref = m[1].partition("@")
        repo = "/".join(action.split("/")[:2])  # owner/name of owner/name/sub/path
        comment = re.search(r"#\s*(v\S+)", m[2])
        row = rows.get(action) or rows.get(repo)
        if row is None:
            problems.append(f"{where}:{number}: {action} has no row in {PINS_FILE.name}")
            continue
        used.add(row["action"])
        if ref != row["sha"] or not comment or comment[1] != row["tag"]:
            problems.append(
                f"{where}:{number}: {m[1]}{m[2]} is not {row['sha']}  # {row['tag']} as in "
                f"{PINS_FILE.name}. A Dependabot bump? Check the new commit in the action's "
                "own repository (how: the table's header), then update its row.")
    return problems


def test_pins_table_rows_are_complete():
    assert PINS, "no pins"
    for row in PINS:
        assert set(row) == {"action", "tag", "sha", "runtime", "checked"}, row
        assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w./-]+)?", row["action"]), row
        assert re.fullmatch(r"v\d+(\.\d+)*", row["tag"]), row
        assert re.fullmatch(r"[0-9a-f]{40}", row["sha"]), row
        # Node 20 has left GitHub's runners.
        assert row["runtime"] in {"node24", "composite", "docker"}, row
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(row["checked"])), row
    names = [row["action"] for row in PINS]
    assert len(names) == len(set(names)), "an action has two rows"


def test_every_uses_is_a_row_of_the_pins_table_and_every_row_is_used():
    used: set[str] = set()
    problems = []
    files = sorted(p for p in GITHUB.rglob("*") if p.suffix in (".yml", ".yaml"))
    for path in files:
        problems += pin_problems(path.read_text(), path.relative_to(ROOT).as_posix(), PINS, used)
    assert not problems, "\n".join(problems)
    unused = {row["action"] for row in PINS} - used
    assert not unused, f"rows of {PINS_FILE.name} that nothing uses: {sorted(unused)}"


def test_the_pin_check_can_fail():
    pins = [{"action": "o/a", "tag": "v1.2.0", "sha": "a" * 40}]
    good = f"      - uses: o/a@{'a' * 40}  # v1.2.0"

    def check(line: str) -> list[str]:
        return pin_problems(line, "x.yml", pins, set())

    assert check(good) == []
    assert check(f"  - uses: o/a/sub@{'a' * 40}  # v1.2.0") == []
    assert check(good.replace("a" * 40, "b" * 40))  # another commit (Dependabot's bump)
    assert check(good.replace("v1.2.0", "v1.3.0"))  # the comment names another tag
    assert check(f"  - uses: o/a@{'a' * 40}")  # no tag in a comment
    assert check("  - uses: o/a@v1")  # a tag, which can move
    assert check(f"  - uses: o/b@{'a' * 40}  # v1.2.0")  # not in the table
    assert check("  - uses: ./.github/workflows/x.yml") == []


def test_dependabot_bumps_the_actions():
    """Its pull requests then fail test_every_uses_is_a_row... until the row is updated."""
    updates = load(GITHUB / "dependabot.yml")["updates"]
    assert any(u["package-ecosystem"] == "github-actions" and u.get("directory") == "/"
               for u in updates)


# --- permissions and the token ----------------------------------------------------------


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_default_is_read_only(workflow: Path):
    if reusable(workflow):
        # Its caller's job decides: a `permissions` here could only take away.
        assert "permissions" not in load(workflow)
        assert not any("permissions" in job for job in load(workflow)["jobs"].values())
    else:
        assert load(workflow)["permissions"] == {"contents": "read"}


# What a job must do to be given each write permission.
NEEDS = {
    "packages": lambda s: "docker/login-action" in s.get("uses", ""),
    "id-token": lambda s: s.get("uses", "").startswith(("actions/attest-", "actions/deploy-pages")),
    "attestations": lambda s: s.get("uses", "").startswith("actions/attest-"),
    "pages": lambda s: s.get("uses", "").startswith("actions/deploy-pages"),
    "contents": lambda s: "gh release create" in s.get("run", ""),
}


def pushes(step: dict) -> bool:
    return ("push-by-digest=true" in str(step.get("with", {}).get("outputs", ""))
            or "imagetools create" in step.get("run", ""))


def effective_steps(job: dict) -> list[dict]:
    """A job's steps; for a job that calls a workflow with push: false, the called
    workflow's steps that run then (those without `if: inputs.push`)."""
    if (path := called(job)) is None:
        return steps(job)
    push = job.get("with", {}).get("push", False)
    return [s for w in load(path)["jobs"].values() for s in steps(w)
            if push or "inputs.push" not in str(s.get("if", ""))]


@pytest.mark.parametrize("item", jobs(), ids=job_id)
def test_write_permissions_only_where_used(item: tuple[str, str, dict]):
    _, _, job = item
    for scope, level in job.get("permissions", {}).items():
        if level == "write":
            assert scope in NEEDS, f"write access to {scope}: add what justifies it to NEEDS"
            assert any(NEEDS[scope](s) for s in effective_steps(job)), f"{scope}: write, unused"


def test_pushing_jobs_have_packages_write_and_the_rest_do_not():
    callers = 0
    for wf, name, job in jobs():
        if wf in {p.name for p in WORKFLOWS if reusable(p)}:
            continue
        callers += called(job) is not None
        push = any(pushes(s) for s in effective_steps(job))
        writes = job.get("permissions", {}).get("packages") == "write"
        assert push == writes, f"{wf}:{name}: pushes={push}, packages: write={writes}"
    assert callers == 2, "images.yml calls image-builds.yml twice: to push, and not"


def test_every_push_step_of_the_build_runs_only_when_asked():
    build = load(GITHUB / "workflows" / "image-builds.yml")["jobs"]["build"]
    login = [s for s in steps(build) if "login-action" in s.get("uses", "")]
    for s in [*login, *(s for s in steps(build) if pushes(s))]:
        assert "inputs.push" in str(s.get("if", "")), s


@pytest.mark.parametrize("item", jobs(), ids=job_id)
def test_checkouts_leave_no_token_behind(item: tuple[str, str, dict]):
    """The tests run repository code as root: no token in .git/config for it to read."""
    for s in steps(item[2]):
        if s.get("uses", "").startswith("actions/checkout@"):
            assert s.get("with", {}).get("persist-credentials") is False, s


# --- what runs, and when ----------------------------------------------------------------


@pytest.mark.parametrize("item", jobs(), ids=job_id)
def test_no_job_runs_after_a_failure(item: tuple[str, str, dict]):
    """`if: !cancelled()` alone runs a job after what it needs has failed."""
    condition = str(item[2].get("if", ""))
    if "always()" in condition or "cancelled()" in condition:
        assert "!failure()" in condition.replace(" ", ""), condition


def test_the_failure_rule_can_fail():
    with pytest.raises(AssertionError):
        test_no_job_runs_after_a_failure(("x.yml", "j", {"if": "${{ !cancelled() }}"}))


def build_push_steps() -> list[dict]:
    return [s for _, _, job in jobs() for s in steps(job)
            if s.get("uses", "").startswith("docker/build-push-action@")]


def test_the_dockerfiles_labels_are_kept():
    """metadata-action's labels would replace the Dockerfiles' (revision, licenses...)."""
    assert build_push_steps()
    for s in build_push_steps():
        assert not {"labels", "annotations"} & set(s.get("with", {})), s
    for wf in WORKFLOWS:
        assert "outputs.labels" not in wf.read_text(), wf.name
        assert "outputs.annotations" not in wf.read_text(), wf.name


def test_the_tests_get_the_revision_the_image_was_built_with():
    build = load(GITHUB / "workflows" / "image-builds.yml")["jobs"]["build"]
    [test] = [s for s in steps(build) if "pytest" in s.get("run", "")]
    assert test["env"]["VCS_REF"] == "${{ github.sha }}"
    assert "VCS_REF=%s" in str(build["steps"]) and '"$GITHUB_SHA"' in str(build["steps"])
    assert "VCS_REF" in test["run"]  # through sudo


def test_lint_is_make_lint_with_the_locked_tools():
    """One hadolint, one version: uv.lock's, here and on GitHub."""
    lint = load(GITHUB / "workflows" / "images.yml")["jobs"]["lint"]
    assert [s["run"] for s in steps(lint) if "run" in s] == ["make lint"]
    assert "\nlint:" in (ROOT / "Makefile").read_text()
    for wf in WORKFLOWS:
        assert "hadolint-action" not in wf.read_text(), wf.name


def image_workflow_paths() -> tuple[list[str], list[str]]:
    on = triggers(load(GITHUB / "workflows" / "images.yml"))
    return on["push"]["paths"], on["pull_request"]["paths"]


def test_the_images_workflow_watches_existing_files():
    push, pull_request = image_workflow_paths()
    assert push == pull_request
    missing = [p for p in push if not any(ROOT.glob(p.replace("**", "**/*")))]
    assert not missing, f"path filters that match no file (moved?): {missing}"
    for needed in ("Makefile", "tools/get_uv.py", ".hadolint.yaml", "tests/not_run_by_ci.yaml",
                   "uv.lock", ".github/**"):
        assert needed in push, needed


def test_concurrency():
    """Two pushes to main must not race for :main; a pull request must never cancel
    a deploy of the site."""
    images = load(GITHUB / "workflows" / "images.yml")
    assert "github.ref" in images["concurrency"]["group"]
    assert "pull_request" in str(images["concurrency"]["cancel-in-progress"])
    docs = load(GITHUB / "workflows" / "docs.yml")
    assert "concurrency" not in docs
    deploy = docs["jobs"]["deploy"]
    assert deploy["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    assert "pull_request" in deploy["if"]
    others = [job.get("concurrency", {}) for name, job in docs["jobs"].items() if name != "deploy"]
    assert all(c.get("group") != "pages" for c in others)


def image_builds() -> list[dict]:
    build = load(GITHUB / "workflows" / "image-builds.yml")["jobs"]["build"]
    return build["strategy"]["matrix"]["include"]


def test_each_image_build_names_its_context_and_tests():
    builds = image_builds()
    assert {b["image"] for b in builds} == {"ds-python", "ds-rstudio", "analysis"}
    for b in builds:
        assert (ROOT / b["context"] / "Dockerfile").is_file(), b
        assert (ROOT / b["tests"]).is_file(), b


def test_images_are_built_on_both_architectures_natively():
    build = load(GITHUB / "workflows" / "image-builds.yml")["jobs"]["build"]
    assert build["strategy"]["matrix"]["arch"] == ["amd64", "arm64"]
    assert "ubuntu-24.04-arm" in build["runs-on"] and "ubuntu-24.04" in build["runs-on"]
    assert not any("setup-qemu" in s.get("uses", "") for s in steps(build))


# --- docs blocks and the jobs that run them -----------------------------------------------


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


def marker_match(expression: str, kinds: set[str]) -> bool:
    """pytest's -m: names, and, or, not, parentheses."""
    tokens = re.findall(r"\(|\)|[\w-]+", expression)
    python = " ".join(t if t in {"and", "or", "not", "(", ")"} else str(t in kinds)
                      for t in tokens)
    return bool(eval(python, {"__builtins__": {}}))  # only True/False/and/or/not/()


def selects(args: list[str], test_id: str, kinds: set[str]) -> bool:
    """Whether `pytest <args>` runs the docs test with this id and kinds (file, -k, -m)."""
    args = args[args.index("pytest") + 1 :] if "pytest" in args else args
    files = [a for a in args if a.startswith("tests/")]
    if files and DOCS_TEST not in files:
        return False
    if "-m" in args and not marker_match(args[args.index("-m") + 1], kinds):
        return False
    if "-k" in args:
        terms = [t.strip() for t in args[args.index("-k") + 1].split(" or ")]
        return any(t in test_id for t in terms)
    return True


def docs_blocks() -> list[tuple[str, set[str]]]:
    return [(f"{page.relative_to(ROOT).as_posix()}:{b.line}", b.kinds)
            for page in sorted((ROOT / "docs").rglob("*.md")) for b in find_blocks(page)]


def elsewhere_blocks() -> list[tuple[str, str, set[str]]]:
    return [(block, kind, kinds) for block, kinds in docs_blocks()
            for kind in sorted(kinds & JOB_KINDS)]


def test_my_pages_have_github_only_blocks():
    kinds = {kind for _, kind, _ in elsewhere_blocks()}
    assert {"apptainer", "kubernetes", "ghcr", "arm64"} <= kinds


@pytest.mark.parametrize("block, kind, kinds", elsewhere_blocks(),
                         ids=lambda x: "+".join(sorted(x)) if isinstance(x, set) else str(x))
def test_a_github_job_runs_the_block(block: str, kind: str, kinds: set[str]):
    runners = [
        job_id(item)
        for item in jobs()
        for provided, args in pytest_runs(item[2])
        if kind in provided and selects(args, block, kinds)
    ]
    assert runners, f"{block} needs {kind}: no workflow job sets RUN_KINDS={kind} and selects it"


def test_docker_blocks_run_on_the_runners_docker_and_on_docker_29():
    """The tests job (make test) on ubuntu-24.04's Docker, the docker29 job on
    ubuntu-26.04's Docker 29 with the containerd image store."""
    tests = load(GITHUB / "workflows" / "tests.yml")["jobs"]
    assert any("make test" in s.get("run", "") for s in steps(tests["test"]))
    assert tests["docker29"]["runs-on"] == "ubuntu-26.04"
    engine_kinds = {"docker", "podman", "dockerhub", "privileged", "buildx", "compose"}
    docker_blocks = [(b, k) for b, k in docs_blocks() if k & engine_kinds]
    assert docker_blocks
    for block, kinds in docker_blocks:
        assert any(selects(args, block, kinds) for _, args in pytest_runs(tests["docker29"]))


def test_the_selection_check_can_fail():
    args = shlex.split(f"python -m pytest {DOCS_TEST} -n0 -k 'sharing/hpc or test_hpc'")
    assert selects(args, "docs/sharing/hpc.md:33", {"apptainer"})
    assert not selects(args, "docs/sharing/kubernetes.md:40", {"kubernetes"})
    assert not selects(["pytest", "tests/images/test_hpc.py"], "docs/sharing/hpc.md:33",
                       {"apptainer"})
    assert not selects(["pytest", "-m", "arm64"], "docs/x.md:1", {"ghcr"})
    either = ["pytest", DOCS_TEST, "-m", "docker or podman"]
    assert selects(either, "docs/x.md:1", {"podman"})
    assert not selects(either, "docs/x.md:1", {"root"})
    assert not selects(["pytest", "-m", "docker and not dockerhub"], "d:1", {"docker", "dockerhub"})
