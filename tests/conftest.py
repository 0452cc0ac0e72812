"""Session fixtures for the integration tests: real dockerd, real registries, offline base image.

Each component starts on first use and stops at the end of the session, by the pid we started.
A component that cannot start makes its tests FAIL (never skip): see ../shared/STYLE.md rule 10.

Fixtures (names are stable; other test modules rely on them):
- ``testbed_dir``: the short state dir (/tmp/da-XXXX) everything lives under.
- ``docker_host``: ``unix:///tmp/da-XXXX/docker.sock`` of the private dockerd (no bridge).
- ``docker_client``: a docker SDK client for it.
- ``base_image``: ``dify-base-standin:1.13.3`` (busybox on scratch), also tagged
  ``langgenius/dify-api:1.13.3`` so Dockerfiles can say what users write.
- ``registry``: distribution registry with htpasswd (``.host``, ``.url``, ``.username``,
  ``.password``, ``.requests_since(offset)``).
- ``token_registry``: the same with token auth behind a JWT token server (``.token_realm``).
- ``registry_proxy``: per test, a counting/fault-injecting proxy in front of ``registry``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testbed import (
    BASE_IMAGE,
    Dockerd,
    FaultProxy,
    Registry,
    build_base_image,
    start_dockerd,
    start_registry,
    stop_dockerd,
    stop_registry,
)


@pytest.fixture(scope="session")
def testbed_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="da-", dir="/tmp"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dockerd(testbed_dir: Path) -> Iterator[Dockerd]:
    daemon = start_dockerd(testbed_dir)
    yield daemon
    stop_dockerd(daemon)


@pytest.fixture(scope="session")
def docker_host(dockerd: Dockerd) -> str:
    return dockerd.host


@pytest.fixture(scope="session")
def docker_client(docker_host: str) -> Iterator[Any]:
    import docker

    client = docker.DockerClient(base_url=docker_host, timeout=300)
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    return build_base_image(docker_client, BASE_IMAGE)


@pytest.fixture(scope="session")
def registry(testbed_dir: Path) -> Iterator[Registry]:
    server = start_registry(testbed_dir / "reg", "basic")
    yield server
    stop_registry(server)


@pytest.fixture(scope="session")
def token_registry(testbed_dir: Path) -> Iterator[Registry]:
    server = start_registry(testbed_dir / "treg", "token")
    yield server
    stop_registry(server)


@pytest.fixture
def registry_proxy(registry: Registry) -> Iterator[FaultProxy]:
    proxy = FaultProxy(registry.port).start()
    yield proxy
    proxy.stop()
