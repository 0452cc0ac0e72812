"""``--helm-path KEY.PATH``: the scalars at a key path in every Helm values root, with the checks
that keep them on the right image: a sibling ``repository`` (and registry) must name the image
being bumped, and a tag key that other images fall back to (douban's ``global.image.tag``) is
refused unless those images are bumped to the same tag in the same change."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import yaml

from dify_action import refs
from dify_action.bump.imagekeys import helm_hit, walk
from dify_action.bump.layout import argo_sources, global_registry, parameters, values_roots
from dify_action.bump.model import parse_key_path
from dify_action.bump.yamlnodes import Hit, Parsed, get, join_registry, label, text_of
from dify_action.errors import EditRefused


def helm_path_hits(
    parsed: Parsed, image: refs.ImageRef, key_path: str, companions: Sequence[refs.ImageRef] = ()
) -> Iterator[Hit]:
    """The scalars at ``key_path`` in every values root, checked against the image being bumped:
    a sibling ``repository`` must name it, and a tag key other images fall back to is refused
    unless those images are bumped to the same tag (``companions``)."""
    parts = parse_key_path(key_path)
    for doc in parsed.docs:
        where = parsed.where + label(doc)
        for prefix, root in values_roots(doc):
            parent: yaml.Node | None = root
            for part in parts[:-1]:
                parent = get(parent, part)
            node = get(parent, parts[-1])
            if not isinstance(node, yaml.ScalarNode):
                continue
            _check_helm_path(parsed, doc, root, parent, node, image, key_path, companions)
            yield Hit(
                "helm-path", image.with_version(text_of(node) or None), node.start_mark.line + 1,
                f"{where}{prefix}{key_path}", node, shared_anchor=parsed.shared.get(id(node)), helm_path=key_path,
            )
        for prefix, source in argo_sources(doc):
            params = parameters(source)
            _, value = params.get(key_path, (None, None))
            if isinstance(value, yaml.ScalarNode):
                _check_parameter_sibling(parsed, params, value, image, key_path, global_registry(doc))
                yield Hit("helm-path", image.with_version(text_of(value) or None), value.start_mark.line + 1,
                          f"{where}{prefix}.helm.parameters[{key_path}]", value, helm_path=key_path)


def _check_parameter_sibling(
    parsed: Parsed, params: dict[str, tuple[yaml.Node, yaml.Node | None]], value: yaml.ScalarNode,
    image: refs.ImageRef, key_path: str, registry: str | None,
) -> None:
    """An Argo CD ``helm.parameters`` tag key: its ``<prefix>.repository`` parameter must name the image."""
    prefix = key_path.rpartition(".")[0]
    dot = f"{prefix}." if prefix else ""
    repository = text_of(params.get(f"{dot}repository", (value, None))[1])
    if not repository:
        return
    reg = text_of(params.get(f"{dot}registry", (value, None))[1]) or registry
    ref = refs.try_parse(join_registry(reg, repository))
    if ref is not None and not ref.same_repository(image):
        line = value.start_mark.line + 1
        raise EditRefused(
            f"{parsed.source.relpath}:{line}: --helm-path {key_path} is the tag of {ref.name} (parameter "
            f"{dot}repository), not of {image.name}; writing it would deploy the wrong image there",
            hint=f"give the parameter name of {image.name}'s own tag", file=parsed.source.relpath, line=line,
        )


def _check_helm_path(
    parsed: Parsed, doc: yaml.Node, root: yaml.Node, parent: yaml.Node | None, node: yaml.ScalarNode,
    image: refs.ImageRef, key_path: str, companions: Sequence[refs.ImageRef],
) -> None:
    file, line = parsed.source.relpath, node.start_mark.line + 1
    if isinstance(parent, yaml.MappingNode):
        own = helm_hit(parsed, parent, key_path.split(".")[-2] if "." in key_path else "", "", "", None,
                       global_registry(doc))
        if own is not None:
            if not own.current.same_repository(image):
                raise EditRefused(
                    f"{file}:{line}: --helm-path {key_path} is the tag of {own.current.name} (its sibling "
                    f"repository), not of {image.name}; writing it would deploy the wrong image there",
                    hint=f"give the key path of {image.name}'s own tag, or bump {own.current.name} itself",
                    file=file, line=line,
                )
            return
    subcharts = _subcharts(parsed) if root is doc else set()
    # only the image-key walk yields Helm mappings ("helm" hits): the document shapes never do
    values = Parsed(parsed.source, parsed.text, (root,), parsed.shared, parsed.bom)
    for other in walk(values, root, label(root), global_registry(root)):
        if other.kind != "helm" or other.current.tag or other.current.digest:
            continue
        if other.where.split(".", 1)[0] in subcharts:  # a dependency's values: its own chart's defaults
            continue
        if other.current.same_repository(image) or any(other.current.same_repository(c) for c in companions):
            continue
        raise EditRefused(
            f"{file}:{line}: --helm-path {key_path} is also the tag {other.current.name} falls back to "
            f"({other.where} is empty, {parsed.source.relpath}:{other.line}); bumping {image.name} there "
            f"would move {other.current.name} too",
            hint=f"drop --helm-path {key_path}: the bump then writes an explicit tag into {image.name}'s own "
                 f"image mapping; or bump {other.current.name} in the same change",
            file=file, line=line,
        )


def _subcharts(parsed: Parsed) -> set[str]:
    """Top-level keys of a chart's values.yaml that belong to its dependencies (Chart.yaml beside it)."""
    folder = parsed.source.path.parent
    chart = folder / "Chart.yaml"
    try:
        text = chart.read_text(encoding="utf-8") if chart.is_file() and not chart.is_symlink() else ""
        loaded = yaml.load(text, Loader=yaml.CSafeLoader) if text else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return set()
    dependencies = loaded.get("dependencies") if isinstance(loaded, dict) else None
    names: set[str] = set()
    for item in dependencies if isinstance(dependencies, list) else []:
        if isinstance(item, dict):
            names.update(str(item[key]) for key in ("name", "alias") if item.get(key))
    return names
