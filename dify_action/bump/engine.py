"""Plan and apply a bump over a GitOps tree: files -> locations -> byte edits -> atomic write."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dify_action import refs
from dify_action.bump import edit, journal, locate, tree
from dify_action.errors import BadManifest, InputError
from dify_action.yamlguard import duplicate_keys


@dataclass(frozen=True)
class Target:
    """One image to set everywhere it is deployed under the bump's paths.

    ``image`` is the repository (no tag). ``helm_paths`` are dotted key paths (``image.api.tag``)
    for values files whose image shape has no repository key; their value is set to the tag.
    """

    image: refs.ImageRef
    tag: str
    digest: str | None = None
    helm_paths: tuple[str, ...] = ()

    @classmethod
    def from_inputs(
        cls, image: str, tag: str, digest: str | None = None, helm_paths: Sequence[str] = ()
    ) -> Target:
        """Validate raw user input; raises InputError naming the input."""
        ref = refs.parse_repository(image, input_name="image")
        refs.validate_tag(tag, input_name="tag")
        if digest is not None:
            refs.validate_digest(digest, input_name="digest")
        for key_path in helm_paths:
            locate.parse_key_path(key_path)
        return cls(ref, tag, digest, tuple(helm_paths))


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
        return {"file": self.file, "line": self.line, "old": self.old, "new": self.new, "where": self.where}


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

    Pure: reads files, writes nothing. Raises InputError for bad paths, ManifestError when a
    value cannot be edited safely (shared anchor, block scalar...).
    """
    if not targets:
        raise InputError("image", "", "give at least one image to bump")
    recovered = journal.recover(root)  # an interrupted write first: all old or all new
    files, skipped = tree.collect(root, paths)
    needles = {target.image.path.rsplit("/", 1)[-1].encode() for target in targets}
    needles |= {key.rsplit(".", 1)[-1].encode() for target in targets for key in target.helm_paths}
    changes: list[Change] = []
    edits: list[FileEdit] = []
    notes: list[str] = [recovered.note()] if recovered else []
    helm_hits: set[str] = set()
    found: set[refs.ImageRef] = set()
    for source in files:
        if not any(needle in source.data for needle in needles):
            continue
        parsed = locate.load(source)
        if isinstance(parsed, Skipped):
            if source.explicit:
                raise BadManifest(
                    f"{source.relpath} was named with --path but {parsed.reason}",
                    hint="name only YAML files (manifests, values, kustomization, compose) with --path",
                    file=source.relpath,
                )
            skipped.append(parsed)
            continue
        spans: list[edit.Replacement] = []
        duplicates: dict[int, tuple[str, int]] | None = None
        for target in targets:
            for hit in locate.find_target(parsed, target.image, target.helm_paths):
                found.add(target.image)
                duplicates = _refuse_duplicates(parsed, hit, duplicates)
                if hit.helm_path:
                    helm_hits.add(hit.helm_path)
                for replacement in edit.plan_replacements(parsed, hit, target.tag, target.digest):
                    if any(done.start == replacement.start and done.text == replacement.text for done in spans):
                        continue
                    spans.append(replacement)
                    changes.append(
                        Change(source.relpath, replacement.line, replacement.old, replacement.new,
                               hit.where, target.image.name)
                    )
                    if replacement.note:
                        notes.append(f"{source.relpath}:{replacement.line}: {replacement.note}")
        if spans:
            edits.append(FileEdit(source.path, source.relpath, source.data, edit.apply(parsed, spans)))
    for target in targets:
        if target.image not in found:
            raise InputError(
                "image", target.image.name, f"no file under {', '.join(paths) or 'the GitOps directory'} "
                f"deploys {target.image.repository} (matching compares whole normalized repositories)",
            )
        for key_path in target.helm_paths:
            if key_path not in helm_hits:
                raise InputError(
                    "helm-path", key_path, "no file under the given paths has this key path "
                    "with a scalar value; check the spelling (keys are case-sensitive)"
                )
    return BumpPlan(root, tuple(changes), tuple(skipped), tuple(edits), tuple(notes))


def _refuse_duplicates(
    parsed: locate.Parsed, hit: locate.Hit, known: dict[int, tuple[str, int]] | None
) -> dict[int, tuple[str, int]]:
    """A key twice in the mapping that holds a target: which one a deployer reads is unclear,
    so editing one of them would be a half edit (issue #9)."""
    duplicates = known if known is not None else duplicate_keys(parsed.docs)
    relpath = parsed.source.relpath
    for node in (hit.value, hit.parent, hit.digest):
        if node is not None and id(node) in duplicates:
            key, line = duplicates[id(node)]
            raise BadManifest(
                f"{relpath}:{line}: the key {key!r} appears twice in the mapping that holds {hit.where}",
                hint="remove the duplicate key (YAML requires unique keys; tools disagree on which wins)",
                file=relpath, line=line,
            )
    return duplicates


def apply_plan(plan: BumpPlan) -> None:
    """Write every planned file or none, crash-consistently (bump/journal.py)."""
    journal.commit(plan.root, [journal.Write(item.relpath, item.before, item.after) for item in plan.edits])


def find_images(root: Path, paths: Sequence[str] = ()) -> list[FoundImage]:
    """Every image reference deployed under ``paths``: container/compose ``image`` strings,
    Helm ``repository``+``tag`` mappings and kustomization ``images`` entries."""
    files, _ = tree.collect(root, paths)
    found: list[FoundImage] = []
    for source in files:
        parsed = locate.load(source)
        if isinstance(parsed, Skipped):
            continue
        found.extend(
            FoundImage(source.relpath, hit.line, hit.current, hit.where) for hit in locate.find_all(parsed)
        )
    return found
