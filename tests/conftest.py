"""Shared test set-up. Each concern is a plugin of its own in tests/plugins/:

- skip_policy: what each kind (tools/ci_kinds.py) needs, who the reader is, and the
  CI rule that a skip of what CI must run is a failure;
- engines: the base images, the Docker Hub names, a private Podman store, and the
  lock that keeps networked tests apart;
- built_site: the site, built once for the tests that look at it;
- leak_check: nothing left behind by the whole suite.

The pytest markers are the kinds of tools/ci_kinds.py, registered here; `slow` is the
one marker of our own.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pytest
from ci_kinds import KINDS

pytest_plugins = ["plugins.skip_policy", "plugins.engines", "plugins.built_site",
                  "plugins.leak_check"]
pytest.register_assert_rewrite("plugins")  # imported below, before pytest loads them

# What test modules import from here.
from plugins.leak_check import our_cgroups  # noqa: E402
from plugins.skip_policy import GITHUB_ONLY, IN_CI, ON_GITHUB, need_problem  # noqa: E402

__all__ = ["GITHUB_ONLY", "IN_CI", "ON_GITHUB", "ROOT", "need_problem", "our_cgroups",
           "readable_copy"]

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    for kind in KINDS.values():
        what = kind.need or {"browser": "Debian's chromium"}.get(kind.name, kind.name)
        config.addinivalue_line("markers", f"{kind.name}: needs {what}; runs on {kind.runs}")
    config.addinivalue_line("markers", "slow: builds images or a whole site")


@functools.cache
def readable_copy(script: Path) -> Path:
    """A copy of a script that any user can read, for tests that run as another user (a
    CI checkout may sit under a home folder other users cannot enter), with the modules
    beside it that it imports (scripts/plumbing.py, and cgroups.py for some)."""
    folder = Path(tempfile.mkdtemp(prefix="docker-basics-scripts-"))
    atexit.register(shutil.rmtree, folder, True)
    folder.chmod(0o755)
    for module in script.parent.glob("*.py"):
        shutil.copy(module, folder / module.name)
        (folder / module.name).chmod(0o644)
    return folder / script.name


