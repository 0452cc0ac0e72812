"""Where images live inside a document: the sources of an Argo CD Application or ApplicationSet,
the Helm values roots (a HelmRelease's ``spec.values``, Argo CD ``valuesObject``, else the document),
the global registry of those values and Argo CD ``helm.parameters``.

A leaf of the bump engine: navigation over ``yamlnodes``, no hits; the kinds build on it.
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from dify_action.bump.yamlnodes import get, text_of


def argo_sources(doc: yaml.Node) -> Iterator[tuple[str, yaml.Node]]:
    """``(label path, source)`` of an Argo CD Application or ApplicationSet (its template too)."""
    kind = text_of(get(doc, "kind"))
    if kind not in ("Application", "ApplicationSet"):
        return
    spec = get(doc, "spec")
    specs = [("spec", spec)]
    if kind == "ApplicationSet":
        specs.append(("spec.template.spec", get(get(spec, "template"), "spec")))
    for prefix, body in specs:
        single = get(body, "source")
        if single is not None:
            yield f"{prefix}.source", single
        listed = get(body, "sources")
        if isinstance(listed, yaml.SequenceNode):
            for index, item in enumerate(listed.value):
                yield f"{prefix}.sources[{index}]", item


def values_roots(doc: yaml.Node) -> Iterator[tuple[str, yaml.Node]]:
    """The Helm values mappings of a document: a HelmRelease's, Argo CD valuesObjects, else itself."""
    kind = text_of(get(doc, "kind"))
    if kind == "HelmRelease":
        values = get(get(doc, "spec"), "values")
        if values is not None:
            yield "spec.values.", values
    elif kind in ("Application", "ApplicationSet"):
        for prefix, source in argo_sources(doc):
            values = get(get(source, "helm"), "valuesObject")
            if values is not None:
                yield f"{prefix}.helm.valuesObject.", values
    else:
        yield "", doc


def global_registry(doc: yaml.Node) -> str | None:
    """``global.image.registry`` or ``global.imageRegistry`` of the document's values, if set."""
    for _, root in values_roots(doc):
        glob = get(root, "global")
        found = text_of(get(get(glob, "image"), "registry")) or text_of(get(glob, "imageRegistry"))
        if found:
            return found
    return None


def parameters(source: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node | None]]:
    listed = get(get(source, "helm"), "parameters")
    found: dict[str, tuple[yaml.Node, yaml.Node | None]] = {}
    if isinstance(listed, yaml.SequenceNode):
        for item in listed.value:
            name = text_of(get(item, "name"))
            if name:
                found[name] = (item, get(item, "value"))
    return found
