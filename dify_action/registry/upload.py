"""Push an image from the Docker engine to a registry by digest only, with our own client (no tag).

``docker push`` needs a tag, and a tag pushed for one platform of a multi-platform set would point
at a half-built set (issue 20: "tags never point at a half-built set"). So the platform images go
up through the registry API: ``docker save`` gives the config and the uncompressed layers, each
layer is gzipped (mtime 0, so the same layer always gives the same blob and a re-run uploads
nothing), uploaded unless the registry has it, and the OCI image manifest is PUT by its digest.
Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-blobs
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dify_action.errors import RegistryError
from dify_action.registry.client import RegistryClient
from dify_action.registry.model import OCI_MANIFEST, Descriptor, Manifest, compute_digest
from dify_action.registry.transport import _push

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Uploaded:
    """An image pushed by digest: its manifest, the platform its config names, the bytes moved."""

    digest: str
    size: int  # the manifest's own size (an index descriptor's ``size``)
    compressed_size: int  # the sum of its layers
    platform: dict[str, str]
    blobs_uploaded: int
    blobs_present: int


def upload_image(client: RegistryClient, repository: str, saved: Iterable[bytes]) -> Uploaded:
    """Upload the image in ``saved`` (the chunks of ``docker save`` of ONE image) by digest."""
    with tempfile.TemporaryDirectory(prefix="dify-action-save-") as temp:
        archive = Path(temp) / "image.tar"
        with archive.open("wb") as out:
            for chunk in saved:
                out.write(chunk)
        with tarfile.open(archive) as tar:
            index = json.loads(_member(tar, "manifest.json"))
            if not isinstance(index, list) or len(index) != 1:
                raise RegistryError("docker save gave an archive of several images; expected one")
            config_bytes = _member(tar, str(index[0]["Config"]))
            config = json.loads(config_bytes)
            counts = [0, 0]
            layers = [_layer(client, repository, tar, str(name), Path(temp), counts) for name in index[0]["Layers"]]
        config_blob = _blob(client, repository, config_bytes, counts)
    document = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_blob.digest, "size": config_blob.size},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": d.digest, "size": d.size} for d in layers],
    }
    body = json.dumps(document, separators=(",", ":")).encode()
    manifest = Manifest(OCI_MANIFEST, compute_digest(body), body)
    client.put_manifest(repository, manifest.digest, manifest)
    return Uploaded(manifest.digest, len(body), sum(d.size for d in layers), platform_of(config),
                    counts[0], counts[1])


def platform_of(config: dict[str, object]) -> dict[str, str]:
    """The OCI ``platform`` of an image config (os, architecture, variant when there is one)."""
    out = {"architecture": str(config.get("architecture") or ""), "os": str(config.get("os") or "")}
    if config.get("variant"):
        out["variant"] = str(config["variant"])
    return out


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    handle = tar.extractfile(name)
    if handle is None:
        raise RegistryError(f"docker save gave no {name} in its archive")
    with handle:
        return handle.read()


def _layer(client: RegistryClient, repository: str, tar: tarfile.TarFile, name: str, temp: Path,
           counts: list[int]) -> Descriptor:
    """Gzip one layer into a spool file (hashing as it goes), then upload it unless present."""
    source = tar.extractfile(name)
    if source is None:
        raise RegistryError(f"docker save gave no layer {name} in its archive")
    packed = temp / "layer.gz"
    hasher = hashlib.sha256()
    with source, packed.open("wb") as raw, \
            gzip.GzipFile(fileobj=_Hashing(raw, hasher), mode="wb", mtime=0, compresslevel=6) as gz:
        shutil.copyfileobj(source, gz, _CHUNK)
    digest, size = f"sha256:{hasher.hexdigest()}", packed.stat().st_size
    if client.blob_exists(repository, digest):
        counts[1] += 1
    else:
        with packed.open("rb") as data:
            _put(client, repository, digest, data, size)
        counts[0] += 1
    return Descriptor(OCI_LAYER_GZIP, digest, size)


def _blob(client: RegistryClient, repository: str, data: bytes, counts: list[int]) -> Descriptor:
    digest = compute_digest(data)
    if client.blob_exists(repository, digest):
        counts[1] += 1
    else:
        client.push_blob(repository, data)
        counts[0] += 1
    return Descriptor(OCI_CONFIG, digest, len(data))


def _put(client: RegistryClient, repository: str, digest: str, data: IO[bytes], size: int) -> None:
    """A monolithic upload (POST, then PUT with the digest) streamed from a file."""
    start = client._request("POST", f"/v2/{repository}/blobs/uploads/", scopes=_push(repository), allow=(202,),
                            what=f"upload to {repository}")
    location = start.headers["Location"]
    joiner = "&" if "?" in location else "?"
    client._request("PUT", f"{location}{joiner}digest={digest}", scopes=_push(repository), data=data,
                    headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                    what=f"upload of {digest}")


class _Hashing:
    """A write-only file that hashes what passes through it (gzip writes its output here)."""

    def __init__(self, raw: IO[bytes], hasher: hashlib._Hash) -> None:
        self.raw, self.hasher = raw, hasher

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()
