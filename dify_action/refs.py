"""Container image references, by the distribution/reference grammar.

``[host[:port]/]path[:tag][@algo:hex]`` where the first component is a host only when it holds a
``.`` or ``:`` or is ``localhost`` (so ``registry:5000/x`` is host ``registry:5000``, never a tag).
Matching compares normalized repositories (``nginx`` == ``docker.io/library/nginx``; the host part
case-insensitively, as DNS does); formatting keeps the user's own spelling of the repository, and
so do ``repository`` and ``registry`` (``Foo/bar`` has registry ``Foo``, like distribution/reference).
A bare 64-hex name is refused (it reads as an image ID), and the 255-character limit applies to the
path, not the host.
See https://github.com/distribution/reference/blob/main/regexp.go and normalize.go
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from dify_action.errors import InputError

DEFAULT_DOMAIN = "docker.io"
_LEGACY_DOMAINS = frozenset({"index.docker.io", "registry-1.docker.io"})
_OFFICIAL_PREFIX = "library/"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
TAG_PATTERN = r"[\w][\w.-]{0,127}"
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

_PATH_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_DOMAIN_RE = re.compile(_DOMAIN)
TAG_RE = re.compile(TAG_PATTERN, re.ASCII)  # registries accept ASCII tags only
DIGEST_RE = re.compile(r"(sha256|sha384|sha512):([a-f0-9]+)")
_NAME_TOTAL_MAX = 255
_IMAGE_ID_RE = re.compile(r"[a-f0-9]{64}")


@dataclass(frozen=True)
class ImageRef:
    """A parsed reference. ``domain`` is None when the user wrote none (Docker Hub implied)."""

    domain: str | None
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """The repository as the user spelled it (no tag, no digest)."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def repository(self) -> str:
        """The normalized repository: ``docker.io/library/nginx`` for ``nginx``."""
        domain = self.registry
        path = self.path
        if domain == DEFAULT_DOMAIN and "/" not in path:
            path = _OFFICIAL_PREFIX + path
        return f"{domain}/{path}"

    @property
    def registry(self) -> str:
        """The registry host (with port) that serves this repository, in the user's case."""
        domain = self.domain or DEFAULT_DOMAIN
        return DEFAULT_DOMAIN if domain.lower() in _LEGACY_DOMAINS else domain

    @property
    def match_key(self) -> str:
        """``repository`` with the host lowercased: what two references are compared by."""
        return f"{self.registry.lower()}/{self.remote_path}"

    @property
    def remote_path(self) -> str:
        """The repository path inside its registry (``library/nginx`` for ``nginx``)."""
        return self.repository.split("/", 1)[1]

    def same_repository(self, other: ImageRef) -> bool:
        return self.match_key == other.match_key

    def with_version(self, tag: str | None, digest: str | None = None) -> ImageRef:
        return replace(self, tag=tag, digest=digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def try_parse(text: str) -> ImageRef | None:
    """Parse ``text`` as a reference, or return None when it is not one."""
    if _IMAGE_ID_RE.fullmatch(text):
        return None  # distribution/reference: ambiguous with an image ID
    rest = text
    digest: str | None = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _valid_digest(digest):
            return None
    tag: str | None = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not TAG_RE.fullmatch(tag):
            return None
    domain: str | None = None
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        if not _DOMAIN_RE.fullmatch(first):
            return None
        domain, rest = first, remainder
    if not _PATH_RE.fullmatch(rest) or len(rest) > _NAME_TOTAL_MAX:
        return None
    return ImageRef(domain=domain, path=rest, tag=tag, digest=digest)


def parse(text: str, *, input_name: str = "image") -> ImageRef:
    """Parse a reference or raise InputError naming ``input_name``."""
    ref = try_parse(text)
    if ref is None:
        raise InputError(
            input_name,
            text,
            "expected [host[:port]/]path[:tag][@sha256:<64 hex>] with lowercase path components "
            "(e.g. registry.example.com:5000/acme/dify-api:1.13.3)",
        )
    return ref


def parse_repository(text: str, *, input_name: str = "image") -> ImageRef:
    """Parse a repository (a reference without tag or digest)."""
    ref = parse(text, input_name=input_name)
    if ref.tag or ref.digest:
        raise InputError(
            input_name,
            text,
            "expected a repository without tag or digest (e.g. registry.example.com/acme/dify-api); "
            "give the tag with --tag and the digest with --digest",
        )
    return ref


def validate_tag(tag: str, *, input_name: str = "tag") -> str:
    if not TAG_RE.fullmatch(tag):
        raise InputError(
            input_name, tag, "a tag is 1-128 characters of [A-Za-z0-9_.-] and must not start with '.' or '-'"
        )
    return tag


def validate_digest(digest: str, *, input_name: str = "digest") -> str:
    if not _valid_digest(digest):
        raise InputError(input_name, digest, "expected sha256:<64 lowercase hex> (or sha384/sha512)")
    return digest


def _valid_digest(digest: str) -> bool:
    match = DIGEST_RE.fullmatch(digest)
    return bool(match) and len(match.group(2)) == _DIGEST_LENGTHS[match.group(1)] if match else False
