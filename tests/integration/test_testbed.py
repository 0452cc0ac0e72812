"""The test bed itself: the components the other integration tests stand on really work."""

from __future__ import annotations

from typing import Any

import requests


def test_dockerd_has_no_bridge_and_runs_base_image(docker_client: Any, base_image: str) -> None:
    networks = {net.name for net in docker_client.networks.list()}
    assert "bridge" not in networks
    out = docker_client.containers.run(
        base_image, ["sh", "-c", "echo hello"], network_mode="host", remove=True
    )
    assert out.strip() == b"hello"
    alias = docker_client.images.get("langgenius/dify-api:1.13.3")
    assert alias.id == docker_client.images.get(base_image).id


def test_registry_requires_basic_auth(registry: Any) -> None:
    assert requests.get(f"{registry.url}/v2/", timeout=5).status_code == 401
    ok = requests.get(f"{registry.url}/v2/", auth=(registry.username, registry.password), timeout=5)
    assert ok.status_code == 200
    offset = 0
    assert [r.path for r in registry.requests_since(offset)].count("/v2/") >= 2


def test_token_registry_bearer_flow(token_registry: Any) -> None:
    first = requests.get(f"{token_registry.url}/v2/", timeout=5)
    assert first.status_code == 401
    assert first.headers["WWW-Authenticate"].startswith(f'Bearer realm="{token_registry.token_realm}"')
    bad = requests.get(token_registry.token_realm, auth=(token_registry.username, "wrong"), timeout=5)
    assert bad.status_code == 401
    token = requests.get(
        token_registry.token_realm, auth=(token_registry.username, token_registry.password),
        params={"service": "dify-action-test-registry"}, timeout=5,
    ).json()["token"]
    ok = requests.get(f"{token_registry.url}/v2/", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert ok.status_code == 200
