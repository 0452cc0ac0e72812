"""OCI image indexes: write one from platform manifests already in the registry, read its platforms,
and copy an index with every child and every referrer to another repository without moving layers.

The index is written by our own client (no buildx): each child's descriptor (media type, digest,
size) comes from the registry's answer and its ``platform`` from the child's config blob, so the
index cannot name a platform its image was not built for. Tags are PUT last, after the index
exists by digest: a tag never points at a half-built set.
Spec: https://github.com/opencontainers/image-spec/blob/main/image-index.md
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from dify_action import refs
from dify_action.errors import InputError, RegistryError
from dify_action.registry.client import RegistryClient
from dify_action.registry.labels import EMPTY_TYPE
from dify_action.registry.model import OCI_INDEX, Manifest, compute_digest
from dify_action.registry.referrers import list_referrers

PLATFORM_RE = re.compile(r"([a-z0-9_]+)/([a-z0-9_]+)(?:/([a-z0-9_.]+))?")
# the fallback tags of artifacts about a digest: gate records, SBOMs, provenance (cosign's scheme)
_ARTIFACT_SUFFIXES = (".gates", ".cyclonedx.sbom", ".spdx.sbom", ".provenance")


@dataclass(frozen=True)
class PlatformImage:
    """One platform manifest of an index: ``platform`` as ``os/arch[/variant]``."""

    platform: str
    digest: str
    size: int
    media_type: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"platform": self.platform, "digest": self.digest, "size": self.size}


def parse_platforms(text: str, input_name: str = "platforms") -> tuple[str, ...]:
    """``linux/amd64,linux/arm64`` -> the platforms, each once, in order (InputError otherwise)."""
    items = [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]
    if not items:
        raise InputError(input_name, text, "os/arch[/variant] platforms, e.g. linux/amd64,linux/arm64")
    for item in items:
        if not PLATFORM_RE.fullmatch(item):
            raise InputError(input_name, text, f"os/arch[/variant] in lowercase, e.g. linux/amd64 ({item!r} is not)")
    if len(set(items)) != len(items):
        raise InputError(input_name, text, "each platform once")
    return tuple(items)


def platform_name(platform: Mapping[str, object]) -> str:
    """An OCI ``platform`` object -> ``os/arch[/variant]``."""
    name = f"{platform.get('os', '')}/{platform.get('architecture', '')}"
    return f"{name}/{platform['variant']}" if platform.get("variant") else name


def platform_object(name: str) -> dict[str, str]:
    match = PLATFORM_RE.fullmatch(name)
    if match is None:
        raise InputError("platform", name, "os/arch[/variant], e.g. linux/arm64")
    out = {"architecture": match.group(2), "os": match.group(1)}
    return out | ({"variant": match.group(3)} if match.group(3) else {})


def same_platform(wanted: str, built: str) -> bool:
    """linux/arm64 is linux/arm64/v8 (the engine may or may not write the default variant)."""
    norm = {"linux/arm64/v8": "linux/arm64", "linux/amd64/v1": "linux/amd64"}
    return norm.get(wanted, wanted) == norm.get(built, built)


def image_platform(client: RegistryClient, repository: str, digest: str) -> PlatformImage:
    """What the image manifest ``digest`` is built for, read from its config blob (no layer)."""
    manifest = client.get_manifest(repository, digest)
    if manifest.is_index:
        raise RegistryError(f"{repository}@{digest} is an index, not one platform's image",
                            hint="give the digest each platform job pushed (build --push-by-digest)")
    config = manifest.document.get("config") or {}
    if not isinstance(config, dict) or config.get("mediaType") == EMPTY_TYPE or "digest" not in config:
        raise RegistryError(f"{repository}@{digest} is an artifact, not an image")
    data = json.loads(client.get_blob(repository, str(config["digest"])))
    platform = {k: str(data[k]) for k in ("os", "architecture", "variant") if isinstance(data, dict) and data.get(k)}
    return PlatformImage(platform_name(platform), digest, len(manifest.body), manifest.media_type)


def write_index(client: RegistryClient, repository: str, images: Sequence[PlatformImage],
                annotations: dict[str, str] | None = None) -> Manifest:
    """PUT the OCI index of ``images`` by its digest (no tag); every child must already be there."""
    if not images:
        raise InputError("platforms", "", "at least one platform image to put in the index")
    seen = [i.platform for i in images]
    if len(set(seen)) != len(seen):
        raise InputError("platforms", ", ".join(seen), "each platform once in an index")
    manifests = []
    for image in images:
        served = client.head_manifest(repository, image.digest)
        if served is None:
            raise RegistryError(f"{repository}@{image.digest} ({image.platform}) is not in {client.registry}",
                                hint=f"the {image.platform} build did not push; re-run its job, then the merge")
        manifests.append({"mediaType": served.media_type or image.media_type, "digest": image.digest,
                          "size": served.size or image.size, "platform": platform_object(image.platform)})
    document: dict[str, object] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    if annotations:
        document["annotations"] = dict(sorted(annotations.items()))
    body = json.dumps(document, separators=(",", ":")).encode()
    index = Manifest(OCI_INDEX, compute_digest(body), body)
    client.put_manifest(repository, index.digest, index)
    return index


def tag_index(client: RegistryClient, repository: str, index: Manifest, tags: Iterable[str]) -> tuple[str, ...]:
    """Point every tag at the index (the same bytes: no conversion); returns the tags written."""
    written = []
    for tag in tags:
        refs.validate_tag(tag, input_name="tag")
        client.put_manifest(repository, tag, index)
        written.append(tag)
    return tuple(written)


def platforms_of(client: RegistryClient, repository: str, reference: str) -> tuple[PlatformImage, ...]:
    """The platform images of an index (attestation entries, ``unknown/unknown``, are not platforms);
    for a plain image manifest, that one image."""
    manifest = client.get_manifest(repository, reference)
    if not manifest.is_index:
        return (image_platform(client, repository, manifest.digest),)
    out = []
    for item in manifest.document.get("manifests") or []:
        platform = item.get("platform") or {}
        annotations = item.get("annotations") or {}
        if "vnd.docker.reference.type" in annotations or platform.get("os") == "unknown":
            continue  # BuildKit's attestation manifests ride in the index; they are not platforms
        out.append(PlatformImage(platform_name(platform), str(item["digest"]), int(item.get("size", 0)),
                                 str(item.get("mediaType", ""))))
    return tuple(out)


def artifact_tags(digest: str) -> tuple[str, ...]:
    """The fallback tags artifacts about ``digest`` may sit under."""
    stem = digest.replace(":", "-", 1)
    return tuple(stem + suffix for suffix in _ARTIFACT_SUFFIXES)


def referrer_manifests(client: RegistryClient, repository: str, digest: str) -> dict[str, str]:
    """Every artifact about ``digest``: {reference to copy under (tag or digest): manifest digest}."""
    found: dict[str, str] = {}
    for referrer in list_referrers(client, repository, digest) or []:
        found[referrer.digest] = referrer.digest
    for tag in artifact_tags(digest):
        served = client.head_manifest(repository, tag)
        if served is not None:
            found[tag] = served.digest
    return found
