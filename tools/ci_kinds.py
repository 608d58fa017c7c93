"""What a code block or a test may need, defined once.

A docs block asks for kinds in its fence (```{.console data-ci="docker"}```), a test
with a pytest marker of the same name. Everything else reads this table: the pytest
markers (tests/conftest.py), the skip policy (tests/plugins/skip_policy.py), the badge
on each block and the "What you need" box on each page (tools/hooks/page_needs.py),
and the list of blocks not run here (tests/not_run_by_ci.yaml must list every block
of a kind that is not run on our own CI machine).

Standard library only: the site build imports it too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    need: str  # what the reader needs, in a reader's words (the page's box)
    badge: str  # the label on a block of this kind
    runs: str  # where CI runs it (pytest's marker help, the not-run page)
    here: bool  # run by .ci/run on our own CI machine
    page: bool = True  # a docs block may ask for it (browser and slow are for tests only)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "root",
            "root rights (`sudo`) on a Linux machine",
            "Needs root: run by CI as root",
            "every CI run (as a normal user with sudo on our machine)",
            here=True,
        ),
        Kind(
            "docker",
            "Docker (Docker Desktop, or Docker Engine on Linux)",
            "Needs a Docker engine: run by CI",
            "every CI run (Debian's docker.io here; the runner's Docker and Docker 29 on GitHub)",
            here=True,
        ),
        Kind(
            "podman",
            "Podman, as a normal user",
            "Rootless Podman as a normal user: run by CI",
            "every CI run, in a private Podman store",
            here=True,
        ),
        Kind(
            "buildx",
            "Docker's buildx plugin (Docker Desktop and Docker's own packages have it)",
            "Needs Docker's buildx plugin: run by CI on GitHub's runners only",
            "GitHub's runners (and our CI machine where Debian packages buildx: Debian 13)",
            here=False,
        ),
        Kind(
            "compose",
            "Docker Compose v2 (`docker compose`; Docker Desktop and Docker's own packages "
            "have it)",
            "Needs docker compose: run by CI on GitHub's runners only",
            "GitHub's runners (tests workflow)",
            here=False,
        ),
        Kind(
            "dockerhub",
            "network access to Docker Hub",
            "Needs Docker Hub: run by CI on GitHub's runners only",
            "GitHub's runners only (tests workflow)",
            here=False,
        ),
        Kind(
            "github",
            "network access to GitHub (github.com)",
            "Needs github.com: run by CI on GitHub's runners only",
            "GitHub's runners only (tests workflow)",
            here=False,
        ),
        Kind(
            "privileged",
            "an engine that allows `docker run --privileged`",
            "Needs docker run --privileged: run by CI on GitHub's runners only",
            "GitHub's runners only (our engine refuses --privileged)",
            here=False,
        ),
        Kind(
            "apptainer",
            "Apptainer (as on most HPC clusters)",
            "Needs Apptainer: run by CI on GitHub's runners only",
            "the GitHub job that sets RUN_KINDS=apptainer",
            here=False,
        ),
        Kind(
            "kubernetes",
            "a Kubernetes cluster and kubectl",
            "Needs a Kubernetes cluster: run by CI on GitHub's runners (kind) only",
            "the GitHub job that sets RUN_KINDS=kubernetes",
            here=False,
        ),
        Kind(
            "ghcr",
            "network access to GitHub's container registry (ghcr.io)",
            "Needs our images on GHCR: run by CI on GitHub's runners only",
            "the GitHub job that sets RUN_KINDS=ghcr",
            here=False,
        ),
        Kind(
            "arm64",
            "an arm64 machine (Apple Silicon, Graviton)",
            "Needs an arm64 machine: run by CI on GitHub's arm64 runners only",
            "the GitHub job that sets RUN_KINDS=arm64",
            here=False,
        ),
        Kind(
            "gpu",
            "an NVIDIA GPU with its driver",
            "Needs an NVIDIA GPU: not run by CI",
            "never: no CI machine has a GPU",
            here=False,
        ),
        Kind("browser", "", "", "every CI run (Debian's chromium)", here=True, page=False),
    )
}
# Kinds a docs block may ask for.
PAGE_KINDS = {name for name, k in KINDS.items() if k.page}
# Of those, the ones our own CI machine runs, and the ones that run elsewhere or nowhere
# (each such block is listed in tests/not_run_by_ci.yaml).
HERE_KINDS = {name for name in PAGE_KINDS if KINDS[name].here}
ELSEWHERE_KINDS = PAGE_KINDS - HERE_KINDS
# The GitHub-only kinds a workflow job provides by setting RUN_KINDS.
JOB_KINDS = {"apptainer", "kubernetes", "ghcr", "arm64"}
