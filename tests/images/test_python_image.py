"""images/python-image: it builds, and the container behaves as
docs/data-science/python-image.md says.

pytest tests/images/test_python_image.py
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .containers import (
    MEMORY_MAX,
    PIDS_MAX,
    PYTHON_HARDENED,
    docker,
    host_port,
    http,
    proc_status,
    wait_healthy,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("host_network_quiet")]

PY_MODULES = [
    "numpy",
    "scipy",
    "pandas",
    "sklearn",
    "imblearn",
    "xgboost",
    "seaborn",
    "nltk",
    "spacy",
    "gensim",
    "pyLDAvis",
    "PIL",
    "cv2",
    "requests",
    "lxml",
    "bs4",
    "pydot",
    "tqdm",
    "jupyterlab",
]
SETUID_FILES = "find / -xdev -type f -perm /6000"
# Start a notebook kernel through Jupyter's API, then run code in it (its connection
# file is in the home start-jupyter.sh made in /tmp).
RUN_IN_A_KERNEL = """
import glob, json, sys, urllib.request as u
from jupyter_client import BlockingKernelClient
api = "http://127.0.0.1:8888/api/kernels"
auth = {"Authorization": "token " + sys.argv[1]}
kernel = json.load(u.urlopen(u.Request(api, data=b"{}", headers=auth, method="POST")))
runtime = "/tmp/home.*/.local/share/jupyter/runtime"
[connection] = glob.glob(f"{runtime}/kernel-{kernel['id']}.json")
client = BlockingKernelClient(connection_file=connection)
client.load_connection_file()
client.start_channels()
client.wait_for_ready(timeout=120)
client.execute_interactive("print(6 * 7)", timeout=60)
"""


def test_runs_as_non_root(py_image: str):
    assert docker("run", "--rm", py_image, "id", "-u").stdout.strip() == "1000"


def test_imports_every_package(py_image: str):
    code = "import " + ", ".join(PY_MODULES) + "; print('ok')"
    assert docker("run", "--rm", py_image, "python", "-c", code).stdout.strip() == "ok"


def test_has_no_compiler_and_no_uv(py_image: str):
    proc = docker(
        "run",
        "--rm",
        py_image,
        "sh",
        "-c",
        "for t in gcc cc c++ uv pip; do command -v $t || true; done",
    )
    assert [p for p in proc.stdout.split() if not p.startswith("/opt/venv")] == []


def test_tini_is_pid_1(py_image: str):
    assert docker("run", "--rm", py_image, "cat", "/proc/1/comm").stdout.strip() == "tini"


def test_labels(py_image: str):
    labels = json.loads(docker("inspect", "-f", "{{json .Config.Labels}}", py_image).stdout)
    assert labels["org.opencontainers.image.source"].startswith("https://github.com/")
    # The images workflow tests the image it built with VCS_REF=<commit> (PREBUILT_IMAGES=1,
    # and VCS_REF in the environment); the py_image fixture builds with VCS_REF=test.
    prebuilt = os.environ.get("PREBUILT_IMAGES") == "1"
    revision = os.environ.get("VCS_REF", "test") if prebuilt else "test"
    assert labels["org.opencontainers.image.revision"] == revision
    assert labels["org.opencontainers.image.title"] == "docker-basics ds-python"


def test_test_suites_are_trimmed_but_gensims_sample_texts_stay(py_image: str):
    site = "/opt/venv/lib/python3.13/site-packages"
    gone = [
        "gensim/test/test_data/lee_fasttext.bin",
        "gensim/test/test_word2vec.py",
        "tornado/test",
        "nltk/test",
        "joblib/test",
        "numpy/_core/tests",
        "sklearn/tests",
    ]
    kept = ["numpy/testing", "IPython/testing"]  # libraries import these themselves
    code = (
        "import os, sys; from gensim.test.utils import common_texts; "
        "print(len(common_texts), *(os.path.exists(sys.argv[1] + '/' + p) "
        "for p in sys.argv[2:]))"
    )
    out = docker("run", "--rm", py_image, "python", "-c", code, site, *gone, *kept).stdout
    assert out.split() == ["9", *["False"] * len(gone), *["True"] * len(kept)]


def test_no_setuid_or_setgid_programs(py_image: str, python_base: str):
    # As root, so that find sees every folder. The base has some: the check can fail.
    assert docker("run", "--rm", "--user", "0", python_base, *SETUID_FILES.split()).stdout
    assert docker("run", "--rm", "--user", "0", py_image, *SETUID_FILES.split()).stdout == ""


def test_nothing_in_the_venv_is_writable_by_everyone(py_image: str):
    """uv makes its lock file, /opt/venv/.lock, mode 666: the image must not keep it so."""
    find = ["find", "/opt/venv", "-perm", "-o+w", "!", "-type", "l"]
    assert docker("run", "--rm", "--user", "0", py_image, *find).stdout == ""


def test_jupyter_needs_the_token_and_turns_healthy(py_image: str, container: Callable):
    token = secrets.token_hex(24)
    cid = container("-e", f"JUPYTER_TOKEN={token}", "-p", "127.0.0.1::8888", py_image)
    assert wait_healthy(cid) == "healthy", docker("logs", cid).stderr[-2000:]
    base = f"http://127.0.0.1:{host_port(cid, 8888)}"
    assert http(f"{base}/api")[0] == 200  # says only that it is up
    assert http(f"{base}/api/contents")[0] == 403
    assert http(f"{base}/api/contents?token=wrong")[0] == 403
    assert http(f"{base}/api/contents?token={token}")[0] == 200
    status, location = http(f"{base}/lab")
    assert status == 302 and "/login" in location


def test_jupyter_makes_a_random_token_without_one(py_image: str, container: Callable):
    cid = container("-p", "127.0.0.1::8888", py_image)
    assert wait_healthy(cid) == "healthy"
    logs = docker("logs", cid).stderr
    token = logs.split("token=", 1)[1].split()[0]
    assert len(token) >= 32
    base = f"http://127.0.0.1:{host_port(cid, 8888)}"
    assert http(f"{base}/api/contents")[0] == 403
    assert http(f"{base}/api/contents?token={token}")[0] == 200


def test_an_empty_token_is_refused(py_image: str):
    proc = docker("run", "--rm", "-e", "JUPYTER_TOKEN=", py_image, check=False)
    assert proc.returncode == 64
    assert "JUPYTER_TOKEN is empty, which would turn authentication off" in proc.stderr


@pytest.mark.root  # hands the folder to another user
@pytest.mark.parametrize("uid", [1000, 4242])
def test_files_in_a_bind_mount_belong_to_the_host_user(py_image: str, uid: int, tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    os.chown(work, uid, 100)
    user = [] if uid == 1000 else ["--user", f"{uid}:100", "--group-add", "users"]
    docker(
        "run",
        "--rm",
        *user,
        "-v",
        f"{work}:/home/jovyan/work",
        py_image,
        "python",
        "-c",
        "open('notes.txt', 'w').write('hi')",
    )
    assert (work / "notes.txt").stat().st_uid == uid
    shutil.rmtree(work)


# --- hardened: the recommended run options, each shown to be in force -------------


@pytest.fixture(scope="module")
def hardened(py_image: str, module_container: Callable) -> tuple[str, str]:
    """Jupyter run with every option of PYTHON_HARDENED: (container, token)."""
    token = secrets.token_hex(24)
    cid = module_container(
        *PYTHON_HARDENED, "-e", f"JUPYTER_TOKEN={token}", "-p", "127.0.0.1::8888", py_image
    )
    assert wait_healthy(cid) == "healthy", docker("logs", cid).stderr[-2000:]
    return cid, token


def test_hardened_jupyter_answers_and_needs_the_token(hardened: tuple[str, str]):
    cid, token = hardened
    base = f"http://127.0.0.1:{host_port(cid, 8888)}"
    assert http(f"{base}/api/contents")[0] == 403
    assert http(f"{base}/api/contents?token={token}")[0] == 200
    # A notebook kernel starts and runs code.
    assert docker("exec", cid, "python", "-c", RUN_IN_A_KERNEL, token).stdout.strip() == "42"


def sh(cid: str | None, image: str, command: str) -> str:
    """Run a shell command in the running container, or else in a plain new one."""
    args = ["exec", cid] if cid else ["run", "--rm", image]
    return docker(*args, "sh", "-c", f"{command} 2>&1; echo status $?", check=False).stdout


def test_read_only_root_filesystem(hardened: tuple[str, str], py_image: str):
    write_home = "touch /home/jovyan/.probe"
    assert "Read-only file system" in sh(hardened[0], py_image, write_home)
    assert sh(None, py_image, write_home).strip() == "status 0"  # without --read-only
    assert sh(hardened[0], py_image, "touch /tmp/probe").strip() == "status 0"  # tmpfs
    # start-jupyter.sh gave Jupyter a home in /tmp instead.
    assert sh(hardened[0], py_image, "ls -d /tmp/home.*").startswith("/tmp/home.")


def test_no_capabilities(hardened: tuple[str, str], py_image: str):
    caps = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
    assert set(proc_status(hardened[0], *caps).values()) == {"0000000000000000"}
    plain = docker("run", "--rm", py_image, "grep", "CapBnd", "/proc/1/status").stdout
    assert plain.split()[1] != "0000000000000000"  # Docker's default set, without --cap-drop


def test_no_new_privileges(hardened: tuple[str, str], py_image: str):
    assert proc_status(hardened[0], "NoNewPrivs") == {"NoNewPrivs": "1"}
    plain = docker("run", "--rm", py_image, "grep", "NoNewPrivs", "/proc/1/status").stdout
    assert plain.split() == ["NoNewPrivs:", "0"]


def test_pids_limit(hardened: tuple[str, str], py_image: str):
    assert sh(hardened[0], py_image, PIDS_MAX).split() == ["1024", "status", "0"]
    assert sh(None, py_image, PIDS_MAX).split() == ["max", "status", "0"]


def test_memory_limit(hardened: tuple[str, str], py_image: str):
    assert sh(hardened[0], py_image, MEMORY_MAX).split() == [str(4 * 2**30), "status", "0"]
    assert sh(None, py_image, MEMORY_MAX).split()[0] != str(4 * 2**30)


def test_without_a_writable_tmp_start_up_says_what_to_add(py_image: str):
    proc = docker("run", "--rm", "--read-only", py_image, check=False)
    assert proc.returncode == 73
    assert proc.stderr.strip().endswith("with --read-only, add --tmpfs /tmp")
