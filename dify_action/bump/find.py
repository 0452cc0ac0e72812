"""The one dispatcher over the kinds of manifest: every image reference of a file, the ones a target
deploys, and the images deployed under some paths (for promote).

Kinds it calls: ``shapes`` (kustomize ``images:``, Flux, Argo CD sources), ``imagekeys`` (image keys
and Helm image mappings at any depth), ``helmpath`` (``--helm-path`` keys) and ``argovalues``
(Argo CD ``helm.values`` blocks). Kinds never call back here: they import only the leaves.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from dify_action import refs
from dify_action.bump import argovalues, helmpath, imagekeys, shapes, tree
from dify_action.bump.layout import global_registry
from dify_action.bump.model import FoundImage, Skipped, Target
from dify_action.bump.yamlnodes import Hit, Parsed, label, load


def find_all(parsed: Parsed) -> Iterator[Hit]:
    """Every image reference in the file, in document order."""
    for doc in parsed.docs:
        where = parsed.where + label(doc)
        yield from shapes.document_hits(parsed, doc, where)
        yield from imagekeys.walk(parsed, doc, where, global_registry(doc))


def target_hits(
    parsed: Parsed, hits: Sequence[Hit], target: Target, companions: Sequence[refs.ImageRef] = ()
) -> list[Hit]:
    """The places among ``hits`` (``find_all`` of ``parsed``) that deploy ``target``, plus its
    ``--helm-path`` keys. Where a key path gives the tag, a Helm mapping with an empty tag is the
    one that falls back to it: the key is edited, not the mapping (no second tag is inserted)."""
    mine = [hit for hit in hits if hit.current.same_repository(target.image)]
    by_path = [hit for key_path in target.helm_paths
               for hit in helmpath.helm_path_hits(parsed, target.image, key_path, companions)]
    if by_path:
        mine = [hit for hit in mine if hit.kind != "helm" or hit.current.tag or hit.current.digest]
    return mine + by_path


def find_images(root: Path, paths: Sequence[str] = (), needles: Sequence[bytes] = ()) -> list[FoundImage]:
    """Every image reference deployed under ``paths``, in every shape ``plan_bump`` edits (Argo CD
    ``helm.values`` blocks included; tags from compose variables are left out: their value is not
    in the manifest). ``needles``: only files whose bytes hold one of them are parsed (a caller that
    looks for some images only: a file without their names cannot deploy them)."""
    files, _ = tree.collect(root, paths)
    found: list[FoundImage] = []
    for source in files:
        if needles and not any(needle in source.data for needle in needles):
            continue
        parsed = load(source)
        if isinstance(parsed, Skipped):
            continue
        inner = [(item.parsed, item.first_line) for item in argovalues.embedded(parsed)] \
            if b"values" in source.data else []
        for section, offset in [(parsed, 0), *inner]:
            found.extend(
                FoundImage(source.relpath, hit.line + offset, hit.current, hit.where)
                for hit in find_all(section) if hit.kind != "variable"
            )
    return found
