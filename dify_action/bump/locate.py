"""Find image references in parsed YAML, with the positions of the scalars that hold them.

Shapes understood (any document, any depth):
- ``image: repo:tag`` strings, and any key ending in ``image``/``Image`` (``initImage``,
  ``inline_image``): Kubernetes containers of every workload kind, docker-compose services,
  single-string Helm values;
- Helm values mappings ``{repository, tag}`` (also ``version`` as the tag key, and
  ``{name, tag}`` under an image key), with ``registry`` in the mapping or ``global.image.registry``
  / ``global.imageRegistry``, also inside Flux HelmRelease ``spec.values`` and Argo CD ``valuesObject``;
- kustomization ``images:`` entries (Flux ``Kustomization.spec.images`` too), matched on ``newName``
  else ``name``; Argo CD ``kustomize.images`` strings and ``helm.parameters``, ``helm.values`` blocks
  (see ``shapes``);
- compose tags from variables (``repo:${TAG}``), reported so the engine can refuse or edit ``.env``;
- explicit Helm key paths given by the user (``image.api.tag``).

Positions come from the composer's node marks (character offsets into ``Parsed.text``). libyaml
(``yaml.CSafeLoader``) composes every file whose aliases cannot share a value; only those go
through the pure-Python composer that records anchors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import yaml

from dify_action import refs
from dify_action.bump.composer import AliasBomb, compose_tracking, may_share
from dify_action.bump.tree import KUSTOMIZATION_NAMES, SourceFile
from dify_action.errors import InputError
from dify_action.yamlguard import Budget, BudgetExceeded, check

if TYPE_CHECKING:
    from dify_action.bump.engine import Skipped
    from dify_action.bump.variables import Variable

_BOM = "\ufeff"
BUDGET = Budget()  # GitOps files: 100 levels, 200,000 nodes with aliases expanded (yamlguard)


@dataclass(frozen=True)
class Parsed:
    """A composed file. ``text`` excludes a leading BOM (kept in ``bom``); marks index ``text``."""

    source: SourceFile
    text: str
    docs: tuple[yaml.Node, ...]
    shared: dict[int, str] = field(default_factory=dict)  # id(node an alias points at) -> anchor
    bom: str = ""
    where: str = ""  # label prefix of an embedded document (Argo CD helm.values block)


@dataclass(frozen=True)
class Hit:
    """A place that holds an image. ``kind``: image | helm | kustomize | helm-path | variable."""

    kind: str
    current: refs.ImageRef
    line: int
    where: str
    value: yaml.ScalarNode | None  # the scalar to rewrite (None: a key to insert into ``parent``)
    parent: yaml.MappingNode | None = None
    digest: yaml.ScalarNode | None = None
    shared_anchor: str | None = None
    helm_path: str | None = None
    prefix: str = ""  # text before the reference inside the scalar (``alias=`` of Argo CD lists)
    tag_key: str = "tag"  # the key an insert adds (``newTag`` for kustomize)
    variable: Variable | None = None


def load(source: SourceFile) -> Parsed | Skipped:
    """Decode and compose a file; return Skipped (with the reason) when it is not usable YAML."""
    try:
        text = source.data.decode("utf-8")
    except UnicodeDecodeError:
        from dify_action.bump.engine import Skipped

        return Skipped(source.relpath, "not UTF-8 text")
    bom = _BOM if text.startswith(_BOM) else ""
    return compose(source, text[len(bom):], bom)


def compose(source: SourceFile, text: str, bom: str = "", where: str = "") -> Parsed | Skipped:
    from dify_action.bump.engine import Skipped

    try:
        if may_share(text):
            docs, shared = compose_tracking(text)
        else:  # libyaml: about 10x faster than the pure composer, same character marks
            try:
                check(text, BUDGET)  # depth and size on libyaml's event stream, before its composer recurses
                docs = [doc for doc in yaml.compose_all(text, Loader=yaml.CSafeLoader) if doc is not None]
                shared = {}
            except BudgetExceeded:
                raise
            except yaml.YAMLError:  # the few texts only the pure composer accepts: it has the last word
                if "{{" in text:  # a template: neither composer will take it
                    raise
                docs, shared = compose_tracking(text)
    except AliasBomb as error:
        return Skipped(source.relpath, str(error))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        if "{{" in text:
            return Skipped(source.relpath, f"not valid YAML{at}, a Helm/Go template ({{{{ ... }}}}): {problem}")
        return Skipped(source.relpath, f"not valid YAML{at}: {problem}")
    return Parsed(source, text, tuple(docs), shared, bom, where)


def parse_key_path(key_path: str) -> tuple[str, ...]:
    parts = tuple(key_path.split("."))
    if not key_path or any(not part or part != part.strip() for part in parts):
        raise InputError(
            "helm-path", key_path, "a dotted key path such as image.api.tag (no empty or spaced parts)"
        )
    return parts


def text_of(node: yaml.Node | None) -> str | None:
    if isinstance(node, yaml.ScalarNode) and node.style not in ("|", ">"):
        return str(node.value)
    return None


def get(mapping: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(mapping, yaml.MappingNode):
        for key_node, value in mapping.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return value  # type: ignore[no-any-return]
    return None


def label(doc: yaml.Node) -> str:
    kind = text_of(get(doc, "kind"))
    name = text_of(get(get(doc, "metadata"), "name"))
    return f"{kind}/{name} " if kind and name else (f"{kind} " if kind else "")


def is_image_key(key: str) -> bool:
    return key.endswith(("image", "Image"))


def join_registry(registry: str | None, repository: str) -> str:
    """``registry`` + ``repository`` as charts render them, unless the repository names its host."""
    registry = (registry or "").strip().rstrip("/")
    first = repository.split("/", 1)[0]
    if not registry or ("/" in repository and ("." in first or ":" in first or first == "localhost")):
        return repository
    return f"{registry}/{repository}"


def find_all(parsed: Parsed) -> Iterator[Hit]:
    """Every image reference in the file, in document order."""
    from dify_action.bump import shapes

    for doc in parsed.docs:
        where = parsed.where + label(doc)
        yield from shapes.document_hits(parsed, doc, where)
        yield from _walk(parsed, doc, where, "", "", None, set(), shapes.global_registry(doc))


def find_target(parsed: Parsed, image: refs.ImageRef, helm_paths: Sequence[str] = ()) -> list[Hit]:
    """The places in ``parsed`` that deploy ``image`` (same normalized repository)."""
    from dify_action.bump import helmpath

    hits = [hit for hit in find_all(parsed) if hit.current.same_repository(image)]
    for key_path in helm_paths:
        hits.extend(helmpath.helm_path_hits(parsed, image, key_path))
    return hits


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


def owner(parsed: Parsed, node: yaml.Node, shared: str | None) -> str | None:
    return parsed.shared.get(id(node), shared)


def _image_hit(parsed: Parsed, value: yaml.ScalarNode, where: str, shared: str | None) -> Hit | None:
    text = str(value.value).strip()  # block scalars too: the edit refuses them loudly
    line = value.start_mark.line + 1
    if "$" in text:
        from dify_action.bump.variables import parse_variable

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


def is_kustomization(parsed: Parsed, doc: yaml.Node) -> bool:
    name = parsed.source.relpath.rsplit("/", 1)[-1]
    return name in KUSTOMIZATION_NAMES or text_of(get(doc, "kind")) in ("Kustomization", "Component")
