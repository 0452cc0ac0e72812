"""A client for the distribution / OCI registry API (requests): manifests, tag copy, blob mount.

Promote and rollback use it to check an image exists, resolve its digest and add tags without
pulling or pushing layers: a tag copy is a PUT of the very same manifest bytes under a new tag,
and a copy to another repository of the same registry mounts each blob across repositories
(``POST /v2/<dst>/blobs/uploads/?mount=<digest>&from=<src>``) before the manifest PUT.
Spec: https://github.com/opencontainers/distribution-spec/blob/main/spec.md and the token flow
https://distribution.github.io/distribution/spec/auth/token/ .
Credentials are values given by the caller; they never appear in messages or reprs.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import IO, Any
from urllib.parse import urlsplit

import requests

from dify_action import refs
from dify_action.errors import InputError, RegistryError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = (OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join(MANIFEST_TYPES)
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]+))')
_PARALLEL = 8
_HUB_ENDPOINT = {"docker.io": "registry-1.docker.io"}


@dataclass(frozen=True)
class Credentials:
    """Username and password (or access token used as password). The password is never shown."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries on 5xx/429 and connection errors, exponential backoff, Retry-After honoured."""

    attempts: int = 4
    backoff: float = 0.5
    max_delay: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)


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


class RegistryClient:
    """One registry (``host[:port]``), one set of credentials; tokens are cached per scope."""

    def __init__(
        self, registry: str, credentials: Credentials | None = None, *, scheme: str | None = None,
        retry: RetryPolicy | None = None, timeout: float = 60.0, session: requests.Session | None = None,
    ) -> None:
        self.registry = registry
        endpoint = _HUB_ENDPOINT.get(registry, registry)
        self.base_url = f"{scheme or default_scheme(registry)}://{endpoint}"
        self.credentials = credentials
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.session = session or requests.Session()
        self._challenge: dict[str, str] | None = None  # the Bearer challenge once seen
        self._basic = False  # the registry asked for Basic
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}

    def __repr__(self) -> str:
        user = self.credentials.username if self.credentials else None
        return f"RegistryClient({self.base_url!r}, user={user!r})"

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
                                 headers={"Accept": ACCEPT}, what=f"{repository}:{reference}")
        body = response.content
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES:
            media_type = str(json.loads(body).get("mediaType", media_type)) if body else media_type
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
        response = self._request("GET", f"/v2/{repository}/blobs/{digest}", scopes=_pull(repository),
                                 what=f"blob {digest} in {repository}", stream=True)
        body = response.raw.read(max_size + 1, decode_content=True)
        if len(body) > max_size:
            raise RegistryError(f"blob {digest} in {repository} is larger than {max_size} bytes")
        if compute_digest(body, digest.split(":", 1)[0]) != digest:
            raise RegistryError(f"blob {digest} from {repository} does not match its digest",
                                hint="the registry or a proxy altered the blob; check the registry")
        return bytes(body)

    def push_blob(self, repository: str, data: bytes) -> Descriptor:
        """Upload a small blob monolithically (POST then PUT with the digest); skipped when present."""
        digest = compute_digest(data)
        if not self.blob_exists(repository, digest):
            start = self._request("POST", f"/v2/{repository}/blobs/uploads/", scopes=_push(repository),
                                  allow=(202,), what=f"upload to {repository}")
            location = start.headers["Location"]
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
        hasher = hashlib.new(algorithm)
        with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
            response = self._request("GET", f"/v2/{src}/blobs/{digest}", scopes=_pull(src), stream=True,
                                     what=f"blob {digest} in {src}")
            for chunk in response.iter_content(1 << 20):
                hasher.update(chunk)
                spool.write(chunk)
            if f"{algorithm}:{hasher.hexdigest()}" != digest:
                raise RegistryError(f"blob {digest} from {src} does not match its digest")
            start = self._request("POST", f"/v2/{dst}/blobs/uploads/", scopes=_push(dst), allow=(202,),
                                  what=f"upload to {dst}")
            location = start.headers["Location"]
            joiner = "&" if "?" in location else "?"
            size = spool.tell()
            self._request("PUT", f"{location}{joiner}digest={digest}", scopes=_push(dst), data=spool,
                          headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                          what=f"upload of {digest}")

    # -- HTTP, auth, retries -----------------------------------------------------------------
    def _request(
        self, method: str, path: str, *, scopes: Iterable[str], what: str, allow: tuple[int, ...] = (),
        headers: Mapping[str, str] | None = None, data: bytes | IO[bytes] | None = None,
        params: Mapping[str, str] | None = None, stream: bool = False,
    ) -> requests.Response:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        scope_key = tuple(sorted(set(scopes)))
        authenticated_once = False
        attempt = 0
        while True:
            attempt += 1
            if hasattr(data, "seek"):
                data.seek(0)  # type: ignore[union-attr]
            try:
                response = self.session.request(
                    method, url, headers={**(headers or {}), **self._auth_header(scope_key)}, data=data,
                    params=params, timeout=self.timeout, stream=stream, allow_redirects=True,
                )
            except requests.ConnectionError as error:
                if attempt < self.retry.attempts:
                    self.retry.sleep(self._delay(attempt, None))
                    continue
                raise RegistryError(
                    f"cannot reach registry {self.registry} ({method} {what}): {type(error).__name__}",
                    hint="check the registry host and port, TLS (https is used except for loopback) "
                         "and the network",
                ) from None
            except requests.Timeout:
                if attempt < self.retry.attempts:
                    continue
                raise RegistryError(f"registry {self.registry} timed out on {method} {what}",
                                    hint="retry later; the registry is slow or overloaded") from None
            if response.status_code == 401 and not authenticated_once:
                authenticated_once = True
                if self._authenticate(response, scope_key):
                    continue
            if response.status_code in _RETRY_STATUS and attempt < self.retry.attempts:
                self.retry.sleep(self._delay(attempt, response.headers.get("Retry-After")))
                continue
            if response.status_code < 300 or response.status_code in allow:
                return response
            raise self._error(response, method, what, scope_key)

    def _auth_header(self, scope_key: tuple[str, ...]) -> dict[str, str]:
        if self._challenge is not None:
            cached = self._tokens.get(scope_key)
            if not cached or cached[1] <= time.monotonic():
                self._fetch_token(scope_key)  # we know the realm: no need for another 401 round trip
                cached = self._tokens[scope_key]
            return {"Authorization": f"Bearer {cached[0]}"}
        if self._basic and self.credentials:
            pair = f"{self.credentials.username}:{self.credentials.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    def _authenticate(self, response: requests.Response, scope_key: tuple[str, ...]) -> bool:
        """Answer a 401 challenge: Basic -> send credentials; Bearer -> fetch a token for the scopes."""
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() == "basic":
            if not self.credentials or self._basic:
                return False
            self._basic = True
            return True
        if scheme.lower() != "bearer":
            return False
        params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                  for m in _CHALLENGE_PARAM.finditer(rest)}
        if "realm" not in params:
            return False
        if self._challenge is not None and scope_key in self._tokens:
            return False  # a fresh token for these scopes was refused: the user lacks the access
        self._challenge = params
        extra = tuple(params["scope"].split(" ")) if params.get("scope") else ()
        self._fetch_token(scope_key, extra)
        return True

    def _fetch_token(self, scope_key: tuple[str, ...], extra: tuple[str, ...] = ()) -> None:
        params = self._challenge or {}
        scopes = set(scope_key) | set(extra)
        query: list[tuple[str, str]] = [("service", params["service"])] if params.get("service") else []
        query += [("scope", scope) for scope in sorted(scopes)]
        auth = (self.credentials.username, self.credentials.password) if self.credentials else None
        try:
            answer = self.session.get(params["realm"], params=query, auth=auth, timeout=self.timeout)
        except requests.RequestException as error:
            raise RegistryError(f"cannot reach the token service of {self.registry}: {type(error).__name__}",
                                hint="check the network path to the realm the registry names") from None
        if answer.status_code in (401, 403):
            raise self._credentials_error(scope_key, token_service=True)
        if answer.status_code >= 300:
            raise RegistryError(f"the token service of {self.registry} answered {answer.status_code}",
                                hint="retry later or check the registry's auth service")
        body = answer.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"the token service of {self.registry} returned no token")
        expires = min(float(body.get("expires_in") or 60), 3600.0)
        self._tokens[scope_key] = (str(token), time.monotonic() + max(expires - 10.0, 5.0))

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.retry.max_delay)
            except ValueError:
                try:
                    wait = parsedate_to_datetime(retry_after).timestamp() - time.time()
                    return min(max(wait, 0.0), self.retry.max_delay)
                except (TypeError, ValueError):
                    pass
        return float(min(self.retry.backoff * 2 ** (attempt - 1), self.retry.max_delay))

    # -- errors --------------------------------------------------------------------------------
    def _split(self, ref: refs.ImageRef | str) -> tuple[str, str]:
        parsed = refs.parse(ref) if isinstance(ref, str) else ref
        if parsed.registry != self.registry:
            raise InputError("image", str(parsed), f"expected an image in registry {self.registry}")
        return parsed.remote_path, parsed.digest or parsed.tag or "latest"

    def tags(self, repository: str) -> list[str] | None:
        """The repository's tags (first page), or None when the repository does not exist."""
        response = self._request("GET", f"/v2/{repository}/tags/list", scopes=_pull(repository),
                                 allow=(404,), what=f"tags of {repository}")
        if response.status_code == 404:
            return None
        return [str(tag) for tag in response.json().get("tags") or []]

    def _not_found(self, repository: str, reference: str) -> RegistryError:
        """Say whether the repository or only the tag is missing (one more request, on failure only)."""
        try:
            tags = self.tags(repository)
        except RegistryError:
            tags = []
        if tags is None:
            return RegistryError(f"repository {repository} does not exist in {self.registry}",
                                 hint="check the image name; push the image first")
        known = ", ".join(sorted(tags)[:10]) + (f" (and {len(tags) - 10} more)" if len(tags) > 10 else "")
        return RegistryError(f"{repository}:{reference} not found in {self.registry}",
                             hint=f"check the tag or digest; existing tags: {known or 'none'}")

    def _credentials_error(self, scope_key: tuple[str, ...], *, token_service: bool = False) -> RegistryError:
        where = f"{self.registry}{' (token service)' if token_service else ''}"
        if not self.credentials:
            return RegistryError(f"registry {where} requires credentials and none were given",
                                 hint="give a registry username and password (or token)")
        scopes = ", ".join(scope_key) or "the registry API"
        return RegistryError(
            f"registry {where} rejected the credentials of user {self.credentials.username!r} for {scopes}",
            hint="check the username and password/token and that the user may pull/push this repository",
        )

    def _error(self, response: requests.Response, method: str, what: str,
               scope_key: tuple[str, ...]) -> RegistryError:
        detail = ""
        try:
            errors = response.json().get("errors", [])
            detail = "; ".join(f"{item.get('code')}: {item.get('message')}" for item in errors)
        except (ValueError, AttributeError):
            pass
        status = response.status_code
        if status == 401:
            return self._credentials_error(scope_key)
        if status == 403:
            reason = detail or "forbidden"
            return RegistryError(f"registry {self.registry} denied {method} {what} (403 {reason})",
                                 hint="the credentials lack permission on this repository")
        if status == 404 and method in ("GET", "HEAD") and "/manifests/" in response.url:
            repository, _, reference = what.rpartition(":")
            return self._not_found(repository, reference)
        if status == 404:
            return RegistryError(f"{what} not found in {self.registry} ({detail or 'not found'})")
        hint = "retry later; the registry kept failing" if status in _RETRY_STATUS else None
        return RegistryError(f"registry {self.registry} answered {status} to {method} {what}"
                             f"{': ' + detail if detail else ''}", hint=hint)


def _pull(repository: str) -> tuple[str, ...]:
    return (f"repository:{repository}:pull",)


def _push(repository: str) -> tuple[str, ...]:
    return (f"repository:{repository}:pull,push",)
