"""Session fixtures of the end-to-end tests: the offline Debian+Python job image and the action
image built from the repository's Dockerfile on top of it (helpers in actionrun.py).

The GitHub emulator fixtures are shared with tests/integration (imported below).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from actionrun import ACTION_IMAGE, action_context, docker
from integration.conftest import clone_dirs, emulator, openapi, secret_watch, token  # noqa: F401
from testbed.jobimage import ensure_job_image


@pytest.fixture(scope="session")
def job_image(docker_host: str) -> str:
    return ensure_job_image(docker_host)


@pytest.fixture(scope="session")
def action_image(docker_host: str, job_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    context = action_context(tmp_path_factory.mktemp("action-context"))
    proc = docker(docker_host, "build", "-q", "--network", "host", "--build-arg", f"BASE_IMAGE={job_image}",
                  "-t", ACTION_IMAGE, str(context))
    assert proc.returncode == 0, f"action image build failed:\n{proc.stdout}\n{proc.stderr}"
    return ACTION_IMAGE
