"""Session fixtures of the end-to-end tests: the offline Debian+Python job image and the action
image built from the repository's Dockerfile on top of it (helpers in actionrun.py).

The GitHub emulator fixtures are shared with tests/integration (imported below).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from actionrun import ACTION_IMAGE, action_context, docker
from integration.conftest import clone_dirs, emulator, openapi, secret_watch, token  # noqa: F401
from testbed import BASE_ALIASES, BASE_IMAGE, build_base_image
from testbed.jobimage import ensure_job_image
from testbed.runner import RunnerBed, start_runner_bed, stop_runner_bed
from testbed.runnerjob import transfer_image


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


@pytest.fixture(scope="session")
def runner_bed(testbed_dir: Path, docker_host: str, action_image: str) -> Iterator[RunnerBed]:
    """The GitHub-runner-like bed (tests/testbed/runner.py): its own network namespace, dockerd with a
    bridge, a TLS registry on a 10.x address. The action image is built once on the host engine
    and loaded (the runner fetches the action image before a job); the stand-in base plays Docker Hub."""
    bed = start_runner_bed(testbed_dir / "rb")
    try:
        transfer_image(docker_host, bed, action_image)
        import docker as sdk

        client = sdk.DockerClient(base_url=bed.docker_host, timeout=300)
        try:
            build_base_image(client, BASE_IMAGE)
        finally:
            client.close()
        yield bed
    finally:
        stop_runner_bed(bed)


@pytest.fixture(scope="session")
def runner_keep(action_image: str) -> tuple[str, ...]:
    """What a fresh job's engine still has: the action image and what Docker Hub would serve."""
    return (action_image, BASE_IMAGE, *BASE_ALIASES)
