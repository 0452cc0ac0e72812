"""Plan and apply a bump over a GitOps tree: files -> locations -> byte edits -> atomic write."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dify_action import refs
from dify_action.bump import journal, locate, tree
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
            locate.parse_key_path(key_path)
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


def plan_bump(root: Path, targets: Sequence[Target], paths: Sequence[str] = ()) -> BumpPlan:
    """Plan the edits that set every target image under ``paths`` (default: the whole root).

    Several targets make one plan (one commit, one PR). Reads files and writes nothing, except that
    an interrupted earlier write found in the tree is finished or undone first (bump/journal.py).
    Raises InputError for bad paths, EditRefused (exit 2) when a value cannot be edited safely
    (shared anchor, block scalar, compose variable, inherited tag) or no file deploys an image.
    """
    from dify_action.bump import planner

    return planner.plan(root, targets, paths)


def apply_plan(plan: BumpPlan) -> None:
    """Write every planned file or none, crash-consistently (bump/journal.py)."""
    journal.commit(plan.root, [journal.Write(item.relpath, item.before, item.after) for item in plan.edits])


def find_images(root: Path, paths: Sequence[str] = ()) -> list[FoundImage]:
    """Every image reference deployed under ``paths``, in every shape ``plan_bump`` edits (Argo CD
    ``helm.values`` blocks included; tags from compose variables are left out: their value is not
    in the manifest)."""
    from dify_action.bump import embed

    files, _ = tree.collect(root, paths)
    found: list[FoundImage] = []
    for source in files:
        parsed = locate.load(source)
        if isinstance(parsed, Skipped):
            continue
        inner = [(item.parsed, item.first_line) for item in embed.embedded(parsed)] if b"values" in source.data else []
        for section, offset in [(parsed, 0), *inner]:
            found.extend(
                FoundImage(source.relpath, hit.line + offset, hit.current, hit.where)
                for hit in locate.find_all(section) if hit.kind != "variable"
            )
    return found
