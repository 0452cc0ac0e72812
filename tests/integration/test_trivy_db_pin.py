"""A vulnerability DB pinned by digest (issue 20), in the real registry: fetched and verified with our
client, reused only while marked with the same pin, and refused when the registry (here a
corrupting proxy in front of it) serves other bytes than the pinned ones."""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
import tarfile
from pathlib import Path
from typing import Any

import pytest

from dify_action import refs
from dify_action.config.load import Scanners, ScanPolicy
from dify_action.errors import DifyActionError, InputError, RegistryError
from dify_action.registry import OCI_MANIFEST, Credentials, Manifest, RegistryClient, compute_digest
from dify_action.scan.dbpin import DB_LAYER, MARKER, ensure_db, parse_pin, refuse_unpinned
from dify_action.scan.tools import ScanRequest, Tools, run_scan

pytestmark = pytest.mark.integration


def db_archive(marker: bytes) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for name, body in {"trivy.db": b"bolt" + marker, "metadata.json": b'{"Version": 2}',
                           "../escape": b"never written"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return data.getvalue()


def push_db(client: RegistryClient, repository: str, marker: bytes) -> str:
    layer = client.push_blob(repository, db_archive(marker))
    config = client.push_blob(repository, b"{}")
    kind = "application/vnd.aquasec.trivy.config.v1+json"
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind,
                       "config": {"mediaType": kind, "digest": config.digest, "size": config.size},
                       "layers": [{"mediaType": DB_LAYER, "digest": layer.digest, "size": layer.size}]}).encode()
    return client.put_manifest(repository, "2", Manifest(OCI_MANIFEST, compute_digest(body), body))


@pytest.fixture
def client(registry: Any) -> RegistryClient:
    return RegistryClient(registry.host, Credentials(registry.username, registry.password))


def test_the_pinned_db_is_fetched_verified_and_reused(registry: Any, client: RegistryClient, tmp_path: Path) -> None:
    repository = f"trivy{secrets.token_hex(3)}/trivy-db"
    first = push_db(client, repository, b"one")
    pin = parse_pin(f"{registry.host}/{repository}@{first}")
    db = ensure_db(client, pin, tmp_path)
    assert (db / "trivy.db").read_bytes() == b"boltone" and (db / MARKER).read_text().strip() == first
    assert not (tmp_path / "escape").exists() and sorted(p.name for p in db.iterdir()) == [
        MARKER, "metadata.json", "trivy.db"]
    refuse_unpinned(tmp_path, first)
    second = push_db(client, repository, b"two")  # the tag moves: the pin does not follow it
    with pytest.raises(DifyActionError, match="not the pinned"):
        refuse_unpinned(tmp_path, second)
    assert (ensure_db(client, pin, tmp_path) / "trivy.db").read_bytes() == b"boltone"


def test_a_db_served_with_other_bytes_is_refused(registry: Any, registry_proxy: Any, tmp_path: Path,
                                                client: RegistryClient) -> None:
    repository = f"trivy{secrets.token_hex(3)}/trivy-db"
    digest = push_db(client, repository, b"one")
    proxied = RegistryClient(registry_proxy.host, Credentials(registry.username, registry.password))
    pin = refs.parse(f"{registry_proxy.host}/{repository}@{digest}")
    registry_proxy.corrupt_next(1, "/blobs/sha256:")  # the DB layer (the manifest is read first)
    with pytest.raises(RegistryError, match="does not match its digest"):
        ensure_db(proxied, pin, tmp_path)
    assert not (tmp_path / "db").exists()
    registry_proxy.corrupt_next(1, "/manifests/")
    with pytest.raises(RegistryError, match="hashes to"):
        ensure_db(proxied, pin, tmp_path)
    # the scan stops before any scanner runs
    tools = Tools(trivy="/bin/false", hadolint=None, cache_dir=str(tmp_path))
    registry_proxy.corrupt_next(1, "/blobs/sha256:")
    request = ScanRequest(image_archive=Path(__file__), trivy_db=str(pin),
                          credentials=Credentials(registry.username, registry.password))
    with pytest.raises(RegistryError, match="does not match its digest"):
        run_scan(request, ScanPolicy(scanners=Scanners(secret=False, misconfig=False, hadolint=False)), tools,
                 today=dt.date(2026, 12, 7))


def test_a_tag_is_not_a_pin() -> None:
    with pytest.raises(InputError, match="pinned by digest"):
        parse_pin("ghcr.io/aquasecurity/trivy-db:2")
