"""The YAML side of the config: compose with line marks, apply overrides, map schema errors.

PyYAML's composer keeps a mark on every node; we record the line of each key path so an error
found later (by the schema or by a semantic check) can point at the line the user must fix.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from dify_action.errors import ConfigError, InputError
from dify_action.yamlguard import Budget, Guarded, line_of, problem_of

Key = tuple[str | int, ...]


@dataclass(frozen=True)
class Override:
    """A setting from a CLI flag or action input: ``key`` is a path like ``("scan", "severity")``.

    Under ``components`` the second element is a component name, not an index.
    """

    key: tuple[str, ...]
    value: object
    source: str


def key_text(key: Key) -> str:
    """``("components", 1, "dockerfile")`` -> ``components[1].dockerfile``."""
    text = ""
    for part in key:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class _Loader(Guarded, yaml.SafeLoader):
    """Safe loading with dates kept as the strings the user wrote (the schema checks them).

    A config is small: deep nesting, recursive aliases and alias bombs are refused on the event
    stream before they are composed, so nothing later (walk, schema) can recurse or expand."""

    budget = Budget(max_depth=32, max_nodes=50_000)


def _keep_string(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _keep_string)


def compose(text: str, source: str, budget: Budget | None = None) -> tuple[dict[str, Any], dict[Key, int]]:
    """Parse ``text``: the data and the 1-based line of every key path. ``budget``: the limits for
    this kind of input (default: a config file's), sized to what its real producer emits."""
    loader = _Loader(text)
    if budget is not None:
        loader.budget = budget
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        context = getattr(error, "context", None)
        allowed = f"valid YAML ({context})" if context else "valid YAML"
        raise ConfigError(source, "(document)", problem_of(error), allowed, line=line_of(error),
                          column=mark.column + 1 if mark else None) from None
    finally:
        loader.dispose()
    lines: dict[Key, int] = {}
    if node is not None:
        _walk(node, (), lines, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, "(document)", type(data).__name__, "a mapping at the top level", line=1)
    return _plain(data, (), lines, source), lines


def load_value(text: str) -> object:
    """A YAML value from a flag (``--set key=VALUE``), under the same budget as the file."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _walk(node: yaml.Node, key: Key, lines: dict[Key, int], source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            name = str(key_node.value)
            child = (*key, name)
            if name in seen:
                raise ConfigError(
                    source,
                    key_text(child),
                    name,
                    "each key once per mapping (duplicate key)",
                    line=key_node.start_mark.line + 1,
                )
            seen.add(name)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*key, index)] = item.start_mark.line + 1
            _walk(item, (*key, index), lines, source)


def _plain(value: Any, key: Key, lines: Mapping[Key, int], source: str) -> Any:
    """Refuse non-string keys (``1: x``), which the schema and the error messages cannot name."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for name, item in value.items():
            if not isinstance(name, str):
                child = (*key, str(name))
                raise ConfigError(source, key_text(child), name, "a string key (quote it)", line=lines.get(child))
            out[name] = _plain(item, (*key, name), lines, source)
        return out
    if isinstance(value, list):
        return [_plain(item, (*key, i), lines, source) for i, item in enumerate(value)]
    return value


def set_override(data: dict[str, Any], override: Override) -> Key:
    """Set ``override`` into ``data`` in place; return the key path as errors will name it."""
    target: Any = data
    path: list[str | int] = []
    parts = list(override.key)
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        if isinstance(target, list) and path == ["components"]:
            index = next((i for i, c in enumerate(target) if isinstance(c, dict) and c.get("name") == part), None)
            if index is None:
                target.append({"name": part})
                index = len(target) - 1
            path.append(index)
            if last:
                raise InputError(
                    override.source, override.value, "a key below the component, e.g. components.api.target"
                )
            target = target[index]
            continue
        if not isinstance(target, dict):
            raise InputError(override.source, override.value, f"{key_text(tuple(path))} is not a mapping")
        path.append(part)
        if last:
            target[part] = override.value
        else:
            default: Any = [] if part == "components" and not path[:-1] else {}
            target = target.setdefault(part, default)
    return tuple(path)


def validate(
    data: dict[str, Any],
    schema: Mapping[str, Any],
    lines: Mapping[Key, int],
    source: str,
    overridden: Mapping[Key, Override],
) -> None:
    """Validate against the JSON schema; raise for the first problem in file order."""
    import jsonschema  # ~40 ms: only a command that reads a config pays for it

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: _line_of(tuple(e.absolute_path), lines))
    if not errors:
        return
    error = errors[0]
    key: Key = tuple(error.absolute_path)
    value: object = error.instance
    sub = error.schema if isinstance(error.schema, dict) else {}
    allowed = str(sub.get("description", ""))
    if "propertyNames" in error.absolute_schema_path:
        key, value = (*key, str(error.instance)), error.instance
        allowed = "a key name: " + (allowed or f"matching {error.validator_value}")
    elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(sub.get("properties", {}))
        extra = next(k for k in error.instance if k not in known)
        key, value = (*key, extra), error.instance[extra]
        allowed = f"one of the keys {', '.join(known)}" if known else "no other key"
        near = [RENAMED[extra]] if extra in RENAMED else difflib.get_close_matches(extra, known, n=1)
        if near:
            allowed = f"{allowed} (did you mean {near[0]}?)"
    elif error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        key, value = (*key, missing.group(1) if missing else "?"), "(missing)"
        allowed = "a required key"
    elif error.validator in {"enum", "const"}:
        choices = error.validator_value if error.validator == "enum" else [error.validator_value]
        allowed = "one of " + ", ".join(json.dumps(c) for c in choices)
    elif error.validator == "type" and not allowed:
        allowed = f"a value of type {error.validator_value}"
    elif not allowed:
        allowed = error.message
    if isinstance(value, dict | list):
        value = "a mapping" if isinstance(value, dict) else "a list"
    raise_for(source, key, value, allowed, lines, overridden)


# keys renamed so that the config and the inputs say one thing one way (issue 23): the old name is
# refused, pointing at the new one and its values
RENAMED: Mapping[str, str] = {"mode": "push-mode: branch (was pull-request) or direct, as the push-mode input"}


def _line_of(key: Key, lines: Mapping[Key, int]) -> int:
    return next((lines[key[:n]] for n in range(len(key), 0, -1) if key[:n] in lines), 0)


def raise_for(
    source: str,
    key: Key,
    value: object,
    allowed: str,
    lines: Mapping[Key, int],
    overridden: Mapping[Key, Override],
) -> None:
    """Raise the error for ``key``: InputError naming the flag when an override set it."""
    for length in range(len(key), 0, -1):
        if key[:length] in overridden:
            raise InputError(overridden[key[:length]].source, value, f"{key_text(key)}: {allowed}")
    line = _line_of(key, lines) or None
    raise ConfigError(source, key_text(key) or "(document)", value, allowed, line=line)
