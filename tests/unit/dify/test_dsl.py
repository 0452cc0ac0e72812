"""App DSL checks on exported-format fixtures (tests/fixtures/dsl): each verdict, each rule, with the
file, line and key path of every finding; Dify's version rule compared with packaging."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import InvalidVersion
from packaging.version import Version as Pep440

from dify_action.config import load as config
from dify_action.dify.dsl import MAX_BYTES, check_file, check_text, expand
from dify_action.dify.dslreport import check_apps, gate
from dify_action.dify.dslversion import dsl_verdict, parse
from dify_action.errors import ConfigError, GateFailed

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dsl"


def line_of(name: str, text: str, occurrence: int = 1) -> int:
    lines = (FIXTURES / name).read_text().splitlines()
    found = [i + 1 for i, line in enumerate(lines) if text in line]
    return found[occurrence - 1]


@pytest.mark.parametrize(("name", "current", "verdict", "blocks"), [
    ("workflow-completed.yml", "0.6.0", "completed", False),
    ("workflow-completed.yml", "0.6.3", "completed", False),  # an older micro version imports cleanly
    ("workflow-trigger-start.yml", "0.6.0", "completed", False),
    ("chat-warnings.yml", "0.6.0", "completed-with-warnings", False),
    ("advanced-chat-pending-newer.yml", "0.6.0", "pending", True),
    ("workflow-completed.yml", "1.0.0", "pending", True),  # an older major version
    ("failed-version.yml", "0.6.0", "failed", True),
    ("float-version.yml", "0.6.0", "failed", True),
    ("no-version.yml", "0.6.0", "completed-with-warnings", False),  # Dify reads it as 0.1.0
])
def test_verdicts(name: str, current: str, verdict: str, blocks: bool) -> None:
    check = check_file(FIXTURES / name, current, name)
    assert (check.verdict, check.blocks) == (verdict, blocks), check.findings
    if verdict != "completed":
        found = [f for f in check.findings if f.key == "version"]
        assert all(f.file == name and (f.line is None or f.line == line_of(name, "version: ")) for f in found)
        expected = {"warning" if verdict == "completed-with-warnings" else "error"}
        assert {f.severity for f in found} == (expected | {"info"} if name == "no-version.yml" else expected)


@pytest.mark.parametrize(("name", "key", "line_text", "allowed"), [
    ("not-an-app.yml", "kind", "kind: dataset", "app (an exported Dify app)"),
    ("unknown-mode.yml", "app.mode", "mode: chatflow", "one of workflow, advanced-chat"),
    ("duplicate-node-id.yml", "workflow.graph.nodes[2].id", "      id: '1733000000002'", "nodes[1] has it"),
    ("dangling-edge.yml", "workflow.graph.edges[1].target", "target: '1733000000009'", "the id of a node"),
    ("no-start-node.yml", "workflow.graph.nodes", "    nodes:", "a start node"),
    ("missing-node-type.yml", "workflow.graph.nodes[2].data.type", "    - data:", "a node type"),
    ("secret-value.yml", "workflow.environment_variables[0].value", "value: tk-live", "secret variable ticket_token"),
    ("bad-dependency.yml", "dependencies[0].type", "type: pypi", "one of marketplace, github, package"),
    ("bad-plugin-identifier.yml", "dependencies[0].value.marketplace_plugin_unique_identifier",
     "marketplace_plugin_unique_identifier", "a plugin identifier"),
    ("not-a-mapping.yml", "(document)", "- kind: app", "a mapping at the top level"),
    ("broken-yaml.yml", "(document)", "", "valid YAML"),
])
def test_each_rule_names_file_line_and_key(name: str, key: str, line_text: str, allowed: str) -> None:
    check = check_file(FIXTURES / name, "0.6.0", f"apps/{name}")
    assert check.blocks
    (finding,) = [f for f in check.findings if f.severity == "error" and f.key == key]
    assert (finding.file, finding.key) == (f"apps/{name}", key)
    assert finding.text.startswith(f"invalid {key} in apps/{name}") and allowed in finding.text
    assert finding.line is None or f"apps/{name}:{finding.line}" in finding.text
    if name == "duplicate-node-id.yml":
        assert finding.line == line_of(name, line_text, 2)
    elif name == "missing-node-type.yml":
        assert finding.line == line_of(name, line_text, 5)  # two edges, then the third node
    elif line_text:
        assert finding.line == line_of(name, line_text)
    else:
        assert finding.line is not None
    if name == "secret-value.yml":
        assert "tk-live" not in finding.text and "(hidden)" in finding.text


def test_plugins_are_listed_and_an_unlisted_provider_is_a_warning() -> None:
    ok = check_file(FIXTURES / "workflow-completed.yml", "0.6.0")
    assert ok.plugins == ("langgenius/openai:0.2.5",) and not ok.findings
    chat = check_file(FIXTURES / "chat-warnings.yml", "0.6.0")
    assert chat.plugins == ("langgenius/tongyi:0.0.25",)
    unlisted = check_file(FIXTURES / "unlisted-plugin.yml", "0.6.0", "u.yml")
    (warning,) = unlisted.findings
    assert (warning.severity, unlisted.blocks) == ("warning", False)
    assert warning.key == "workflow.graph.nodes[1].data.model.provider"
    assert "langgenius/anthropic is not" in warning.text


def test_too_large_is_refused() -> None:
    check = check_text("x" * (MAX_BYTES + 1), "big.yml", "0.6.0")
    assert check.verdict == "failed" and "at most 10 MB" in check.findings[0].text


def test_report_markdown_gate_and_globs(tmp_path: Path) -> None:
    apps = tmp_path / "apps"
    apps.mkdir()
    for name in ("workflow-completed.yml", "chat-warnings.yml", "secret-value.yml"):
        (apps / name).write_bytes((FIXTURES / name).read_bytes())
    cfg = config.load(text="version: 1\napps:\n  - apps/*.yml\n")
    files = expand([a.pattern for a in cfg.apps], tmp_path, lines=[a.line for a in cfg.apps])
    assert [p.name for p in files] == ["chat-warnings.yml", "secret-value.yml", "workflow-completed.yml"]
    report = check_apps(files, "0.6.0", tmp_path, image="registry.example.com/acme/dify-api:1.14.0")
    text = report.markdown()
    assert "| apps/chat-warnings.yml | HR assistant | chat | 0.5.0 | ⚠️ completed-with-warnings |" in text
    assert "**errors**" in text and "tk-live" not in text
    with pytest.raises(GateFailed) as caught:
        gate(report)
    assert caught.value.file == "apps/secret-value.yml" and caught.value.line == line_of("secret-value.yml", "tk-live")
    gate(check_apps(files[:1], "0.6.0", tmp_path))  # warnings alone pass
    with pytest.raises(ConfigError, match=r"apps\[0\].*matching at least one DSL file") as none:
        expand(["nothing/*.yml"], tmp_path, source="dify-action.yaml", lines=[3])
    assert none.value.line == 3
    with pytest.raises(ConfigError, match=r"without '\.\.'"):
        expand(["../*.yml"], tmp_path)


versions = st.from_regex(r"v?[0-9]{1,2}(\.[0-9]{1,2}){0,3}((a|b|rc)[0-9])?(\.post[0-9])?(\.dev[0-9])?", fullmatch=True)


@settings(max_examples=300)
@given(st.one_of(versions, st.text(max_size=6)), versions)
def test_dsl_verdict_is_difys_rule_on_packaging_versions(imported: str, current: str) -> None:
    try:
        theirs = Pep440(imported)
    except InvalidVersion:
        assert parse(imported) is None and dsl_verdict(imported, current) == "failed"
        return
    ours = Pep440(current)
    expected = ("pending" if theirs > ours or theirs.major < ours.major else
                "completed-with-warnings" if theirs.minor < ours.minor else "completed")
    assert dsl_verdict(imported, current) == expected


ids = st.sampled_from(["1", "2", "3", "4", "5"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(ids, st.sampled_from(["start", "llm", "end", "code"])), max_size=6),
       st.lists(st.tuples(st.sampled_from(["1", "2", "3", "4", "5", "9"]), st.sampled_from(["1", "2", "9"])),
                max_size=5),
       st.sampled_from(["workflow", "advanced-chat"]))
def test_graph_rules_on_generated_graphs(nodes: list[tuple[str, str]], edges: list[tuple[str, str]],
                                         mode: str) -> None:
    import yaml

    doc = {"kind": "app", "version": "0.6.0", "app": {"mode": mode, "name": "g"},
           "workflow": {"graph": {"nodes": [{"id": i, "data": {"type": t}} for i, t in nodes],
                                  "edges": [{"source": s, "target": t} for s, t in edges]}}}
    check = check_text(yaml.safe_dump(doc), "g.yml", "0.6.0")
    errors = [f.key for f in check.findings if f.severity == "error"]
    known = {i for i, _ in nodes}
    duplicates = len(nodes) - len(known)
    dangling = sum((s not in known) + (t not in known) for s, t in edges)
    no_start = "start" not in {t for _, t in nodes}
    assert len(errors) == duplicates + dangling + no_start
    assert check.blocks == bool(errors)
