"""The registry client for the distribution / OCI registry API (requests): manifests, tag copy, blob mount.

Promote and rollback use it to check an image exists, resolve its digest and add tags without
pulling or pushing layers: a tag copy is a PUT of the very same manifest bytes under a new tag,
and a copy to another repository of the same registry mounts each blob across repositories
(``POST /v2/<dst>/blobs/uploads/?mount=<digest>&from=<src>``) before the manifest PUT.
Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md and the token flow
https://distribution.github.io/distribution/spec/auth/token/ .
Credentials are values given by the caller; they never appear in messages or reprs.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import urljoin

from dify_action import refs
from dify_action.errors import InputError, RegistryError
from dify_action.registry.model import (
    ACCEPT,
    MANIFEST_TYPES,
    MAX_MANIFEST,
    CopyResult,
    Credentials,
    Descriptor,
    Manifest,
    compute_digest,
)
from dify_action.registry.model import hasher as new_hasher
from dify_action.registry.transport import Transport, _pull, _push

if TYPE_CHECKING:
    import requests

_PARALLEL = 8


class RegistryClient(Transport):
    """Manifests, tags and blobs of one registry; see Transport for auth and retries."""

    # -- public API -------------------------------------------------------------------------
    def ping(self) -> str:
        """Check the registry answers the API and the credentials work; returns the API version."""
        response = self._request("GET", "/v2/", scopes=(), what="the registry API (/v2/)")
        return response.headers.get("Docker-Distribution-API-Version", "registry/2.0")

    def head_manifest(self, repository: str, reference: str) -> Descriptor | None:
        """The manifest's descriptor, or None when the tag/digest does not exist."""
        response = self._request("HEAD", f"/v2/{repository}/manifests/{reference}", scopes=_pull(repository),
                                 headers={"Accept": ACCEPT}, allow=(404,), what=f"{repository}:{reference}")
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest")
        if not digest:  # some registries omit it on HEAD: fetch and hash
            manifest = self.get_manifest(repository, reference)
            return Descriptor(manifest.media_type, manifest.digest, len(manifest.body))
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return Descriptor(media_type, digest, int(response.headers.get("Content-Length") or 0))

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """Fetch a manifest and verify its bytes hash to the digest asked for / reported."""
        response = self._request("GET", f"/v2/{repository}/manifests/{reference}", scopes=_pull(repository),
                                 headers={"Accept": ACCEPT}, what=f"{repository}:{reference}", cap=MAX_MANIFEST)
        body = response.content
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES and body:
            declared = Manifest(media_type, reference, body).document.get("mediaType")
            media_type = declared if isinstance(declared, str) else media_type
        expected = reference if refs.DIGEST_RE.fullmatch(reference) else response.headers.get(
            "Docker-Content-Digest")
        algorithm = (expected or "sha256").split(":", 1)[0]
        actual = compute_digest(body, algorithm)
        if expected and actual != expected:
            raise RegistryError(
                f"manifest {repository}:{reference} from {self.registry} hashes to {actual}, "
                f"not {expected}",
                hint="the registry or a proxy altered the manifest; do not deploy it, check the registry",
            )
        return Manifest(media_type, actual, body)

    def exists(self, ref: refs.ImageRef | str) -> bool:
        repository, reference = self._split(ref)
        return self.head_manifest(repository, reference) is not None

    def resolve_digest(self, ref: refs.ImageRef | str) -> str:
        """The digest the registry serves for ``ref`` (RegistryError when it does not exist)."""
        repository, reference = self._split(ref)
        descriptor = self.head_manifest(repository, reference)
        if descriptor is None:
            raise self._not_found(repository, reference)
        return descriptor.digest

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> str:
        response = self._request(
            "PUT", f"/v2/{repository}/manifests/{reference}", scopes=_push(repository),
            headers={"Content-Type": manifest.media_type}, data=manifest.body,
            what=f"{repository}:{reference}",
        )
        digest = response.headers.get("Docker-Content-Digest", manifest.digest)
        if digest != manifest.digest:
            raise RegistryError(
                f"{self.registry} stored {repository}:{reference} as {digest}, expected {manifest.digest}",
                hint="the registry rewrote the manifest (schema conversion?); use one that keeps the bytes",
            )
        return digest

    def copy_tag(self, repository: str, source: str, new_tag: str) -> CopyResult:
        """Tag ``repository:source`` (tag or digest) also as ``new_tag``: one manifest GET and PUT."""
        refs.validate_tag(new_tag, input_name="tag")
        manifest = self.get_manifest(repository, source)
        current = self.head_manifest(repository, new_tag)
        if current is not None and current.digest == manifest.digest:
            return CopyResult(f"{repository}:{source}", f"{repository}:{new_tag}", manifest.digest, False)
        self.put_manifest(repository, new_tag, manifest)
        return CopyResult(f"{repository}:{source}", f"{repository}:{new_tag}", manifest.digest, True)

    def copy(self, source_repository: str, source: str, target_repository: str, new_tag: str) -> CopyResult:
        """Copy an image (or index) to another repository of this registry by blob mounts.

        The mounts and the check of the target tag run side by side: on a loopback registry the
        copy is a handful of round trips, so latency is what there is to save.
        """
        if source_repository == target_repository:
            return self.copy_tag(source_repository, source, new_tag)
        refs.validate_tag(new_tag, input_name="tag")
        manifest = self.get_manifest(source_repository, source)
        names = (f"{source_repository}:{source}", f"{target_repository}:{new_tag}")
        counts = [0, 0]
        with ThreadPoolExecutor(max_workers=_PARALLEL) as pool:
            current = pool.submit(self.head_manifest, target_repository, new_tag)
            self._copy_content(source_repository, target_repository, manifest, counts, pool)
            existing = current.result()
        if existing is not None and existing.digest == manifest.digest:
            return CopyResult(*names, manifest.digest, False, blobs_present=counts[0] + counts[1])
        self.put_manifest(target_repository, new_tag, manifest)
        return CopyResult(*names, manifest.digest, True, blobs_mounted=counts[0], blobs_streamed=counts[1])

    # -- copy helpers ----------------------------------------------------------------------------
    def _copy_content(self, src: str, dst: str, manifest: Manifest, counts: list[int],
                      pool: ThreadPoolExecutor) -> None:
        for child in manifest.children():  # an index: its platform manifests must exist first
            child_manifest = self.get_manifest(src, child.digest)
            self._copy_content(src, dst, child_manifest, counts, pool)
            self.put_manifest(dst, child.digest, child_manifest)
        blobs = [blob.digest for blob in manifest.blobs()]
        self._auth_header(tuple(sorted({*_push(dst), *_pull(src)})))  # one token fetch, not one per thread
        mounted = list(pool.map(lambda digest: self._mount(dst, digest, src), blobs))
        for digest, ok in zip(blobs, mounted, strict=True):
            if ok:
                counts[0] += 1
            else:
                self._stream_blob(src, dst, digest)
                counts[1] += 1

    def blob_exists(self, repository: str, digest: str) -> bool:
        response = self._request("HEAD", f"/v2/{repository}/blobs/{digest}", scopes=_pull(repository),
                                 allow=(404,), what=f"blob {digest} in {repository}")
        return response.status_code == 200

    def get_blob(self, repository: str, digest: str, max_size: int = 4 << 20) -> bytes:
        """A small blob (an image config, an artifact), verified against its digest."""
        body = self._request("GET", f"/v2/{repository}/blobs/{digest}", scopes=_pull(repository),
                             what=f"blob {digest} in {repository}", cap=max_size).content
        if compute_digest(body, digest.split(":", 1)[0]) != digest:
            raise RegistryError(f"blob {digest} from {repository} does not match its digest",
                                hint="the registry or a proxy altered the blob; check the registry")
        return bytes(body)

    @contextlib.contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[IO[bytes]]:
        """A blob as a stream (``with``), for layers too large to hold; the caller verifies the
        digest. The request's deadline runs until the block ends."""
        response = self._request("GET", f"/v2/{repository}/blobs/{digest}", scopes=_pull(repository),
                                 what=f"blob {digest} in {repository}", stream=True)
        try:
            yield cast(IO[bytes], response.raw)
        finally:
            self._done(response)

    def push_blob(self, repository: str, data: bytes) -> Descriptor:
        """Upload a small blob monolithically (POST then PUT with the digest); skipped when present."""
        digest = compute_digest(data)
        if not self.blob_exists(repository, digest):
            start = self._request("POST", f"/v2/{repository}/blobs/uploads/", scopes=_push(repository),
                                  allow=(202,), what=f"upload to {repository}")
            location = self._location(start, f"upload to {repository}")
            joiner = "&" if "?" in location else "?"
            self._request("PUT", f"{location}{joiner}digest={digest}", scopes=_push(repository), data=data,
                          headers={"Content-Type": "application/octet-stream"}, what=f"upload of {digest}")
        return Descriptor("application/octet-stream", digest, len(data))

    def _mount(self, dst: str, digest: str, src: str) -> bool:
        response = self._request(
            "POST", f"/v2/{dst}/blobs/uploads/", params={"mount": digest, "from": src},
            scopes=(*_push(dst), *_pull(src)), allow=(202,), what=f"mount of {digest} into {dst}",
        )
        if response.status_code == 201:
            return True
        # 202: the registry opened an upload instead (no mount support or no pull on src): cancel it
        location = response.headers.get("Location")
        if location:
            self._request("DELETE", location, scopes=_push(dst), allow=(404, 405), what="upload cancel")
        return False

    def _stream_blob(self, src: str, dst: str, digest: str) -> None:
        """Fallback when a mount is refused: copy the blob through a spooled temp file."""
        algorithm = digest.split(":", 1)[0]
        hasher = new_hasher(algorithm)
        with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
            response = self._request("GET", f"/v2/{src}/blobs/{digest}", scopes=_pull(src), stream=True,
                                     what=f"blob {digest} in {src}")
            try:
                for chunk in response.iter_content(1 << 20):
                    hasher.update(chunk)
                    spool.write(chunk)
            except OSError as error:
                raise RegistryError(f"blob {digest} from {src} broke off: {type(error).__name__}") from None
            finally:
                self._done(response)
            if f"{algorithm}:{hasher.hexdigest()}" != digest:
                raise RegistryError(f"blob {digest} from {src} does not match its digest")
            start = self._request("POST", f"/v2/{dst}/blobs/uploads/", scopes=_push(dst), allow=(202,),
                                  what=f"upload to {dst}")
            location = self._location(start, f"upload to {dst}")
            joiner = "&" if "?" in location else "?"
            size = spool.tell()
            self._request("PUT", f"{location}{joiner}digest={digest}", scopes=_push(dst), data=spool,
                          headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                          what=f"upload of {digest}")

    def _location(self, response: requests.Response, what: str) -> str:
        """The upload URL a registry answered with, made absolute against the registry's own URL (a
        relative one is its origin; credentials follow only to that origin, see ``_attempts``)."""
        location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"registry {self.registry} started the {what} without a Location")
        return urljoin(self.base_url + "/", location)

    def _split(self, ref: refs.ImageRef | str) -> tuple[str, str]:
        parsed = refs.parse(ref) if isinstance(ref, str) else ref
        if parsed.registry.lower() != self.registry.lower():
            raise InputError("image", str(parsed), f"expected an image in registry {self.registry}")
        return parsed.remote_path, parsed.digest or parsed.tag or "latest"


RegistryFor = Callable[[str], RegistryClient]  # registry host -> client (with the run's credentials)


def clients_for(credentials: Credentials | None, **options: Any) -> RegistryFor:
    """One client per registry host, made on first use, all with ``credentials`` (and ``options``:
    RegistryClient's retry, timeout and deadline)."""
    clients: dict[str, RegistryClient] = {}

    def get(host: str) -> RegistryClient:
        if host not in clients:
            clients[host] = RegistryClient(host, credentials, **options)
        return clients[host]

    return get
