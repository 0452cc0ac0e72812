"""Image keys at any depth: ``image: repo:tag`` strings under any key ending in ``image``/``Image``
(Kubernetes containers of every workload kind, docker-compose services, single-string Helm values),
compose tags from variables (``repo:${TAG}``, reported so the engine can refuse or set them), and
Helm values mappings ``{repository, tag}`` (also ``version`` as the tag key, ``{name, tag}`` under an
image key) with ``registry`` in the mapping or a global registry.

A kind of manifest: it imports only the leaves (``yamlnodes``, ``variables``); the dispatcher
(``find``) calls it for every document.
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from dify_action import refs
from dify_action.bump.variables import parse_variable
from dify_action.bump.yamlnodes import Hit, Parsed, get, is_image_key, join_registry, owner, text_of


def walk(parsed: Parsed, doc: yaml.Node, where: str, registry: str | None) -> Iterator[Hit]:
    """The image keys and Helm image mappings of ``doc``, in document order; ``registry`` is the
    document's global registry (``layout.global_registry``), applied to mappings without their own."""
    return _walk(parsed, doc, where, "", "", None, set(), registry)


def _walk(
    parsed: Parsed, node: yaml.Node, where: str, path: str, key: str, shared: str | None, seen: set[int],
    registry: str | None,
) -> Iterator[Hit]:
    if id(node) in parsed.shared:
        shared = parsed.shared[id(node)]
    if isinstance(node, yaml.SequenceNode):
        if id(node) in seen:
            return
        seen.add(id(node))
        for index, item in enumerate(node.value):
            name = text_of(get(item, "name"))
            yield from _walk(parsed, item, where, f"{path}[{name or index}]", "", shared, seen, registry)
    elif isinstance(node, yaml.MappingNode):
        if id(node) in seen:
            return
        seen.add(id(node))
        helm = helm_hit(parsed, node, key, where, path, shared, registry)
        if helm is not None:
            yield helm
        for key_node, value in node.value:
            child_key = text_of(key_node) or "?"
            child = f"{path}.{child_key}" if path else child_key
            if is_image_key(child_key) and isinstance(value, yaml.ScalarNode):
                hit = _image_hit(parsed, value, f"{where}{child}", shared)
                if hit is not None:
                    yield hit
            else:
                yield from _walk(parsed, value, where, child, child_key, shared, seen, registry)


def _image_hit(parsed: Parsed, value: yaml.ScalarNode, where: str, shared: str | None) -> Hit | None:
    text = str(value.value).strip()  # block scalars too: the edit refuses them loudly
    line = value.start_mark.line + 1
    if "$" in text:
        found = parse_variable(text)
        if found is None:
            return None
        repository, variable = found
        anchor = owner(parsed, value, shared)
        return Hit("variable", repository, line, where, value, shared_anchor=anchor, variable=variable)
    ref = refs.try_parse(text)
    if ref is None:
        return None
    return Hit("image", ref, line, where, value, shared_anchor=owner(parsed, value, shared))


def helm_hit(
    parsed: Parsed, node: yaml.MappingNode, key: str, where: str, path: str, shared: str | None,
    registry: str | None,
) -> Hit | None:
    """A Helm image mapping: ``repository`` (or ``name`` under an image key) with ``tag``/``version``."""
    repository_key = "repository"
    repository = text_of(get(node, "repository"))
    if not repository and is_image_key(key):
        repository_key, repository = "name", text_of(get(node, "name"))
    if not repository:
        return None
    ref = refs.try_parse(join_registry(text_of(get(node, "registry")) or registry, repository))
    if ref is None:
        return None
    if ref.tag or ref.digest:  # {repository: x/y:1.0} with no tag key: the version is in that string
        whole = get(node, repository_key)
        if get(node, "tag") is not None or get(node, "version") is not None or not isinstance(whole, yaml.ScalarNode) \
                or str(ref) != repository:  # a registry key applies: the edit would not know the string's spelling
            return None
        return Hit("image", ref, whole.start_mark.line + 1,
                   f"{where}{path}.{repository_key}" if path else f"{where}{repository_key}", whole,
                   shared_anchor=owner(parsed, whole, shared))
    tag_key = "tag"
    tag_node = get(node, "tag")
    if tag_node is None and get(node, "version") is not None:
        tag_key, tag_node = "version", get(node, "version")  # bitnami's {registry, repository, version}
    digest_node = get(node, "digest")
    tag = text_of(tag_node)
    digest = text_of(digest_node) or None
    current = ref.with_version(tag or None, digest if digest and refs.DIGEST_RE.fullmatch(digest) else None)
    value = tag_node if isinstance(tag_node, yaml.ScalarNode) else None
    if tag_node is not None and value is None:
        return None
    anchor = owner(parsed, tag_node, shared) if tag_node is not None else shared
    line = (tag_node or node).start_mark.line + 1
    return Hit(
        "helm", current, line, f"{where}{path}.{tag_key}" if path else f"{where}{tag_key}", value, parent=node,
        digest=digest_node if isinstance(digest_node, yaml.ScalarNode) else None, shared_anchor=anchor,
        tag_key=tag_key,
    )
