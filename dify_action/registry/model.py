"""Registry values: media types, descriptors, manifests, credentials, retry policy, copy results."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from dify_action import untrusted
from dify_action.errors import RegistryError
from dify_action.refs import DIGEST_RE

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join(MANIFEST_TYPES)
ALGORITHMS = ("sha256", "sha384", "sha512")
MAX_MANIFEST = 4 << 20  # what the distribution spec says registries must accept; larger is refused
MAX_ANSWER = 4 << 20  # any other JSON answer (tags list, token, errors)


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
    def document(self) -> Mapping[str, Any]:
        """The manifest as JSON, bounded and checked to be an object (RegistryError otherwise)."""
        return untrusted.json_object(self.body, f"manifest {self.digest}", max_bytes=MAX_MANIFEST,
                                     error=RegistryError)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def children(self) -> list[Descriptor]:
        """The platform manifests of an index (empty for an image manifest)."""
        if not self.is_index:
            return []
        what = f"manifest {self.digest}: manifests"
        return [_descriptor(item, what) for item in untrusted.objects(self.document.get("manifests"), what,
                                                                       RegistryError)]

    def blobs(self) -> list[Descriptor]:
        """Config and layers of an image manifest (empty for an index)."""
        if self.is_index:
            return []
        doc = self.document
        what = f"manifest {self.digest}"
        config = [untrusted.as_object(doc["config"], f"{what}: config", RegistryError)] if "config" in doc else []
        return [_descriptor(item, what) for item in
                config + untrusted.objects(doc.get("layers"), f"{what}: layers", RegistryError)]

    def layers(self) -> list[Descriptor]:
        """The layers an image manifest declares, each checked (digest, non-negative size)."""
        what = f"manifest {self.digest}: layers"
        return [_descriptor(item, what) for item in untrusted.objects(self.document.get("layers"), what,
                                                                       RegistryError)]

    def layers_size(self) -> int:
        """Compressed size: the sum of the layer sizes the manifest declares."""
        return sum(layer.size for layer in self.layers())


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


def _descriptor(item: Mapping[str, object], what: str) -> Descriptor:
    """A descriptor whose digest is a digest and whose size is a non-negative integer."""
    digest = untrusted.string(item, "digest", what, error=RegistryError)
    if not DIGEST_RE.fullmatch(digest):
        raise RegistryError(f"{what}: {digest[:80]!r} is not a sha256/sha384/sha512 digest")
    return Descriptor(untrusted.string(item, "mediaType", what, default="", error=RegistryError), digest,
                      untrusted.size(item, "size", what, default=0, error=RegistryError))


def hasher(algorithm: str) -> Any:
    """A hash object for a digest algorithm a registry names; only the ones OCI allows (RegistryError)."""
    if algorithm not in ALGORITHMS:
        raise RegistryError(f"digest algorithm {algorithm[:40]!r} is not one of {', '.join(ALGORITHMS)}",
                            hint="the registry or the manifest names an unknown algorithm; check the registry")
    return hashlib.new(algorithm)


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    digest = hasher(algorithm)
    digest.update(data)
    return f"{algorithm}:{digest.hexdigest()}"


def default_scheme(registry: str) -> str:
    """Plain HTTP only for loopback registries (as dockerd allows); HTTPS everywhere else."""
    host = urlsplit(f"//{registry}").hostname or ""
    if host == "localhost":
        return "http"
    try:
        return "http" if ipaddress.ip_address(host).is_loopback else "https"
    except ValueError:
        return "https"
