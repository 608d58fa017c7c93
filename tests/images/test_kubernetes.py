"""images/kubernetes/: the manifests of docs/sharing/kubernetes.md.

There is no cluster here: each manifest is validated offline against the
Kubernetes API schema (kubernetes-validate, which ships the schemas), and the
page's promises are checked against the manifests: the Job asks for what its
`docker run` line asks for, runs as a normal user on a read-only image with the
data mounted read-only, and the cgroup values the page shows are the ones its
limits give. The images workflow's kubernetes job runs the page on a kind cluster.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from console_blocks import find_blocks, parse_console

MANIFESTS = ROOT / "images" / "kubernetes"
FILES = sorted(MANIFESTS.glob("*.yaml"))
VALIDATE = Path(sys.executable).parent / "kubernetes-validate"
PAGE = ROOT / "docs" / "sharing" / "kubernetes.md"
CFS_PERIOD = 100_000  # microseconds: the period Docker and the kubelet write to cpu.max


def load(name: str) -> dict:
    return yaml.safe_load((MANIFESTS / name).read_text())


def validate(*paths: Path) -> subprocess.CompletedProcess:
    assert VALIDATE.exists(), (
        f"{VALIDATE} is missing: kubernetes-validate is in pyproject's test dependencies "
        "(make .venv/.synced)"
    )
    return subprocess.run(
        [VALIDATE, "--strict", "--no-warn", *paths], capture_output=True, text=True, timeout=120
    )


def pod_spec(manifest: dict) -> dict:
    return manifest["spec"]["template"]["spec"] if manifest["kind"] == "Job" else manifest["spec"]


def cores(quantity: str) -> float:
    """A Kubernetes CPU quantity: "1", "0.5" or "500m"."""
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def k8s_bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|k|M|G)?", quantity)
    assert m, f"memory quantity {quantity!r} not understood by this test"
    return int(m[1]) * units.get(m[2] or "", 1)


def docker_bytes(value: str) -> int:
    """docker run --memory: b, k, m or g, binary units (512m is 512 MiB)."""
    m = re.fullmatch(r"(\d+)([bkmg]?)", value.lower())
    assert m, f"docker --memory {value!r} not understood by this test"
    return int(m[1]) * {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30}[m[2]]


def page_commands() -> list:
    return [c for b in find_blocks(PAGE) if b.lang == "console" for c in parse_console(b.source)]


def test_there_are_manifests():
    assert {p.name for p in FILES} >= {
        "analysis-job.yaml",
        "output-volume.yaml",
        "read-output.yaml",
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_manifest_matches_the_kubernetes_schema(path: Path):
    proc = validate(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "right, wrong",
    [
        ("mountPath: /out", "mountPth: /out"),  # a misspelt key: --strict refuses unknown fields
        ("readOnly: true", "readOnly: yes-please"),  # a string where a boolean belongs
        ("backoffLimit: 0", "backoffLimit: none"),  # a string where a number belongs
    ],
)
def test_the_schema_check_catches(tmp_path: Path, right: str, wrong: str):
    text = (MANIFESTS / "analysis-job.yaml").read_text()
    assert right in text
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace(right, wrong, 1))
    proc = validate(broken)
    assert proc.returncode != 0, f"accepted:\n{broken.read_text()}"


def test_job_runs_as_a_normal_user_on_a_read_only_image():
    for name in ("analysis-job.yaml", "read-output.yaml"):
        spec = pod_spec(load(name))
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name


def test_data_is_mounted_read_only_and_output_from_the_claim():
    spec = pod_spec(load("analysis-job.yaml"))
    mounts = {m["mountPath"]: m for m in spec["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert mounts["/data"].get("readOnly") is True
    assert "configMap" in volumes[mounts["/data"]["name"]]
    claim = volumes[mounts["/out"]["name"]]["persistentVolumeClaim"]["claimName"]
    assert claim == load("output-volume.yaml")["metadata"]["name"]
    assert load("analysis-job.yaml")["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_reader_pod_has_the_jobs_image_user_and_limits():
    job, reader = pod_spec(load("analysis-job.yaml")), pod_spec(load("read-output.yaml"))
    for key in ("image", "resources", "securityContext"):
        assert reader["containers"][0][key] == job["containers"][0][key], key
    assert reader["securityContext"] == job["securityContext"]


def test_requests_and_limits_are_what_the_docker_run_line_asks():
    """The page's `docker run --cpus --memory` and the Job ask for the same."""
    resources = pod_spec(load("analysis-job.yaml"))["containers"][0]["resources"]
    assert resources["requests"] == resources["limits"]  # Guaranteed: never squeezed
    docker_runs = [
        shlex.split(c.command) for c in page_commands() if c.command.startswith("docker run")
    ]
    assert docker_runs, "the page shows no docker run line to compare with"
    for words in docker_runs:
        assert cores(resources["limits"]["cpu"]) == float(words[words.index("--cpus") + 1])
        assert k8s_bytes(resources["limits"]["memory"]) == docker_bytes(
            words[words.index("--memory") + 1]
        )


def test_the_cgroup_values_on_the_page_follow_from_the_limits():
    """cpu.max is "<quota> <period>" in microseconds and memory.max is bytes, as
    scripts/cgroups.py writes them; the page shows what the reader pod prints."""
    limits = pod_spec(load("read-output.yaml"))["containers"][0]["resources"]["limits"]
    cpu_max = f"{round(cores(limits['cpu']) * CFS_PERIOD)} {CFS_PERIOD}"
    memory_max = str(k8s_bytes(limits["memory"]))
    logs = [c for c in page_commands() if c.command == "kubectl logs pod/analysis-output"]
    assert len(logs) == 1
    assert logs[0].expected[:2] == [f"cpu.max: {cpu_max}", f"memory.max: {memory_max}"]
    docker = [c for c in page_commands() if c.command.startswith("docker run")]
    assert [c.expected for c in docker] == [[cpu_max, memory_max]] * len(docker)


def test_every_manifest_is_used_on_the_page():
    page = PAGE.read_text()
    for path in FILES:
        assert f"images/kubernetes/{path.name}" in page, path.name
