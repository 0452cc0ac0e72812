"""Registry values: media types, descriptors, manifests, credentials, retry policy, copy results."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from dify_action.errors import RegistryError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join(MANIFEST_TYPES)


@dataclass(frozen=True)
class Credentials:
    """Username and password (or access token used as password). The password is never shown."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int


@dataclass(frozen=True)
class Manifest:
    """Manifest bytes as the registry stored them, with their verified digest."""

    media_type: str
    digest: str
    body: bytes = field(repr=False)

    @property
    def document(self) -> dict[str, Any]:
        data = json.loads(self.body)
        if not isinstance(data, dict):
            raise RegistryError(f"manifest {self.digest} is not a JSON object")
        return data

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def children(self) -> list[Descriptor]:
        """The platform manifests of an index (empty for an image manifest)."""
        if not self.is_index:
            return []
        return [_descriptor(item) for item in self.document.get("manifests", [])]

    def blobs(self) -> list[Descriptor]:
        """Config and layers of an image manifest (empty for an index)."""
        if self.is_index:
            return []
        doc = self.document
        items = ([doc["config"]] if "config" in doc else []) + list(doc.get("layers", []))
        return [_descriptor(item) for item in items]

    def layers_size(self) -> int:
        """Compressed size: the sum of the layer sizes the manifest declares."""
        return sum(int(item.get("size", 0)) for item in self.document.get("layers", []))


@dataclass(frozen=True)
class CopyResult:
    """What a tag copy or repository copy did; ``changed`` is False when the tag already pointed there."""

    source: str
    target: str
    digest: str
    changed: bool
    blobs_mounted: int = 0
    blobs_present: int = 0
    blobs_streamed: int = 0

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _descriptor(item: Mapping[str, Any]) -> Descriptor:
    return Descriptor(str(item.get("mediaType", "")), str(item["digest"]), int(item.get("size", 0)))


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def default_scheme(registry: str) -> str:
    """Plain HTTP only for loopback registries (as dockerd allows); HTTPS everywhere else."""
    host = urlsplit(f"//{registry}").hostname or ""
    if host == "localhost":
        return "http"
    try:
        return "http" if ipaddress.ip_address(host).is_loopback else "https"
    except ValueError:
        return "https"
