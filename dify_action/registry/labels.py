"""An image's config labels, read from the registry: the manifest and the config blob, no layer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType

from dify_action.registry.client import RegistryClient

EMPTY_TYPE = "application/vnd.oci.empty.v1+json"  # the config of an artifact (a gate record, an SBOM)


def image_labels(client: RegistryClient, repository: str, reference: str) -> Mapping[str, str]:
    """The config labels of an image (of its first platform for an index); {} when it has none."""
    manifest = client.get_manifest(repository, reference)
    if manifest.is_index:
        children = manifest.children()
        if not children:
            return MappingProxyType({})
        manifest = client.get_manifest(repository, children[0].digest)
    config = manifest.document.get("config") or {}
    if not isinstance(config, dict) or config.get("mediaType") == EMPTY_TYPE or "digest" not in config:
        return MappingProxyType({})
    data = json.loads(client.get_blob(repository, str(config["digest"])))
    labels = ((data.get("config") or {}).get("Labels") or {}) if isinstance(data, dict) else {}
    return MappingProxyType({str(k): str(v) for k, v in labels.items()})
