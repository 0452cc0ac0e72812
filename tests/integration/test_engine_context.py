"""engine_context against the real dockerd and registry: which container we run in (from a
mountinfo naming the engine's per-container files) and the pull a fresh job's engine needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testbed import Registry

from dify_action.engine.job import ensure_image, own_container, sibling_network
from dify_action.errors import DockerError
from dify_action.registry import Credentials

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sleeper(docker_client: Any, base_image: str) -> Any:
    container = docker_client.containers.run(base_image, ["sleep", "300"], network_mode="host", detach=True)
    yield container
    container.remove(force=True)


def mountinfo(tmp_path: Path, container_id: str, name: str = "resolv.conf") -> Path:
    path = tmp_path / "mountinfo"
    path.write_text(
        "22 1 0:21 / / rw,relatime - overlay overlay rw\n"
        f"601 22 8:1 /var/lib/docker/containers/{container_id}/{name} /etc/{name} rw,relatime - ext4 /dev/sda1 rw\n")
    return path


def test_outside_any_container_it_is_the_host_network(docker_client: Any) -> None:
    assert own_container(docker_client) is None  # this test process runs on the host
    assert sibling_network(docker_client) == "host"


@pytest.mark.parametrize("name", ["resolv.conf", "hostname", "hosts"])
def test_a_running_container_of_this_engine_is_ours(docker_client: Any, sleeper: Any, tmp_path: Path,
                                                    name: str) -> None:
    info = mountinfo(tmp_path, sleeper.id, name)
    assert own_container(docker_client, info) == sleeper.id
    assert sibling_network(docker_client, info) == f"container:{sleeper.id}"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_another_engines_container_is_not(docker_client: Any, tmp_path: Path, container_id: str) -> None:
    assert own_container(docker_client, mountinfo(tmp_path, container_id)) is None


def test_a_missing_image_is_pulled_by_digest_with_credentials(docker_client: Any, base_image: str,
                                                              registry: Registry) -> None:
    repository = f"{registry.host}/ctx/pulled"
    docker_client.images.get(base_image).tag(repository, "1.0")
    credentials = Credentials(registry.username, registry.password)
    auth = {"username": registry.username, "password": registry.password}
    docker_client.images.push(repository, tag="1.0", auth_config=auth)
    digest = docker_client.images.get_registry_data(f"{repository}:1.0", auth_config=auth).id
    docker_client.images.remove(f"{repository}:1.0")
    reference = f"{repository}:1.0@{digest}"

    with pytest.raises(DockerError, match="no registry credentials were given") as refused:
        ensure_image(docker_client, reference)
    assert refused.value.args[0].startswith(f"image {reference} is not in the Docker engine and could not be pulled")
    with pytest.raises(DockerError) as wrong:
        ensure_image(docker_client, reference, Credentials(registry.username, "wrong-password-value"))
    assert "wrong-password-value" not in str(wrong.value) and "refused" in str(wrong.value)

    assert ensure_image(docker_client, reference, credentials) is True
    assert docker_client.images.get(f"{repository}:1.0").id == docker_client.images.get(reference).id
    assert ensure_image(docker_client, reference, credentials) is False  # present now: no pull
