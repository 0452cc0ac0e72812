"""Exported Dify app DSL files checked against the DSL version of the api image being shipped.

Rules (each finding names the file, the line and the key path, like config errors do):
- a YAML mapping, at most 10 MB (Dify refuses larger files), ``kind: app``;
- ``version`` a string (Dify reads a missing one as 0.1.0): the import verdict of dslversion.py,
  ``pending`` and ``failed`` stop the pipeline, ``completed-with-warnings`` is reported;
- ``app.mode`` one of workflow, advanced-chat, chat, agent-chat, completion;
- workflow modes: ``workflow.graph`` with ``nodes`` (each an ``id`` and ``data.type``, ids
  unique) and ``edges`` whose ``source`` and ``target`` exist, and a start node (``start``; a
  workflow may also start from a ``trigger-*`` node, Dify >= 1.10);
- no non-empty value of a ``secret``-typed ``workflow.environment_variables`` entry (Dify exports
  them empty unless secrets are included on purpose); the value is never shown;
- ``dependencies``: each a marketplace, github or package plugin with its identifier; they are
  listed, and a model provider a node uses whose plugin is not among them is a warning.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from dify_action.config.yamlmarks import Key, compose, key_text
from dify_action.dify.dslversion import dsl_verdict
from dify_action.errors import ConfigError
from dify_action.yamlguard import Budget

MODES = ("workflow", "advanced-chat", "chat", "agent-chat", "completion")
WORKFLOW_MODES = ("workflow", "advanced-chat")
MAX_BYTES = 10 * 1024 * 1024
# sized to Dify's own exports, not to a config file's budget (depth 32, 50,000 nodes): a large
# workflow export under the 10 MB import limit has a few hundred thousand nodes and nests ~20 deep
DSL_BUDGET = Budget(max_depth=64, max_nodes=1_000_000)
DEFAULT_VERSION = "0.1.0"  # what Dify assumes when a file has no version
BLOCKING = ("pending", "failed")
_PLUGIN_KEYS = {"marketplace": "marketplace_plugin_unique_identifier",
                "github": "github_plugin_unique_identifier", "package": "plugin_unique_identifier"}


@dataclass(frozen=True)
class Finding:
    """``severity``: error | warning | info; ``text`` reads like a config error."""

    severity: str
    file: str
    line: int | None
    key: str
    text: str

    def as_dict(self) -> dict[str, object]:
        return {"severity": self.severity, "file": self.file, "line": self.line, "key": self.key,
                "message": self.text}


@dataclass(frozen=True)
class AppCheck:
    """One DSL file: what it is, the import verdict against ``current``, findings, plugins."""

    file: str
    name: str | None
    mode: str | None
    version: str | None
    verdict: str
    findings: tuple[Finding, ...] = ()
    plugins: tuple[str, ...] = ()

    @property
    def blocks(self) -> bool:
        return self.verdict in BLOCKING or any(f.severity == "error" for f in self.findings)

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "name": self.name, "mode": self.mode, "version": self.version,
                "verdict": self.verdict, "blocks": self.blocks, "findings": [f.as_dict() for f in self.findings],
                "plugins": list(self.plugins)}


class _Checker:
    def __init__(self, file: str, lines: Mapping[Key, int]) -> None:
        self.file, self.lines, self.findings = file, lines, list[Finding]()

    def add(self, severity: str, key: Key, value: object, allowed: str) -> None:
        line = next((self.lines[key[:n]] for n in range(len(key), 0, -1) if key[:n] in self.lines), None)
        text = str(ConfigError(self.file, key_text(key) or "(document)", value, allowed, line=line))
        self.findings.append(Finding(severity, self.file, line, key_text(key) or "(document)", text))


def check_text(text: str, file: str, current: str) -> AppCheck:
    """Check one exported DSL document against the DSL version ``current`` of the image."""
    size = len(text.encode("utf-8", "replace"))
    if size > MAX_BYTES:
        return _too_large(file, size)
    try:
        data, lines = compose(text, file, DSL_BUDGET)
    except ConfigError as error:
        finding = Finding("error", file, error.line, error.key, str(error).split("\n")[0])
        return AppCheck(file, None, None, None, "failed", (finding,))
    checker = _Checker(file, lines)
    if data.get("kind") != "app":
        checker.add("error", ("kind",), data.get("kind", "(missing)"), "app (an exported Dify app)")
    version = data.get("version", DEFAULT_VERSION)
    if "version" not in data:
        checker.add("info", ("version",), "(missing)", f"a version; Dify reads a file without one as {DEFAULT_VERSION}")
    if not isinstance(version, str):
        checker.add("error", ("version",), version, 'a quoted string such as "0.6.0" (Dify fails other types)')
        verdict = "failed"
    else:
        verdict = dsl_verdict(version, current)
        allowed = {"failed": "a version Dify can parse (PEP 440, e.g. 0.6.0)",
                   "pending": f"not newer than {current} and of its major version: Dify holds the import "
                              "pending until someone confirms it",
                   "completed-with-warnings": f"the minor version of {current}: Dify imports it with warnings"}
        if verdict in allowed:
            checker.add("warning" if verdict == "completed-with-warnings" else "error", ("version",), version,
                        allowed[verdict])
    app = data.get("app")
    mode = app.get("mode") if isinstance(app, dict) else None
    if not isinstance(app, dict):
        checker.add("error", ("app",), app if app is not None else "(missing)", "a mapping with name and mode")
    elif mode not in MODES:
        checker.add("error", ("app", "mode"), mode if mode is not None else "(missing)", "one of " + ", ".join(MODES))
    workflow = data.get("workflow")
    if mode in WORKFLOW_MODES:
        _graph(checker, workflow, str(mode))
    if isinstance(workflow, dict):
        _secrets(checker, workflow.get("environment_variables"))
    plugins = _dependencies(checker, data.get("dependencies"))
    _providers(checker, data, plugins)
    name = app.get("name") if isinstance(app, dict) and isinstance(app.get("name"), str) else None
    return AppCheck(file, name, mode if isinstance(mode, str) else None, version if isinstance(version, str)
                    else None, verdict, tuple(checker.findings), tuple(sorted(plugins)))


def _graph(checker: _Checker, workflow: object, mode: str) -> None:
    graph = workflow.get("graph") if isinstance(workflow, dict) else None
    base: Key = ("workflow", "graph")
    if not isinstance(graph, dict):
        checker.add("error", base, "(missing)", f"a graph of nodes and edges ({mode} apps have one)")
        return
    nodes, edges = graph.get("nodes"), graph.get("edges", [])
    if not isinstance(nodes, list) or not isinstance(edges, list):
        checker.add("error", (*base, "nodes" if not isinstance(nodes, list) else "edges"), "not a list", "a list")
        return
    ids: dict[str, int] = {}
    types: list[str] = []
    for index, node in enumerate(nodes):
        key: Key = (*base, "nodes", index)
        node_id = node.get("id") if isinstance(node, dict) else None
        node_type = (node.get("data") or {}).get("type") if isinstance(node, dict) else None
        if not isinstance(node_id, str) or not node_id:
            checker.add("error", (*key, "id"), node_id if node_id is not None else "(missing)", "a node id")
        elif node_id in ids:
            checker.add("error", (*key, "id"), node_id, f"an id no other node has (nodes[{ids[node_id]}] has it)")
        else:
            ids[node_id] = index
        if not isinstance(node_type, str) or not node_type:
            checker.add("error", (*key, "data", "type"), node_type if node_type is not None else "(missing)",
                        "a node type such as start, llm or end")
        else:
            types.append(node_type)
    for index, edge in enumerate(edges):
        for end in ("source", "target"):
            value = edge.get(end) if isinstance(edge, dict) else None
            if value not in ids:
                checker.add("error", (*base, "edges", index, end), value if value is not None else "(missing)",
                            "the id of a node of this graph")
    starts = [t for t in types if t == "start" or (mode == "workflow" and t.startswith("trigger-"))]
    if not starts:
        checker.add("error", (*base, "nodes"), f"{len(types)} nodes", "a start node (data.type: start)")


def _secrets(checker: _Checker, variables: object) -> None:
    for index, variable in enumerate(variables if isinstance(variables, list) else ()):
        if isinstance(variable, dict) and variable.get("value_type") == "secret" and variable.get("value") not in (
                None, ""):
            name = variable.get("name") or f"#{index}"
            checker.add("error", ("workflow", "environment_variables", index, "value"), "(hidden)",
                        f"an empty value: secret variable {name} must not be exported with its value "
                        "(export without secrets, set it in Dify)")


def _dependencies(checker: _Checker, dependencies: object) -> set[str]:
    plugins: set[str] = set()
    if dependencies is None:
        return plugins
    if not isinstance(dependencies, list):
        checker.add("error", ("dependencies",), "not a list", "a list of plugin dependencies")
        return plugins
    for index, item in enumerate(dependencies):
        kind = item.get("type") if isinstance(item, dict) else None
        value = item.get("value") if isinstance(item, dict) else None
        field = _PLUGIN_KEYS.get(str(kind))
        identifier = value.get(field) if isinstance(value, dict) and field else None
        if field is None:
            checker.add("error", ("dependencies", index, "type"), kind if kind is not None else "(missing)",
                        "one of " + ", ".join(_PLUGIN_KEYS))
        elif not isinstance(identifier, str) or "/" not in identifier:
            checker.add("error", ("dependencies", index, "value", field), identifier or "(missing)",
                        "a plugin identifier such as langgenius/openai:0.2.5@<hash>")
        else:
            plugins.add(identifier.split("@", 1)[0])
    return plugins


def _walk_providers(data: object, key: Key) -> Iterator[tuple[Key, str]]:
    if isinstance(data, dict):
        for name, value in data.items():
            if name == "provider" and isinstance(value, str) and value.count("/") == 2:
                yield (*key, name), value
            else:
                yield from _walk_providers(value, (*key, name))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _walk_providers(value, (*key, index))


def _providers(checker: _Checker, data: Mapping[str, Any], plugins: set[str]) -> None:
    """Model and tool providers of plugins (``org/plugin/provider``) need their plugin listed."""
    listed = {p.split(":", 1)[0] for p in plugins}
    seen: set[str] = set()
    for key, provider in _walk_providers({k: data.get(k) for k in ("workflow", "model_config")}, ()):
        plugin = provider.rsplit("/", 1)[0]
        if plugin not in listed and plugin not in seen:
            seen.add(plugin)
            checker.add("warning", key, provider, f"a provider whose plugin is in dependencies ({plugin} is not)")


def _too_large(file: str, size: int) -> AppCheck:
    checker = _Checker(file, {})
    checker.add("error", (), f"{size} bytes", "a DSL file of at most 10 MB (Dify refuses larger)")
    return AppCheck(file, None, None, None, "failed", tuple(checker.findings))


def check_file(path: Path, current: str, display: str | None = None) -> AppCheck:
    """Read and check one DSL file (``display``: the name findings use, e.g. relative to the repo)."""
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return _too_large(name, size)
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return AppCheck(name, None, None, None, "failed", (Finding("error", name, None, "(file)",
                                                                   f"cannot read {name}: {error}"),))
    return check_text(text, name, current)


def expand(patterns: Sequence[str], root: Path, *, source: str = "apps",
           lines: Sequence[int | None] = ()) -> tuple[Path, ...]:
    """The DSL files of ``patterns`` (paths or globs relative to ``root``), sorted, each once.

    A pattern that escapes ``root`` or matches no file is a ConfigError naming it (exit 2).
    """
    found: dict[str, Path] = {}
    real_root = root.resolve()
    for index, pattern in enumerate(patterns):
        line = lines[index] if index < len(lines) else None
        pure = PurePosixPath(pattern)
        if not pattern or pure.is_absolute() or ".." in pure.parts:
            raise ConfigError(source, f"apps[{index}]", pattern, "a path or glob relative to the repository "
                              "root, without '..'", line=line)
        matches = [p for p in sorted(root.glob(pattern)) if p.is_file()]
        inside = [p for p in matches if p.resolve().is_relative_to(real_root)]
        if not inside:
            raise ConfigError(source, f"apps[{index}]", pattern, f"a path or glob matching at least one DSL file "
                              f"under {root}", line=line)
        for path in inside:
            found.setdefault(path.relative_to(root).as_posix(), path)
    return tuple(found[name] for name in sorted(found))
