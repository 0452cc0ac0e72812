"""The values of a bump: what to set (``Target``), what changed (``Change``), what was left alone
(``Skipped``), the byte edits (``Replacement`` within a file, ``FileEdit`` per file) and the plan.

A leaf: it imports no other module of the bump engine, so every kind of manifest, the dispatcher
and the engine can depend on it without a circle."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dify_action import refs
from dify_action.errors import InputError


@dataclass(frozen=True)
class Target:
    """One image to set everywhere it is deployed under the bump's paths.

    ``image`` is the repository (no tag). ``helm_paths`` are dotted key paths (``image.api.tag``)
    for values files whose image shape has no repository key; their value is set to the tag.
    ``env_file`` (relative to the GitOps root): where a compose tag variable (``repo:${TAG}``) is
    set; without it such a tag is refused.
    """

    image: refs.ImageRef
    tag: str
    digest: str | None = None
    helm_paths: tuple[str, ...] = ()
    env_file: str | None = None

    @classmethod
    def from_inputs(
        cls, image: str, tag: str, digest: str | None = None, helm_paths: Sequence[str] = (),
        env_file: str | None = None,
    ) -> Target:
        """Validate raw user input; raises InputError naming the input."""
        ref = refs.parse_repository(image, input_name="image")
        refs.validate_tag(tag, input_name="tag")
        if digest is not None:
            refs.validate_digest(digest, input_name="digest")
        for key_path in helm_paths:
            parse_key_path(key_path)
        return cls(ref, tag, digest, tuple(helm_paths), env_file or None)

    @classmethod
    def from_reference(
        cls, reference: str, helm_paths: Sequence[str] = (), env_file: str | None = None
    ) -> Target:
        """``repo:tag[@digest]`` (one ``--image`` of a multi-image bump); the tag is required."""
        ref = refs.parse(reference, input_name="image")
        if not ref.tag:
            raise InputError(
                "image", reference, "give the tag with the repository: repo:tag or repo:tag@sha256:<64 hex> "
                "(with a single --image REPOSITORY, --tag works too)",
            )
        return cls.from_inputs(ref.name, ref.tag, ref.digest, helm_paths, env_file)


def parse_key_path(key_path: str) -> tuple[str, ...]:
    """``image.api.tag`` -> its keys; InputError (``helm-path``) for empty or spaced parts."""
    parts = tuple(key_path.split("."))
    if not key_path or any(not part or part != part.strip() for part in parts):
        raise InputError(
            "helm-path", key_path, "a dotted key path such as image.api.tag (no empty or spaced parts)"
        )
    return parts


@dataclass(frozen=True)
class Change:
    """One value rewritten: ``file`` is relative to the root, ``line`` 1-based."""

    file: str
    line: int
    old: str
    new: str
    where: str
    image: str

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "old": self.old, "new": self.new, "where": self.where,
                "image": self.image}


@dataclass(frozen=True)
class Skipped:
    """A file left alone, and why (not YAML, binary, too large...)."""

    file: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class Replacement:
    """Characters ``start:end`` of a file's text become ``text``; ``old``/``new`` are the values."""

    start: int
    end: int
    text: str
    old: str
    new: str
    line: int
    note: str | None = None


@dataclass(frozen=True)
class FileEdit:
    path: Path
    relpath: str
    before: bytes
    after: bytes


@dataclass(frozen=True)
class FoundImage:
    """An image reference deployed in the tree (for promote: what runs in an environment)."""

    file: str
    line: int
    ref: refs.ImageRef
    where: str


@dataclass(frozen=True)
class BumpPlan:
    root: Path
    changes: tuple[Change, ...]
    skipped: tuple[Skipped, ...]
    edits: tuple[FileEdit, ...] = field(repr=False)
    notes: tuple[str, ...] = ()

    @property
    def nothing_to_do(self) -> bool:
        return not self.edits

    def diff(self) -> str:
        """The unified diff a reviewer would see (paths relative to the root)."""
        chunks: list[str] = []
        for item in self.edits:
            before = item.before.decode("utf-8-sig").splitlines(keepends=True)
            after = item.after.decode("utf-8-sig").splitlines(keepends=True)
            chunks.extend(
                difflib.unified_diff(before, after, f"a/{item.relpath}", f"b/{item.relpath}", n=3)
            )
        return "".join(line if line.endswith("\n") else line + "\n" for line in chunks)

    def as_dict(self) -> dict[str, object]:
        return {
            "changes": [change.as_dict() for change in self.changes],
            "skipped": [skip.as_dict() for skip in self.skipped],
        }
