"""The members of a Dify release set and the versions their references name.

A Dify release is api (also run as worker, beat and the migration Job), web and, from 1.16, the
agent-backend and agent-local-sandbox images, all tagged with the Dify version; beside them
dify-sandbox and dify-plugin-daemon at their own versions, which the release's compose file pairs.

Only upstream's tag grammar names a version on an official image (``1.13.3``, ``1.16.0-rc1``,
``1.10.1-fix.1``; plugin-daemon ``0.6.3-local``, ``0.6.10-local-linux-amd64``): a branch, a sha or a
tag upstream never publishes (``1.14.0-acme.7``) is a customized build whose Dify version only its
recorded facts or base label can say (see ``view.py``), never guessed from its spelling.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from dify_action import refs

API, WEB, AGENT, AGENT_SANDBOX, SANDBOX, PLUGIN_DAEMON = (
    "api", "web", "agent-backend", "agent-local-sandbox", "sandbox", "plugin-daemon")
ROLES = (API, WEB, AGENT, AGENT_SANDBOX, SANDBOX, PLUGIN_DAEMON)
RELEASE_TAGGED = (API, WEB, AGENT, AGENT_SANDBOX)  # tagged with the Dify version itself
PAIRED = (SANDBOX, PLUGIN_DAEMON)  # own versions, paired by the release
OFFICIAL = {role: f"langgenius/dify-{role}" for role in ROLES}
_OFFICIAL_RE = re.compile(r"(?:^|/)langgenius/dify-(" + "|".join(map(re.escape, ROLES)) + r")$")
_SEGMENT_RE = re.compile(r"(?:^|[/_-])dify[-_](" + "|".join(map(re.escape, ROLES)) + r")$")
# Dify's git tags: 1.13.3, 1.16.0-rc1, 1.0.0-beta.1, 1.10.1-fix.1 (../shared/DIFY.md "Upstream tags")
_DIFY_TAG = re.compile(r"v?\d+\.\d+\.\d+(?:-(?:rc|beta|alpha)\.?\d+|-fix\.?\d+)?")
# dify-sandbox: 0.2.12; dify-plugin-daemon: 0.5.3-local, 0.6.10-local-linux-amd64 (not always ending in -local)
_SANDBOX_TAG = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
_DAEMON_TAG = re.compile(r"v?(\d+)\.(\d+)\.(\d+)-local(?:-[a-z0-9]+)*")


def official_role(ref: refs.ImageRef) -> str | None:
    """The role of an official image (any registry or mirror in front of ``langgenius/dify-*``)."""
    match = _OFFICIAL_RE.search(ref.path)
    return match.group(1) if match else None


def guess_role(name: str) -> str | None:
    """The role a customized repository or component name says (``acme/dify-api``, ``api``)."""
    last = name.rsplit("/", 1)[-1].lower()
    if last in ROLES:
        return last
    match = _SEGMENT_RE.search(last)
    return match.group(1) if match else None


def named_role(path: str) -> str | None:
    """The role a deployed repository's name says by itself (``acme/dify-api``, ``dify_web``): the
    name must say Dify, so an unrelated ``acme/api`` in a GitOps tree is no member unless the config
    names it as a component."""
    match = _SEGMENT_RE.search(path.rsplit("/", 1)[-1].lower())
    return match.group(1) if match else None


def needles(customized: Iterable[str]) -> tuple[bytes, ...]:
    """Bytes every file deploying a member holds: ``dify`` (official images and Dify-named ones), or the
    path of a configured component's repository (``acme/api``, whatever its registry or tag)."""
    return (b"dify", *(key.split("/", 1)[-1].encode() for key in customized if "/" in key))


def other_needles(roles: Iterable[str], customized: Mapping[str, str]) -> tuple[bytes, ...]:
    """Bytes a file must hold to deploy a member the change's own ``roles`` cannot account for: any
    official image (``langgenius/dify-`` covers an upstream api too), a Dify-named image of another
    role, or a configured component of another role."""
    others = [role for role in ROLES if role not in roles]
    return (b"langgenius/dify-", *(f"dify{sep}{role}".encode() for role in others for sep in "-_"),
            *(key.split("/", 1)[-1].encode() for key, role in customized.items() if role not in roles and "/" in key))


def other_matcher(needles_: Iterable[bytes]) -> Callable[[bytes], bool]:
    """``lambda data: any(n in data for n in needles_)``, in one scan of ``data`` for the needles that
    start with ``dify`` (all of :func:`other_needles` but configured components): a pattern with a
    literal prefix is searched like ``bytes.find``, where eleven ``in`` scans of every 200 KB file
    took 5x longer (issue 22 class 7). The others (configured paths) keep their own ``in``."""
    wanted = tuple(dict.fromkeys(needles_))
    tails = sorted({n[4:] for n in wanted if n.startswith(b"dify")}, key=len, reverse=True)
    prefixed = [n for n in wanted if n.endswith(b"dify-") and not n.startswith(b"dify")]
    rest = [n for n in wanted if not n.startswith(b"dify") and n not in prefixed]
    # "langgenius/dify-": the same literal "dify", then a look back for what precedes it
    arms = [b"(?<=" + re.escape(n[:-1]) + b")-" for n in prefixed] + [re.escape(t) for t in tails]
    pattern = re.compile(b"dify(?:" + b"|".join(arms) + b")") if arms else None

    def matches(data: bytes) -> bool:
        return (pattern is not None and pattern.search(data) is not None) or any(n in data for n in rest)

    return matches


def tag_version(role: str, tag: str | None) -> str | None:
    """The version an official image's tag names, or None when it is not an upstream release tag."""
    if not tag:
        return None
    if role in RELEASE_TAGGED:
        return tag.removeprefix("v") if _DIFY_TAG.fullmatch(tag) else None
    pattern = _DAEMON_TAG if role == PLUGIN_DAEMON else _SANDBOX_TAG
    return tag if pattern.fullmatch(tag) else None


def numbers(role: str, version: str) -> tuple[int, int, int] | None:
    """The numeric version of a sandbox or plugin-daemon tag (its arch suffix is a flavour, not a version)."""
    match = (_DAEMON_TAG if role == PLUGIN_DAEMON else _SANDBOX_TAG).fullmatch(version)
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.group(1, 2, 3))
    return major, minor, patch


def same_version(role: str, a: str, b: str) -> bool:
    """Release-tagged roles compare exactly; sandbox and plugin-daemon by their numbers
    (``0.6.10-local`` and ``0.6.10-local-linux-amd64`` are the same daemon)."""
    if role in RELEASE_TAGGED:
        return a.removeprefix("v") == b.removeprefix("v")
    return numbers(role, a) is not None and numbers(role, a) == numbers(role, b)


@dataclass(frozen=True)
class Member:
    """One deployed reference of a set member. ``version``: the Dify version (release-tagged roles) or
    the member's own version (sandbox, plugin-daemon); None when unknown, ``source`` says why:
    tag | facts | label | input | build | unknown."""

    role: str
    ref: refs.ImageRef
    file: str
    line: int
    where: str
    version: str | None
    source: str
    official: bool = True

    @property
    def place(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def slot(self) -> tuple[str, str]:
        """Where the reference sits, the same before and after a change: the file and the key path (a
        line moves when an edit above it adds one, e.g. a digest pinned next to another image's tag)."""
        return self.file, self.where

    def describe(self) -> str:
        return f"{self.role} {self.ref} ({self.place} {self.where})"

    def as_dict(self) -> dict[str, object]:
        return {"role": self.role, "image": str(self.ref), "file": self.file, "line": self.line,
                "where": self.where, "version": self.version, "version_source": self.source,
                "official": self.official}
