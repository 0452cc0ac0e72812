"""OCI 1.1 referrers: artifacts that point at an image through their manifest's ``subject``.

A registry that supports the referrers API indexes such a manifest when it is pushed and says so
with an ``OCI-Subject`` header; ``GET /v2/<name>/referrers/<digest>`` then lists it. A registry
without the API (distribution 2.x) stores the manifest but answers 404 there, so the caller also
tags it (cosign's ``sha256-<hex>.<kind>`` scheme, like the gate records).
Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-manifests-with-subject
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dify_action.errors import RegistryError
from dify_action.registry.client import RegistryClient
from dify_action.registry.model import OCI_INDEX, Manifest
from dify_action.registry.transport import _pull, _push


@dataclass(frozen=True)
class Referrer:
    digest: str
    media_type: str
    size: int
    artifact_type: str | None


def push_referrer(client: RegistryClient, repository: str, manifest: Manifest) -> bool:
    """PUT ``manifest`` by its digest; True when the registry indexed its ``subject`` (referrers API)."""
    response = client._request(
        "PUT", f"/v2/{repository}/manifests/{manifest.digest}", scopes=_push(repository),
        headers={"Content-Type": manifest.media_type}, data=manifest.body, what=f"{repository}@{manifest.digest}",
    )
    stored = response.headers.get("Docker-Content-Digest", manifest.digest)
    if stored != manifest.digest:
        raise RegistryError(f"{client.registry} stored {repository}@{manifest.digest} as {stored}",
                            hint="the registry rewrote the manifest; use one that keeps the bytes")
    return bool(response.headers.get("OCI-Subject"))


def list_referrers(client: RegistryClient, repository: str, digest: str,
                   artifact_type: str | None = None) -> list[Referrer] | None:
    """The referrers of ``repository@digest`` (optionally of one artifact type); None without the API."""
    response = client._request(
        "GET", f"/v2/{repository}/referrers/{digest}", scopes=_pull(repository), allow=(404,),
        params={"artifactType": artifact_type} if artifact_type else None, headers={"Accept": OCI_INDEX},
        what=f"referrers of {repository}@{digest}",
    )
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    if response.status_code == 404 or content_type != OCI_INDEX:
        return None  # no referrers API (a 2.x registry answers 404, some proxies an HTML page)
    try:
        manifests = json.loads(response.content).get("manifests") or []
    except (json.JSONDecodeError, AttributeError):
        raise RegistryError(f"the referrers of {repository}@{digest} are not an OCI index",
                            hint="the registry or a proxy answered something else; check the registry") from None
    found = [Referrer(m["digest"], m.get("mediaType", ""), int(m.get("size", 0)), m.get("artifactType"))
             for m in manifests if isinstance(m, dict) and isinstance(m.get("digest"), str)]
    return [d for d in found if artifact_type is None or d.artifact_type == artifact_type]
