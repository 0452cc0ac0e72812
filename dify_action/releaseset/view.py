"""The set an environment runs: its GitOps paths read with the bump engine's reader, grouped by role.

Official images (``langgenius/dify-*`` behind any registry or mirror) say their version by their tag
when it is an upstream release tag. Customized components (a config component, or a repository
named like ``acme/dify-api``) say nothing by their tag: their Dify version comes from ``Versions``,
the caller's source of facts (the build's own facts, the facts recorded in the registry, the
``io.dify.base-version`` label, an explicit input); without one it is unknown, and said so.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from dify_action import refs
from dify_action.bump import BumpPlan, FoundImage, Target, find_images
from dify_action.releaseset.members import (
    API,
    RELEASE_TAGGED,
    ROLES,
    Member,
    named_role,
    needles,
    official_role,
    tag_version,
)

# ref -> (version, source) or None: what the caller knows about a customized image
Versions = Callable[[refs.ImageRef], "tuple[str, str] | None"]


@dataclass(frozen=True)
class ReleaseSet:
    """The Dify images deployed under an environment's paths, one ``Member`` per reference."""

    members: tuple[Member, ...]

    def role(self, role: str) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.role == role)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(r for r in ROLES if self.role(r))

    @property
    def release(self) -> str | None:
        """The Dify release the set runs: the api's version when its references agree on one, else the
        most common version of the release-tagged members (None: no member says)."""
        api = {m.version for m in self.role(API) if m.version}
        if len(api) == 1:
            return next(iter(api))
        counts = Counter(m.version for m in self.members if m.role in RELEASE_TAGGED and m.version)
        if not counts:
            return None
        best = max(counts.values())
        return sorted(v for v, n in counts.items() if n == best)[0]  # a tie: the same answer every run

    def summary(self, role: str) -> str:
        """The versions ``role`` runs, one text ("1.13.3", "1.13.2, 1.13.3", "unknown", "-")."""
        members = self.role(role)
        if not members:
            return "-"
        seen = dict.fromkeys(m.version or f"{m.ref.tag or m.ref.digest or '?'} (version unknown)" for m in members)
        return ", ".join(seen)

    def as_dict(self) -> dict[str, object]:
        return {"release": self.release, "members": [m.as_dict() for m in self.members]}


def member_of(found: FoundImage, customized: Mapping[str, str], versions: Versions | None) -> Member | None:
    """The member a deployed reference is (None: not a Dify image). ``customized``: match_key of a
    customized repository -> its role."""
    ref = found.ref
    role = official_role(ref)
    official = role is not None
    if role is None:
        role = customized.get(ref.with_version(None).match_key) or named_role(ref.path)
    if role is None:
        return None
    version, source = (tag_version(role, ref.tag), "tag") if official else (None, "unknown")
    if version is None and versions is not None:
        known = versions(ref)
        if known is not None:
            version, source = known
    return Member(role, ref, found.file, found.line, found.where, version, source if version else "unknown",
                  official)


def build_set(found: Iterable[FoundImage], customized: Mapping[str, str] | None = None,
              versions: Versions | None = None) -> ReleaseSet:
    members = (member_of(item, customized or {}, versions) for item in found)
    return ReleaseSet(tuple(m for m in members if m is not None))


def read_set(root: Path, paths: Sequence[str], customized: Mapping[str, str] | None = None,
             versions: Versions | None = None) -> ReleaseSet:
    """The set deployed under ``paths`` of the GitOps tree at ``root`` (the bump engine's reader)."""
    return build_set(find_images(root, paths, needles(customized or {})), customized, versions)


def after_targets(current: ReleaseSet, targets: Sequence[Target], versions: Versions | None = None) -> ReleaseSet:
    """The set once ``targets`` are applied: the bump sets every reference of a target's repository
    under the paths (bump/engine.py), so each such member takes the target's tag and digest."""
    moved: list[Member] = []
    for member in current.members:
        target = next((t for t in targets if t.image.same_repository(member.ref)), None)
        if target is None or not (member.ref.tag or member.ref.digest):  # a bare kustomize placeholder stays bare
            moved.append(member)
            continue
        ref = member.ref.with_version(target.tag, target.digest)
        version, source = (tag_version(member.role, target.tag), "tag") if member.official else (None, "unknown")
        if version is None and versions is not None:
            version, source = versions(ref) or (None, "unknown")
        moved.append(replace(member, ref=ref, version=version, source=source if version else "unknown"))
    return ReleaseSet(tuple(moved))


def after_plan(current: ReleaseSet, plan: BumpPlan, customized: Mapping[str, str] | None = None,
               versions: Versions | None = None) -> ReleaseSet:
    """The set once ``plan`` is written: its edited files read back (their new bytes, in a scratch
    tree, with the bump engine's reader), every other member as it was. Exact where ``after_targets``
    can only predict (a kustomize placeholder stays bare, an empty Helm tag gets one)."""
    edited = {item.relpath: item.after for item in plan.edits}
    if not edited:
        return current
    with tempfile.TemporaryDirectory(prefix="dify-action-set-") as scratch:
        for relpath, data in edited.items():
            target = Path(scratch, relpath)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        found = find_images(Path(scratch), sorted(edited))
    kept = [m for m in current.members if m.file not in edited]
    fresh = build_set(found, customized, versions).members
    return ReleaseSet(tuple(sorted([*kept, *fresh], key=lambda m: (m.file, m.line))))


def known_versions(known: Mapping[str, tuple[str, str]], fallback: Versions | None = None) -> Versions:
    """A ``Versions`` from facts the caller holds (``repository:tag`` or ``repository@digest`` ->
    (version, source)), then ``fallback`` (e.g. the registry's records)."""
    def versions(ref: refs.ImageRef) -> tuple[str, str] | None:
        plain = ref.with_version(None)
        for key in (f"{plain.match_key}@{ref.digest}" if ref.digest else None,
                    f"{plain.match_key}:{ref.tag}" if ref.tag else None):
            if key is not None and key in known:
                return known[key]
        return fallback(ref) if fallback is not None else None

    return versions


def version_key_for(ref: refs.ImageRef) -> tuple[str, ...]:
    """The keys ``known_versions`` looks a reference up by."""
    plain = ref.with_version(None).match_key
    return tuple(k for k in (f"{plain}@{ref.digest}" if ref.digest else None,
                             f"{plain}:{ref.tag}" if ref.tag else None) if k)


def version_keys(*references: str | None) -> tuple[str, ...]:
    """``version_key_for`` of each reference given as text (those that do not parse have none)."""
    parsed = (refs.try_parse(r) for r in references if r)
    return tuple(key for ref in parsed if ref is not None for key in version_key_for(ref))
