"""The bump engine: plan (files -> hits -> byte edits, every refusal raised before anything is
written) and apply (every planned file or none, crash-consistently: ``journal``).

The top of the bump package: it calls the dispatcher (``find``) and the kinds' editors; nothing in
the package imports it but the public face (``bump/__init__.py``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from dify_action import refs
from dify_action.bump import argovalues, edit, envedit, explain, fanout, journal, shapes, tree, variables
from dify_action.bump.find import find_all, target_hits
from dify_action.bump.mentions import may_reference
from dify_action.bump.model import BumpPlan, Change, FileEdit, Replacement, Skipped, Target
from dify_action.bump.yamlnodes import Hit, Parsed, load
from dify_action.errors import EditRefused, InputError
from dify_action.yamlguard import duplicate_keys


@dataclass(frozen=True)
class _Section:
    outer: Parsed  # the file
    inner: Parsed  # the file itself, or a document inside one of its block strings
    embedded: argovalues.Embedded | None
    # the duplicate keys of the hits' nodes (node, key, line), once the trees are let go: nodes, not
    # their ids, so that a worker's pickle keeps them (fanout)
    duplicates: tuple[tuple[yaml.Node, str, int], ...] | None = None


def _slim(kept: list[tuple[_Section, list[Hit]]]) -> list[tuple[_Section, list[Hit]]]:
    """The kept sections of one file without their node trees (400 composed values files held
    whole took 380 MB): the duplicate-key check is done now, kept for the nodes the hits hold
    (as nodes, not ids: a worker's pickle keeps the nodes), and the edit needs only text and hits."""
    out: list[tuple[_Section, list[Hit]]] = []
    for section, hits in kept:
        found = duplicate_keys(section.inner.docs)
        mine = tuple((node, *found[id(node)]) for hit in hits for node in (hit.value, hit.parent, hit.digest)
                     if node is not None and id(node) in found)
        # the anchors' map goes with the trees: it is keyed by node ids, which a worker's pickle does
        # not keep (the hits carry their shared anchor already)
        outer = dataclasses.replace(section.outer, docs=(), shared={})
        inner = outer if section.inner is section.outer else dataclasses.replace(section.inner, docs=(), shared={})
        out.append((_Section(outer, inner, section.embedded, mine), hits))
    return out


def plan_bump(root: Path, targets: Sequence[Target], paths: Sequence[str] = (), *,
              collected: tuple[list[tree.SourceFile], list[Skipped]] | None = None) -> BumpPlan:
    """Plan the edits that set every target image under ``paths`` (default: the whole root).

    Several targets make one plan (one commit, one PR). Reads files and writes nothing, except that
    an interrupted earlier write found in the tree is finished or undone first (bump/journal.py).
    Raises InputError for bad paths, EditRefused (exit 2) when a value cannot be edited safely
    (shared anchor, block scalar, compose variable, inherited tag) or no file deploys an image.
    ``collected``: ``tree.collect(root, paths)`` read by the caller in this run (the release-set check),
    used unless a recovery changed the tree since.
    """
    if not targets:
        raise InputError("image", "", "give at least one image to bump")
    recovered = journal.recover(root)  # an interrupted write first: the tree is all old or all new
    seen: dict[str, Target] = {}
    for target in targets:
        if target.image.repository in seen:
            raise InputError("image", target.image.name, "given twice; give each image once per bump")
        seen[target.image.repository] = target
    # copies: the plan's skipped list grows, and the caller's lists stay what it read
    files, skipped = (list(collected[0]), list(collected[1])) if collected is not None and recovered is None \
        else tree.collect(root, paths)
    for env_file in {target.env_file for target in targets if target.env_file}:
        variables.env_path(root, env_file)  # a bad --env-file is bad input even if no tag uses a variable
    names = {target.image.path.rsplit("/", 1)[-1].encode() for target in targets}
    keys = {key.rsplit(".", 1)[-1].encode() for target in targets for key in target.helm_paths}
    repositories = {target.image.repository for target in targets}
    loaded: set[str] = set()
    placeholders: dict[str, str] = {}
    kept: list[tuple[_Section, list[Hit]]] = []
    def mentions(data: bytes) -> bool:
        return any(key in data for key in keys) or may_reference(data, names)

    chosen = [source for source in files if mentions(source.data)]
    def read(index: int) -> _Read:
        return _read(chosen[index], mentions, keys, repositories)

    # --helm-path keys keep whole node trees (helmpath walks them again in _plan): not worth a pickle
    done = [None] * len(chosen) if keys else fanout.fan_out(
        read, [len(source.data) for source in chosen], stand_ins=lambda i, outcome: _stand_ins(i, chosen[i], outcome),
        restore=lambda key: _restore(chosen, key))
    for index, source in enumerate(chosen):
        outcome = done[index] or read(index)  # in order: a refusal is the one a serial walk meets first
        if isinstance(outcome, Skipped):
            if source.explicit:
                raise EditRefused(
                    f"{source.relpath} was named with --path but {outcome.reason}",
                    hint="name only YAML files (manifests, values, kustomization, compose) with --path",
                    file=source.relpath,
                )
            skipped.append(outcome)
            continue
        loaded.add(source.relpath)
        placeholders.update(dict.fromkeys(outcome.placeholders, source.relpath))
        kept.extend(outcome.sections)
    try:
        planned = _plan(root, targets, paths, files, skipped, loaded, placeholders, kept)
        return dataclasses.replace(planned, notes=(recovered.note(), *planned.notes)) if recovered else planned
    except EditRefused as error:
        error.warnings = tuple(f"skipped {skip.file}: {skip.reason}" for skip in skipped)
        raise


@dataclass(frozen=True)
class _Loaded:
    placeholders: tuple[str, ...]  # names a kustomization of the file retags
    sections: list[tuple[_Section, list[Hit]]]  # what may be edited, with its hits


_Read = _Loaded | Skipped


def _read(source: tree.SourceFile, mentions: Callable[[bytes], bool], keys: set[bytes],
          repositories: set[str]) -> _Read:
    """One file's part of a plan: composed, its image references found, and kept only if one of them
    may be edited (pure: run in a worker of ``fanout`` on large trees)."""
    # of a multi-document file, only the documents that mention it; of a large document, only the
    # root values that do (--helm-path keys: the whole document, helmpath reads any key path)
    parsed = load(source, mentions, prune=not keys)
    if isinstance(parsed, Skipped):
        return parsed
    sections = [_Section(parsed, parsed, None)]
    if b"values" in source.data:
        sections.extend(_Section(parsed, inner.parsed, inner) for inner in argovalues.embedded(parsed))
    mine: list[tuple[_Section, list[Hit]]] = []
    for section in sections:  # keep only what may be edited: the other files' nodes are freed
        hits = list(find_all(section.inner))
        if keys or any(hit.kind == "variable" or hit.current.repository in repositories for hit in hits):
            mine.append((section, hits))
    return _Loaded(tuple(shapes.kustomize_names(parsed)), mine if keys else _slim(mine))


def _stand_ins(index: int, source: tree.SourceFile, outcome: _Read) -> Iterator[tuple[object, Hashable]]:
    """The objects of a worker's result the parent holds already: the file, and its text (decoded
    again by the parent: faster than a pickle of it)."""
    yield source, ("file", index)
    if isinstance(outcome, _Loaded) and outcome.sections:
        yield outcome.sections[0][0].outer.text, ("text", index)


def _restore(chosen: Sequence[tree.SourceFile], key: Hashable) -> object:
    kind, index = key if isinstance(key, tuple) else ("", -1)
    if kind == "file":
        return chosen[index]
    text = chosen[index].data.decode("utf-8")  # as yamlnodes.load decodes it: without the BOM
    return text[1:] if text.startswith("\ufeff") else text


def _plan(
    root: Path, targets: Sequence[Target], paths: Sequence[str], files: list[tree.SourceFile],
    skipped: list[Skipped], loaded: set[str], placeholders: dict[str, str],
    all_hits: list[tuple[_Section, list[Hit]]],
) -> BumpPlan:
    placeholders |= _ancestor_kustomize_names(root, paths, set(loaded))
    bare: dict[refs.ImageRef, str] = {}  # targets met only as placeholders so far -> the first one
    variable_uses = [(s.outer.source.relpath, h) for s, hits in all_hits for h in hits if h.kind == "variable"]
    spans: dict[str, list[Replacement]] = {}
    outer: dict[str, Parsed] = {}
    changes: list[Change] = []
    notes: list[str] = []
    env_uses: list[envedit.EnvUse] = []
    found: set[refs.ImageRef] = set()
    helm_hits: set[str] = set()
    for section, hits in all_hits:
        rel = section.outer.source.relpath
        for target in targets:
            version = (target.tag, target.digest)
            companions = [t.image for t in targets if t is not target and (t.tag, t.digest) == version]
            mine = target_hits(section.inner, hits, target, companions)
            duplicates = None if section.duplicates is None else \
                {id(node): (key, line) for node, key, line in section.duplicates}
            for hit in mine:
                duplicates = _refuse_duplicates(section.inner, hit, duplicates)
                if hit.helm_path:
                    helm_hits.add(hit.helm_path)
                if hit.kind == "image" and not hit.current.tag and not hit.current.digest \
                        and hit.current.repository in placeholders:
                    notes.append(f"{rel}:{hit.line}: left {hit.where} bare: {placeholders[hit.current.repository]} "
                                 f"sets the tag of {hit.current.name} (kustomize images:)")
                    bare.setdefault(target.image, f"{rel}:{hit.line}")
                    continue
                found.add(target.image)
                if hit.kind == "variable":
                    envedit.check_variable(root, rel, hit, target, targets, variable_uses)
                    env_uses.append(envedit.EnvUse(target, rel, hit))
                    continue
                done = spans.setdefault(rel, [])
                outer[rel] = section.outer
                for item in edit.plan_replacements(section.inner, hit, target.tag, target.digest):
                    if section.embedded is not None:
                        item = section.embedded.map(item)
                    if any(d.start == item.start and d.text == item.text for d in done):
                        continue
                    done.append(item)
                    changes.append(Change(rel, item.line, item.old, item.new, hit.where, target.image.name))
                    if item.note:
                        notes.append(f"{rel}:{item.line}: {item.note}")
    for target in targets:
        if target.image not in found and target.image in bare:
            kustomization = placeholders[target.image.repository]
            inside = kustomization in loaded
            raise EditRefused(
                f"{bare[target.image]}: {target.image.name} is a kustomize placeholder here; the images: entry "
                f"of {kustomization} " + ("renames it (newName): bump the new name" if inside else
                                          f"sets its tag, and it is outside --path {' '.join(paths)}"),
                hint=f"bump the image {kustomization} names, or add {kustomization} to --path",
                file=bare[target.image].split(":")[0],
            )
        if target.image not in found:
            raise explain.not_deployed(root, target, paths, files, skipped)
        for key_path in target.helm_paths:
            if key_path not in helm_hits:
                raise InputError(
                    "helm-path", key_path, "no file under the given paths has this key path "
                    "with a scalar value; check the spelling (keys are case-sensitive)"
                )
    edits = [
        FileEdit(parsed.source.path, rel, parsed.source.data, edit.apply(parsed, spans[rel]))
        for rel, parsed in outer.items() if spans[rel]
    ]
    env_edits, env_changes = envedit.env_edits(root, env_uses)
    return BumpPlan(root, tuple(changes + env_changes), tuple(skipped), tuple(edits + env_edits), tuple(notes))


def _refuse_duplicates(
    parsed: Parsed, hit: Hit, known: dict[int, tuple[str, int]] | None
) -> dict[int, tuple[str, int]]:
    """A key twice in the mapping that holds a target: which one a deployer reads is unclear,
    so editing one of them would be a half edit (issue #9)."""
    duplicates = known if known is not None else duplicate_keys(parsed.docs)
    relpath = parsed.source.relpath
    for node in (hit.value, hit.parent, hit.digest):
        if node is not None and id(node) in duplicates:
            key, line = duplicates[id(node)]
            raise EditRefused(
                f"{relpath}:{line}: the key {key!r} appears twice in the mapping that holds {hit.where}",
                hint="remove the duplicate key (YAML requires unique keys; tools disagree on which wins)",
                file=relpath, line=line,
            )
    return duplicates


def _ancestor_kustomize_names(root: Path, paths: Sequence[str], done: set[str]) -> dict[str, str]:
    """Names retagged by kustomizations in the directories above ``--path`` (an overlay's or base's
    kustomization outside the paths still turns bare images below it into placeholders)."""
    names: dict[str, str] = {}
    folders = {Path(path.replace("\\", "/")).parent if (root / path).is_file() else Path(path) for path in paths}
    for folder in folders:
        for above in [folder, *folder.parents]:
            for name in tree.KUSTOMIZATION_NAMES:
                rel = (above / name).as_posix().removeprefix("./")
                if rel in done or not (root / rel).is_file() or (root / rel).is_symlink():
                    continue
                done.add(rel)
                source = tree.SourceFile(root, rel, (root / rel).read_bytes()[: tree.MAX_FILE_BYTES], False)
                parsed = load(source)
                if isinstance(parsed, Parsed):
                    names.update(dict.fromkeys(shapes.kustomize_names(parsed), rel))
    return names


def apply_plan(plan: BumpPlan) -> None:
    """Write every planned file or none, crash-consistently (bump/journal.py)."""
    journal.commit(plan.root, [journal.Write(item.relpath, item.before, item.after) for item in plan.edits])
