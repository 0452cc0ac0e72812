"""Copy an image set to another repository of the same registry: the index (or image), every
platform manifest, and every artifact about any of them (gate records, SBOMs, provenance), by blob
mounts: no layer is downloaded or uploaded when the registry mounts.

Promote across repositories (``acme/dify-api`` -> ``prod/dify-api``) must keep what promote checks
next to each digest, or the next promote from there would find no gates; the digests stay
byte-identical because the manifest bytes are PUT as they were read.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from dify_action import refs
from dify_action.registry.client import RegistryClient
from dify_action.registry.index import referrer_manifests
from dify_action.registry.model import Manifest


@dataclass(frozen=True)
class MirrorResult:
    """What a set copy did: the top digest, every manifest written, and the blobs moved."""

    source: str
    target: str
    digest: str
    manifests: tuple[str, ...]  # digests of every manifest now in the target (index, children, artifacts)
    blobs_mounted: int
    blobs_streamed: int  # nonzero only when the registry refused a mount

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "target": self.target, "digest": self.digest,
                "manifests": list(self.manifests), "blobs_mounted": self.blobs_mounted,
                "blobs_streamed": self.blobs_streamed}


def copy_set(client: RegistryClient, source_repository: str, reference: str, target_repository: str,
             tag: str | None = None) -> MirrorResult:
    """Copy ``source_repository:reference`` (tag or digest) and everything about it; tag it last."""
    if tag is not None:
        refs.validate_tag(tag, input_name="tag")
    top = client.get_manifest(source_repository, reference)
    counts = [0, 0]
    written: list[str] = []
    subjects = [top.digest, *(child.digest for child in top.children())]
    with ThreadPoolExecutor(max_workers=8) as pool:
        _put(client, source_repository, target_repository, top, top.digest, counts, written, pool)
        for subject in subjects:  # artifacts after their subjects: a registry may check the subject exists
            for where, digest in referrer_manifests(client, source_repository, subject).items():
                artifact = client.get_manifest(source_repository, digest)
                _put(client, source_repository, target_repository, artifact, where, counts, written, pool)
    if tag is not None:
        client.put_manifest(target_repository, tag, top)
    name = f"{target_repository}:{tag}" if tag else f"{target_repository}@{top.digest}"
    return MirrorResult(f"{source_repository}:{reference}", name, top.digest, tuple(dict.fromkeys(written)),
                        counts[0], counts[1])


def _put(client: RegistryClient, src: str, dst: str, manifest: Manifest, reference: str, counts: list[int],
         written: list[str], pool: ThreadPoolExecutor) -> None:
    client._copy_content(src, dst, manifest, counts, pool)  # children first, their blobs mounted
    written.extend(child.digest for child in manifest.children())
    client.put_manifest(dst, reference, manifest)
    written.append(manifest.digest)
