"""Document-level image shapes: kustomize ``images:`` (kustomize and Flux), Argo CD sources
(``kustomize.images`` strings, ``helm.parameters``, ``valuesObject``, ApplicationSet templates),
Helm image mappings and ``--helm-path`` keys are ``imagekeys`` and ``helmpath``.
A kind of manifest: it imports only the leaves (``yamlnodes``, ``layout``).

Argo CD: https://argo-cd.readthedocs.io/en/stable/user-guide/helm/ and .../kustomize/; Argo CD
Image Updater's write-back file ``.argocd-source-<app>.yaml`` holds the same two sections at its top;
Flux: https://fluxcd.io/flux/components/kustomize/kustomizations/#images
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from dify_action import refs
from dify_action.bump.layout import argo_sources, global_registry, parameters
from dify_action.bump.tree import is_writeback
from dify_action.bump.yamlnodes import (
    Hit,
    Parsed,
    get,
    is_image_key,
    is_kustomization,
    join_registry,
    owner,
    text_of,
)
from dify_action.errors import EditRefused


def document_hits(parsed: Parsed, doc: yaml.Node, where: str) -> Iterator[Hit]:
    """Hits that depend on what the document is (kustomization, Flux Kustomization, Argo CD app)."""
    if is_kustomization(parsed, doc):
        yield from _kustomize_hits(parsed, get(doc, "images"), where + "images")
        if "toolkit.fluxcd.io" in (text_of(get(doc, "apiVersion")) or ""):
            yield from _kustomize_hits(parsed, get(get(doc, "spec"), "images"), where + "spec.images")
    sources = list(argo_sources(doc))
    if is_writeback(parsed.source.relpath) and isinstance(doc, yaml.MappingNode):
        sources.append(("", doc))  # the updater's override file is a source's kustomize/helm section
    for prefix, source in sources:
        dot = f"{prefix}." if prefix else ""
        yield from _argo_kustomize_images(parsed, source, f"{where}{dot}kustomize.images")
        yield from _argo_parameters(parsed, source, f"{where}{dot}helm.parameters", global_registry(doc))


def _kustomize_hits(parsed: Parsed, images: yaml.Node | None, where: str) -> Iterator[Hit]:
    if not isinstance(images, yaml.SequenceNode):
        return
    for entry in images.value:
        if not isinstance(entry, yaml.MappingNode):
            continue
        new_name = get(entry, "newName")
        name = text_of(new_name) or text_of(get(entry, "name"))
        ref = refs.try_parse(name) if name else None
        if ref is None:
            continue
        anchor = owner(parsed, entry, None)
        if (ref.tag or ref.digest) and isinstance(new_name, yaml.ScalarNode):
            # newName carries the version itself: edit it there (a newTag would render repo:11:16)
            yield Hit("image", ref, new_name.start_mark.line + 1, f"{where}[{name}].newName", new_name,
                      shared_anchor=owner(parsed, new_name, anchor))
            continue
        tag_node = get(entry, "newTag")
        digest_node = get(entry, "digest")
        digest = text_of(digest_node)
        current = ref.with_version(text_of(tag_node), digest if digest and refs.DIGEST_RE.fullmatch(digest) else None)
        value = tag_node if isinstance(tag_node, yaml.ScalarNode) else None
        yield Hit(
            "kustomize", current, (tag_node or entry).start_mark.line + 1, f"{where}[{name}].newTag", value,
            parent=entry, digest=digest_node if isinstance(digest_node, yaml.ScalarNode) else None,
            shared_anchor=anchor or (owner(parsed, tag_node, None) if tag_node else None), tag_key="newTag",
        )


def _argo_kustomize_images(parsed: Parsed, source: yaml.Node, where: str) -> Iterator[Hit]:
    """``[alias=]image[:tag|@digest]`` strings; entries that are not references are ignored."""
    images = get(get(source, "kustomize"), "images")
    if not isinstance(images, yaml.SequenceNode):
        return
    for item in images.value:
        text = text_of(item)
        if not isinstance(item, yaml.ScalarNode) or not text:
            continue
        alias, sep, rest = text.partition("=")
        prefix = alias + sep if sep else ""
        ref = refs.try_parse(rest if sep else text)
        if ref is None:
            continue
        yield Hit("image", ref, item.start_mark.line + 1, f"{where}[{alias if sep else ref.name}]", item,
                  shared_anchor=owner(parsed, item, None), prefix=prefix)


def _argo_parameters(parsed: Parsed, source: yaml.Node, where: str, registry: str | None) -> Iterator[Hit]:
    """``helm.parameters`` entries grouped by prefix: ``api.image.repository`` + ``api.image.tag``."""
    params = parameters(source)
    for name, (item, value) in params.items():
        prefix, _, leaf = name.rpartition(".")
        if is_image_key(leaf) and isinstance(value, yaml.ScalarNode):
            ref = refs.try_parse(str(value.value))
            if ref is not None and (ref.tag or ref.digest):
                yield Hit("image", ref, value.start_mark.line + 1, f"{where}[{name}]", value)
            continue
        if leaf not in ("repository", "name") or (leaf == "name" and not is_image_key(prefix.rpartition(".")[2])):
            continue
        dot = f"{prefix}." if prefix else ""
        reg = text_of(params.get(f"{dot}registry", (item, None))[1]) or registry
        ref = refs.try_parse(join_registry(reg, text_of(value) or ""))
        if ref is None or ref.tag or ref.digest:
            continue
        _, tag_value = params.get(f"{dot}tag", (item, None))
        if not isinstance(tag_value, yaml.ScalarNode):
            raise EditRefused(
                f"{parsed.source.relpath}:{item.start_mark.line + 1}: Argo CD helm.parameters sets {name} "
                f"({ref.name}) but no {dot}tag parameter with a value to rewrite",
                hint=f"add a parameter {{name: {dot}tag, value: ...}} by hand, then re-run the bump",
                file=parsed.source.relpath, line=item.start_mark.line + 1,
            )
        yield Hit("tag", ref.with_version(str(tag_value.value) or None), tag_value.start_mark.line + 1,
                  f"{where}[{dot}tag]", tag_value)


def kustomize_names(parsed: Parsed) -> set[str]:
    """Repositories that a kustomization's ``images:`` entries rename or retag (by ``name``):
    bare ``image: <name>`` in the resources is a placeholder kustomize fills in at build time."""
    names: set[str] = set()
    for doc in parsed.docs:
        if not is_kustomization(parsed, doc):
            continue
        for images in (get(doc, "images"), get(get(doc, "spec"), "images")):
            if isinstance(images, yaml.SequenceNode):
                for entry in images.value:
                    ref = refs.try_parse(text_of(get(entry, "name")) or "")
                    if ref is not None and not ref.tag and not ref.digest:
                        names.add(ref.repository)
    return names
