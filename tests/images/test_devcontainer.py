"""images/analysis-python/.devcontainer: the Dev Containers CLI builds it, starts it and
runs the analysis in it, as docs/project/dev-containers.md shows.

The CLI is the npm package @devcontainers/cli, found at node_modules/.bin/devcontainer
(DEVCONTAINER_CLI names another). Off GitHub the image builds on the local stand-in
bases: the test passes them as build arguments in a copy of devcontainer.json, the one
change it makes to the file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import ROOT

from .containers import docker
from .test_analysis_python import WROTE, check_summary, png_size

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("host_network_quiet")]

PROJECT = ROOT / "images" / "analysis-python"
CONFIG = PROJECT / ".devcontainer" / "devcontainer.json"
CLI = Path(os.environ.get("DEVCONTAINER_CLI", ROOT / "node_modules" / ".bin" / "devcontainer"))


def read_jsonc(path: Path) -> dict:
    """devcontainer.json is JSON with comments; ours has them on lines of their own."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("//")]
    return json.loads("\n".join(lines))


@pytest.fixture
def workspace(tmp_path: Path, base_images: dict[str, str]):
    """A copy of the project, its dev container config pointed at the stand-ins if
    needed; every container and image the CLI made for it is removed afterwards."""
    if not CLI.exists():
        pytest.skip(f"needs the Dev Containers CLI at {CLI} (npm install, package.json)")
    folder = tmp_path / f"analysis-{uuid.uuid4().hex[:8]}"
    shutil.copytree(PROJECT, folder)
    args = {k: v for k, v in base_images.items() if k in ("PYTHON_BASE", "UV_IMAGE")}
    if args:
        config = read_jsonc(CONFIG)
        config["build"]["args"] = args
        (folder / ".devcontainer" / "devcontainer.json").write_text(json.dumps(config))
    label = f"docker-basics.test={folder.name}"
    try:
        yield folder, label
    finally:
        for cid in docker("ps", "-aq", "--filter", f"label={label}").stdout.split():
            docker("rm", "-f", cid, check=False)
        images = docker("images", "--format", "{{.Repository}}", f"vsc-{folder.name}-*").stdout
        for image in images.split():
            docker("rmi", "-f", image, check=False)


def devcontainer(*args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    docker_path = shutil.which("docker") or "docker"
    proc = subprocess.run(
        [str(CLI), *args[:1], "--docker-path", docker_path, *args[1:]],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc


def outcome(proc: subprocess.CompletedProcess) -> dict:
    """The CLI ends with one JSON line saying what it did."""
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_config_builds_on_the_project_dockerfile():
    config = read_jsonc(CONFIG)
    assert config["build"] == {"dockerfile": "../Dockerfile", "context": ".."}
    assert config["remoteUser"] == "analyst"


def test_build_up_and_exec_run_the_analysis(workspace):
    folder, label = workspace
    image = f"docker-basics/analysis-devcontainer:{folder.name}"
    try:
        built = outcome(
            devcontainer("build", "--workspace-folder", str(folder), "--image-name", image)
        )
        assert built["outcome"] == "success" and built["imageName"] == [image]
    finally:
        docker("rmi", image, check=False)

    up = outcome(devcontainer("up", "--workspace-folder", str(folder), "--id-label", label))
    assert up["outcome"] == "success" and up["remoteWorkspaceFolder"] == "/workspace"
    assert up["remoteUser"] == "analyst"

    out = folder / "out"
    out.mkdir()
    out.chmod(0o777)  # as root here; elsewhere the CLI gives analyst our UID
    ran = devcontainer(
        "exec",
        "--workspace-folder",
        str(folder),
        "--id-label",
        label,
        "python",
        "analysis.py",
        "data",
        "out",
    )
    assert ran.stdout.splitlines()[-2:] == [w.replace("/out/", "out/") for w in WROTE]
    # The workspace is the host folder itself: the files are here, the same as the image's.
    check_summary(out / "summary.csv")
    assert png_size(out / "figure.png") == (700, 400)
    if os.geteuid() != 0:
        assert {p.stat().st_uid for p in out.iterdir()} == {os.geteuid()}

    who = devcontainer(
        "exec",
        "--workspace-folder",
        str(folder),
        "--id-label",
        label,
        "sh",
        "-c",
        "id -un; pwd; command -v python",
    )
    assert who.stdout.split()[-3:] == ["analyst", "/workspace", "/opt/venv/bin/python"]
