"""The registry client against the real distribution registry (htpasswd and token auth)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dify_action.errors import InputError, RegistryError
from dify_action.registry import DOCKER_LIST, Credentials, Manifest, RegistryClient, RetryPolicy

pytestmark = pytest.mark.integration


def push(docker_client: Any, image: str, repository: str, tag: str, registry: Any) -> str:
    """Push ``image`` as ``repository:tag`` with the docker SDK; return the digest dockerd reports."""
    docker_client.images.get(image).tag(repository, tag)
    digest = None
    auth = {"username": registry.username, "password": registry.password}
    for line in docker_client.images.push(repository, tag=tag, auth_config=auth, stream=True, decode=True):
        assert "error" not in line, line
        digest = line.get("aux", {}).get("Digest", digest)
    assert digest
    return str(digest)


def client_for(registry: Any, **kwargs: Any) -> RegistryClient:
    return RegistryClient(registry.host, Credentials(registry.username, registry.password), **kwargs)


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(scope="module")
def pushed(docker_client: Any, base_image: str, registry: Any) -> tuple[str, str]:
    """(repository path, digest) of the base image pushed as itest/app:v1."""
    digest = push(docker_client, base_image, f"{registry.host}/itest/app", "v1", registry)
    return "itest/app", digest


@pytest.fixture(scope="module")
def token_pushed(docker_client: Any, base_image: str, token_registry: Any) -> tuple[str, str]:
    digest = push(docker_client, base_image, f"{token_registry.host}/team/api", "v1", token_registry)
    return "team/api", digest


def test_ping_and_resolve_digest_equal_to_push(registry: Any, pushed: tuple[str, str]) -> None:
    client = client_for(registry)
    assert client.ping() == "registry/2.0"
    repository, digest = pushed
    assert client.resolve_digest(f"{registry.host}/{repository}:v1") == digest
    assert client.exists(f"{registry.host}/{repository}:v1")
    assert client.exists(f"{registry.host}/{repository}@{digest}")
    assert not client.exists(f"{registry.host}/{repository}:nope")
    manifest = client.get_manifest(repository, "v1")
    assert manifest.digest == digest
    assert len(manifest.blobs()) == 4  # config + 3 layers of the stand-in base
    assert manifest.layers_size() > 500_000


def test_not_found_messages_name_repo_and_tag(registry: Any, pushed: tuple[str, str]) -> None:
    client = client_for(registry)
    with pytest.raises(RegistryError) as missing_tag:
        client.resolve_digest(f"{registry.host}/itest/app:does-not-exist")
    assert "itest/app:does-not-exist not found" in str(missing_tag.value)
    with pytest.raises(RegistryError) as missing_repo:
        client.get_manifest("itest/no-such-repo", "v1")
    assert "repository itest/no-such-repo does not exist" in str(missing_repo.value)
    with pytest.raises(InputError):
        client.exists("other.example.com/itest/app:v1")


def test_wrong_or_missing_password_is_a_clear_error_without_the_password(registry: Any) -> None:
    secret = "wrong-" + registry.password[::-1]
    with pytest.raises(RegistryError) as wrong:
        RegistryClient(registry.host, Credentials(registry.username, secret)).ping()
    text = str(wrong.value) + repr(wrong.value.hint)
    assert f"rejected the credentials of user {registry.username!r}" in text
    assert secret not in text and registry.password not in text
    with pytest.raises(RegistryError) as missing:
        RegistryClient(registry.host).ping()
    assert "requires credentials and none were given" in str(missing.value)
    shown = repr(Credentials("u", "hunter2")) + repr(RegistryClient("r.example", Credentials("u", "hunter2")))
    assert "Credentials" in shown and "hunter2" not in shown


def test_copy_tag_moves_no_layer(registry: Any, pushed: tuple[str, str]) -> None:
    repository, digest = pushed
    client = client_for(registry)
    offset = registry.log_offset()
    result = client.copy_tag(repository, "v1", "staging")
    assert result.changed and result.digest == digest
    seen = registry.requests_since(offset)
    assert not [r for r in seen if "/blobs/" in r.path], seen
    assert [r.method for r in seen if r.path.endswith("/manifests/staging")].count("PUT") == 1
    assert client.resolve_digest(f"{registry.host}/{repository}:staging") == digest
    again = client.copy_tag(repository, f"{digest}", "staging")
    assert not again.changed


def test_copy_to_another_repository_mounts_blobs(registry: Any, pushed: tuple[str, str],
                                                docker_client: Any) -> None:
    repository, digest = pushed
    client = client_for(registry)
    target = f"itest/promoted-{digest[7:15]}"
    offset = registry.log_offset()
    result = client.copy(repository, "v1", target, "prod")
    assert result.digest == digest and result.changed
    assert result.blobs_mounted == 4 and result.blobs_streamed == 0
    seen = registry.requests_since(offset)
    mounts = [r for r in seen if r.method == "POST" and "mount=" in r.path]
    assert len(mounts) == 4 and all(r.status == 201 for r in mounts)
    assert not [r for r in seen if r.method in ("PATCH", "PUT") and "/blobs/" in r.path]
    assert not [r for r in seen if r.method == "GET" and "/blobs/" in r.path]
    assert client.resolve_digest(f"{registry.host}/{target}:prod") == digest
    # the copy is a complete image: dockerd can pull it
    auth = {"username": registry.username, "password": registry.password}
    pulled = docker_client.images.pull(f"{registry.host}/{target}", tag="prod", auth_config=auth)
    assert pulled.attrs["RepoDigests"]
    offset = registry.log_offset()
    again = client.copy(repository, "v1", target, "prod")
    assert not again.changed and again.blobs_present == 4 and again.blobs_mounted == 0
    assert not [r for r in registry.requests_since(offset) if r.method == "PUT"]


def test_copy_of_an_index_copies_its_children_first(registry: Any, pushed: tuple[str, str]) -> None:
    repository, digest = pushed
    client = client_for(registry)
    child = client.get_manifest(repository, digest)
    index = {
        "schemaVersion": 2, "mediaType": DOCKER_LIST,
        "manifests": [{"mediaType": child.media_type, "digest": digest, "size": len(child.body),
                       "platform": {"architecture": "amd64", "os": "linux"}}],
    }
    body = json.dumps(index, indent=3).encode()
    from dify_action.registry import compute_digest

    index_digest = client.put_manifest(repository, "multi", Manifest(DOCKER_LIST, compute_digest(body), body))
    fetched = client.get_manifest(repository, "multi")
    assert fetched.is_index and fetched.body == body and fetched.digest == index_digest
    result = client.copy(repository, "multi", "itest/indexed", "multi")
    assert result.digest == index_digest and result.blobs_mounted == 4
    assert client.exists(f"{registry.host}/itest/indexed@{digest}")
    assert client.get_manifest("itest/indexed", "multi").body == body


def test_token_auth_bearer_flow(token_registry: Any, token_pushed: tuple[str, str]) -> None:
    repository, digest = token_pushed
    client = client_for(token_registry)
    with token_registry.token_log.open() as log:
        before = len(log.readlines())
    assert client.resolve_digest(f"{token_registry.host}/{repository}:v1") == digest
    assert client.exists(f"{token_registry.host}/{repository}:v1")
    assert client.copy_tag(repository, "v1", "staging").changed
    result = client.copy(repository, "v1", "team/api-prod", "v1")
    assert result.blobs_mounted == 4 and result.digest == digest
    assert client.resolve_digest(f"{token_registry.host}/team/api-prod:v1") == digest
    with token_registry.token_log.open() as log:
        requests_made = [json.loads(line) for line in log.readlines()[before:]]
    # tokens are cached per scope: one per distinct scope set, not one per request
    scope_sets = {tuple(sorted(entry["scopes"])) for entry in requests_made}
    assert len(requests_made) == len(scope_sets) <= 6
    assert ("repository:team/api-prod:pull,push", "repository:team/api:pull") in scope_sets


def test_token_auth_wrong_password(token_registry: Any) -> None:
    secret = "not-" + token_registry.password
    client = RegistryClient(token_registry.host, Credentials(token_registry.username, secret))
    with pytest.raises(RegistryError) as error:
        client.resolve_digest(f"{token_registry.host}/team/api:v1")
    assert "(token service) rejected the credentials" in str(error.value)
    assert secret not in str(error.value)


def test_retries_on_5xx_and_429_with_retry_after(registry: Any, pushed: tuple[str, str],
                                                 registry_proxy: Any) -> None:
    repository, digest = pushed
    sleeps = Sleeps()
    client = RegistryClient(registry_proxy.host, Credentials(registry.username, registry.password),
                            retry=RetryPolicy(attempts=4, base_delay=0.01, sleep=sleeps))
    registry_proxy.fail_next(2, 503, match="/manifests/")
    assert client.resolve_digest(f"{registry_proxy.host}/{repository}:v1") == digest
    assert sleeps.calls == [0.01, 0.02]
    registry_proxy.fail_next(1, 429, retry_after="3", match="/manifests/")
    assert client.get_manifest(repository, "v1").digest == digest
    assert sleeps.calls[-1] == 3.0
    injected = [r for r in registry_proxy.requests if r[2] in (429, 503)]
    assert len(injected) == 3


def test_retries_are_bounded(registry: Any, pushed: tuple[str, str], registry_proxy: Any) -> None:
    repository, _ = pushed
    sleeps = Sleeps()
    client = RegistryClient(registry_proxy.host, Credentials(registry.username, registry.password),
                            retry=RetryPolicy(attempts=3, base_delay=0.01, sleep=sleeps))
    registry_proxy.fail_next(50, 502, match="/manifests/")
    with pytest.raises(RegistryError) as error:
        client.get_manifest(repository, "v1")
    assert "answered 502" in str(error.value) and "retry later" in str(error.value)
    assert len([r for r in registry_proxy.requests if r[2] == 502]) == 3


def test_tampered_manifest_is_refused(registry: Any, pushed: tuple[str, str], registry_proxy: Any) -> None:
    repository, digest = pushed
    client = RegistryClient(registry_proxy.host, Credentials(registry.username, registry.password))
    client.ping()  # the 401 challenge is answered before we corrupt what follows
    registry_proxy.corrupt_next(1, "/manifests/v1")
    with pytest.raises(RegistryError) as error:
        client.get_manifest(repository, "v1")
    assert f"not {digest}" in str(error.value)
    registry_proxy.corrupt_next(1, f"/manifests/{digest}")
    with pytest.raises(RegistryError):
        client.get_manifest(repository, digest)


def test_unreachable_registry(registry: Any) -> None:
    from testbed import free_port

    client = RegistryClient(f"127.0.0.1:{free_port()}", retry=RetryPolicy(attempts=2, sleep=lambda _: None))
    with pytest.raises(RegistryError) as error:
        client.ping()
    assert "cannot reach registry" in str(error.value)
