"""Find image references in parsed YAML, with the positions of the scalars that hold them.

Shapes understood (any document, any depth):
- ``image: repo:tag`` strings: Kubernetes containers/initContainers/ephemeralContainers of every
  workload kind (and ``kind: List``), docker-compose ``services.*.image``, single-string Helm values;
- Helm values mappings with ``repository`` (+ optional ``registry``) and ``tag`` (+ optional
  ``digest``), also inside Flux HelmRelease ``spec.values`` and Argo CD ``valuesObject``;
- kustomization ``images:`` entries, matched on ``newName`` else ``name``;
- explicit Helm key paths given by the user (``image.api.tag``).

Positions come from PyYAML's composer (node marks are character offsets into the text we pass).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from dify_action import refs
from dify_action.bump.tree import KUSTOMIZATION_NAMES, SourceFile
from dify_action.errors import InputError
from dify_action.yamlguard import Guarded

if TYPE_CHECKING:
    from dify_action.bump.engine import Skipped

MAX_EXPANDED_NODES = 200_000
_KEY_PATH_PART = r"[^.\s]+"


class _Loader(Guarded, yaml.SafeLoader):
    """The pure-Python composer, recording anchors and which nodes aliases point at; the
    depth/alias budget (yamlguard) is checked on each event before it is composed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliased: set[int] = set()
        self.anchors_by_node: dict[int, str] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        node = super().compose_node(parent, index)
        if isinstance(event, yaml.AliasEvent):
            self.aliased.add(id(node))
        elif getattr(event, "anchor", None):
            self.anchors_by_node[id(node)] = event.anchor
        return node


@dataclass(frozen=True)
class Parsed:
    source: SourceFile
    text: str
    docs: tuple[yaml.Node, ...]
    shared: dict[int, str]  # id(anchored node that an alias points at) -> anchor name
    anchored: dict[int, str]


@dataclass(frozen=True)
class Hit:
    """A place that holds an image. ``kind``: image | helm | kustomize | helm-path."""

    kind: str
    current: refs.ImageRef
    line: int
    where: str
    value: yaml.ScalarNode | None  # the scalar to rewrite (None: a key to insert into ``parent``)
    parent: yaml.MappingNode | None = None
    digest: yaml.ScalarNode | None = None
    shared_anchor: str | None = None
    helm_path: str | None = None


def load(source: SourceFile) -> Parsed | Skipped:
    """Decode and compose a file; return Skipped (with the reason) when it is not usable YAML."""
    from dify_action.bump.engine import Skipped

    try:
        text = source.data.decode("utf-8")
    except UnicodeDecodeError:
        return Skipped(source.relpath, "not UTF-8 text")
    loader = _Loader(text)
    try:
        docs: list[yaml.Node] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                docs.append(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        return Skipped(source.relpath, f"not valid YAML{where}: {problem}")
    finally:
        loader.dispose()
    sizes: dict[int, int] = {}
    if any(_expanded_size(doc, sizes) > MAX_EXPANDED_NODES for doc in docs):
        return Skipped(
            source.relpath,
            f"aliases expand it to over {MAX_EXPANDED_NODES} nodes (an alias bomb); refusing to read it",
        )
    shared = {key: name for key, name in loader.anchors_by_node.items() if key in loader.aliased}
    return Parsed(source, text, tuple(docs), shared, dict(loader.anchors_by_node))


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1  # a recursive alias counts once
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
    return sizes[id(node)]


def parse_key_path(key_path: str) -> tuple[str, ...]:
    parts = tuple(key_path.split("."))
    if not key_path or any(not part or part != part.strip() for part in parts):
        raise InputError(
            "helm-path", key_path, "a dotted key path such as image.api.tag (no empty or spaced parts)"
        )
    return parts


def _str(node: yaml.Node | None) -> str | None:
    if isinstance(node, yaml.ScalarNode) and node.style not in ("|", ">"):
        return str(node.value)
    return None


def _get(mapping: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(mapping, yaml.MappingNode):
        for key_node, value in mapping.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return value  # type: ignore[no-any-return]
    return None


def _label(doc: yaml.Node) -> str:
    kind = _str(_get(doc, "kind"))
    name = _str(_get(_get(doc, "metadata"), "name"))
    return f"{kind}/{name} " if kind and name else (f"{kind} " if kind else "")


def _is_kustomization(parsed: Parsed, doc: yaml.Node) -> bool:
    name = parsed.source.relpath.rsplit("/", 1)[-1]
    return name in KUSTOMIZATION_NAMES or _str(_get(doc, "kind")) in ("Kustomization", "Component")


def find_all(parsed: Parsed) -> Iterator[Hit]:
    """Every image reference in the file, in document order."""
    for doc in parsed.docs:
        label = _label(doc)
        if _is_kustomization(parsed, doc):
            yield from _kustomize_hits(parsed, doc, label)
        yield from _walk(parsed, doc, label, "", None, set())


def find_target(parsed: Parsed, image: refs.ImageRef, helm_paths: Sequence[str] = ()) -> list[Hit]:
    """The places in ``parsed`` that deploy ``image`` (same normalized repository)."""
    hits = [hit for hit in find_all(parsed) if hit.current.same_repository(image)]
    for key_path in helm_paths:
        hits.extend(_helm_path_hits(parsed, image, key_path))
    return hits


def _walk(
    parsed: Parsed, node: yaml.Node, label: str, path: str, shared: str | None, seen: set[int]
) -> Iterator[Hit]:
    if id(node) in parsed.shared:
        shared = parsed.shared[id(node)]
    if isinstance(node, yaml.SequenceNode):
        if id(node) in seen:
            return
        seen.add(id(node))
        for index, item in enumerate(node.value):
            name = _str(_get(item, "name"))
            yield from _walk(parsed, item, label, f"{path}[{name or index}]", shared, seen)
    elif isinstance(node, yaml.MappingNode):
        if id(node) in seen:
            return
        seen.add(id(node))
        helm = _helm_hit(parsed, node, label, path, shared)
        if helm is not None:
            yield helm
        for key_node, value in node.value:
            key = _str(key_node) or "?"
            child = f"{path}.{key}" if path else key
            if key == "image" and isinstance(value, yaml.ScalarNode):
                hit = _image_hit(parsed, value, label, child, shared)
                if hit is not None:
                    yield hit
            else:
                yield from _walk(parsed, value, label, child, shared, seen)


def _owner(parsed: Parsed, node: yaml.Node, shared: str | None) -> str | None:
    return parsed.shared.get(id(node), shared)


def _image_hit(parsed: Parsed, value: yaml.ScalarNode, label: str, path: str, shared: str | None) -> Hit | None:
    ref = refs.try_parse(str(value.value).strip())  # block scalars too: the edit refuses them loudly
    if ref is None:
        return None
    line = value.start_mark.line + 1
    return Hit("image", ref, line, f"{label}{path}", value, shared_anchor=_owner(parsed, value, shared))


def _helm_hit(parsed: Parsed, node: yaml.MappingNode, label: str, path: str, shared: str | None) -> Hit | None:
    repository = _str(_get(node, "repository"))
    if not repository:
        return None
    registry = _str(_get(node, "registry"))
    ref = refs.try_parse(f"{registry}/{repository}" if registry else repository)
    if ref is None or ref.tag or ref.digest:
        return None
    tag_node = _get(node, "tag")
    digest_node = _get(node, "digest")
    tag = _str(tag_node)
    digest = _str(digest_node) or None
    current = ref.with_version(tag or None, digest if digest and refs.DIGEST_RE.fullmatch(digest) else None)
    value = tag_node if isinstance(tag_node, yaml.ScalarNode) else None
    if tag_node is not None and value is None:
        return None
    anchor = _owner(parsed, tag_node, shared) if tag_node is not None else shared
    line = (tag_node or node).start_mark.line + 1
    where = f"{label}{path}.tag" if path else f"{label}tag"
    return Hit(
        "helm", current, line, where, value, parent=node,
        digest=digest_node if isinstance(digest_node, yaml.ScalarNode) else None, shared_anchor=anchor,
    )


def _kustomize_hits(parsed: Parsed, doc: yaml.Node, label: str) -> Iterator[Hit]:
    images = _get(doc, "images")
    if not isinstance(images, yaml.SequenceNode):
        return
    for entry in images.value:
        if not isinstance(entry, yaml.MappingNode):
            continue
        name = _str(_get(entry, "newName")) or _str(_get(entry, "name"))
        ref = refs.try_parse(name) if name else None
        if ref is None:
            continue
        tag_node = _get(entry, "newTag")
        digest_node = _get(entry, "digest")
        digest = _str(digest_node)
        current = ref.with_version(_str(tag_node), digest if digest and refs.DIGEST_RE.fullmatch(digest) else None)
        value = tag_node if isinstance(tag_node, yaml.ScalarNode) else None
        line = (tag_node or entry).start_mark.line + 1
        yield Hit(
            "kustomize", current, line, f"{label}images[{name}].newTag", value, parent=entry,
            digest=digest_node if isinstance(digest_node, yaml.ScalarNode) else None,
            shared_anchor=_owner(parsed, entry, None) or (_owner(parsed, tag_node, None) if tag_node else None),
        )


def _values_roots(doc: yaml.Node) -> Iterator[tuple[str, yaml.Node]]:
    kind = _str(_get(doc, "kind"))
    spec = _get(doc, "spec")
    if kind == "HelmRelease":
        values = _get(spec, "values")
        if values is not None:
            yield "spec.values.", values
    elif kind in ("Application", "ApplicationSet"):
        sources = [_get(spec, "source")]
        listed = _get(spec, "sources")
        if isinstance(listed, yaml.SequenceNode):
            sources.extend(listed.value)
        for source in sources:
            values = _get(_get(source, "helm"), "valuesObject")
            if values is not None:
                yield "spec.source.helm.valuesObject.", values
    else:
        yield "", doc


def _helm_path_hits(parsed: Parsed, image: refs.ImageRef, key_path: str) -> Iterator[Hit]:
    parts = parse_key_path(key_path)
    for doc in parsed.docs:
        for prefix, values in _values_roots(doc):
            node: yaml.Node | None = values
            for part in parts:
                node = _get(node, part)
            if not isinstance(node, yaml.ScalarNode):
                continue
            current = image.with_version(_str(node) or None)
            yield Hit(
                "helm-path", current, node.start_mark.line + 1, f"{_label(doc)}{prefix}{key_path}", node,
                shared_anchor=parsed.shared.get(id(node)), helm_path=key_path,
            )
