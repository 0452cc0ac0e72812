"""README stays true: one table per action equal to its action.yml, its commands exist and parse.

Regenerate the tables after changing an action.yml: python tests/unit/test_readme.py --write
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# the pipeline action, then one action per command, in README's order
ACTIONS = ("action.yml", "build/action.yml", "test/action.yml", "scan/action.yml", "bump/action.yml",
           "promote/action.yml", "rollback/action.yml", "verify/action.yml", "merge/action.yml", "check/action.yml")


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _action_table(path: str) -> str:
    action = yaml.safe_load((ROOT / path).read_text())
    inputs = ["| input | required | default | description |", "| --- | --- | --- | --- |"]
    for name, spec in action["inputs"].items():
        default = spec.get("default", "")
        inputs.append(
            f"| `{name}` | {'yes' if spec.get('required') else 'no'} | "
            f"{f'`{_cell(default)}`' if default != '' else ''} | {_cell(spec.get('description', ''))} |"
        )
    outputs = ["| output | description |", "| --- | --- |"]
    for name, spec in (action.get("outputs") or {}).items():
        outputs.append(f"| `{name}` | {_cell(spec.get('description', ''))} |")
    if len(outputs) == 2:
        return "\n".join(inputs) + "\n\nNo outputs: the step's log shows the resolved requests."
    return "\n".join(inputs) + "\n\n" + "\n".join(outputs)


def render_tables() -> dict[str, str]:
    tables = {f"action:{path}": _action_table(path) for path in ACTIONS}
    config = ["| key | type | description |", "| --- | --- | --- |"]
    config += _schema_rows(json.loads((ROOT / "dify_action/config/schemas/dify-action.schema.json").read_text()))
    return {**tables, "config": "\n".join(config)}


def _schema_rows(schema: dict[str, Any]) -> list[str]:
    """One row per described key of the config schema, depth first."""
    defs = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        return node

    rows: list[str] = []

    def walk(key: str, node: dict[str, Any]) -> None:
        node = resolve(node)
        kind = node.get("type") or ("one of " + ", ".join(map(str, node["enum"])) if "enum" in node else "")
        if key and node.get("description"):
            kind_text = "/".join(kind) if isinstance(kind, list) else kind
            rows.append(f"| `{key}` | {_cell(kind_text)} | {_cell(node['description'])} |")
        for name, child in node.get("properties", {}).items():
            walk(f"{key}.{name}" if key else name, child)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            walk(f"{key}.<name>", extra)
        if isinstance(node.get("items"), dict):
            walk(f"{key}[]", node["items"])

    walk("", schema)
    return rows


def _with_tables(text: str, tables: dict[str, str]) -> str:
    for name, table in tables.items():
        text = re.sub(
            rf"(<!-- {re.escape(name)}:start -->\n).*?(<!-- {re.escape(name)}:end -->)",
            lambda m, table=table: f"{m.group(1)}{table}\n{m.group(2)}",
            text,
            flags=re.S,
        )
    return text


def test_action_tables_equal_action_yml() -> None:
    text = README.read_text()
    assert sorted(ACTIONS) == sorted(["action.yml", *(str(p.relative_to(ROOT)) for p in ROOT.glob("*/action.yml"))])
    for path in ACTIONS:  # every action has its table
        assert text.count(f"<!-- action:{path}:start -->") == 1, path
    assert _with_tables(text, render_tables()) == text, "run: python tests/unit/test_readme.py --write"


def test_config_reference_covers_the_schema() -> None:
    text = README.read_text()
    for key in ("components[].build-args", "scan.allow[].expires", "environments.<name>.paths"):
        assert f"| `{key}` |" in text


def test_every_action_input_is_in_its_table() -> None:
    text = README.read_text()
    for path in ACTIONS:
        action = yaml.safe_load((ROOT / path).read_text())
        table = text[text.index(f"<!-- action:{path}:start -->"):text.index(f"<!-- action:{path}:end -->")]
        for name in [*action["inputs"], *(action.get("outputs") or {})]:
            assert f"| `{name}` |" in table, (path, name)


def test_the_two_commands_exist_and_ci_runs_the_test_command() -> None:
    text = README.read_text()
    for command in ("scripts/demo", "scripts/test"):
        assert f"{command}    #" in text
        path = ROOT / command
        assert path.is_file() and path.stat().st_mode & 0o111, command
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\nscripts/test" in ci and "\nscripts/demo" in ci


def _cli_lines(text: str) -> list[str]:
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("dify-action "):
                lines.append(line.split("  #")[0])
    return lines


def test_cli_examples_in_the_readme_parse() -> None:
    from dify_action.front.cli import build_parser

    lines = _cli_lines(README.read_text())
    assert len(lines) >= 8
    parser = build_parser()
    for line in lines:
        argv = shlex.split(line.replace('"$SHA"', "a" * 40))[1:]
        args = parser.parse_args(argv)
        assert args.subcommand == argv[0]


def test_quickstart_config_is_valid() -> None:
    import textwrap

    from dify_action.config import load as config

    match = re.search(r"```yaml\n(\s*version: 1\n.*?)```", README.read_text(), flags=re.S)
    assert match, "the quickstart dify-action.yaml block is missing"
    loaded = config.load(text=textwrap.dedent(match.group(1)))
    assert loaded.components[0].name == "api" and set(loaded.environments) == {"staging", "production"}



_EXAMPLE = re.compile(r"<!-- example:(\S+) -->\n```yaml\n(.*?)```\n<!-- example:end -->", re.S)


def test_quickstart_workflows_equal_the_examples_and_parse() -> None:
    found = _EXAMPLE.findall(README.read_text())
    assert [name for name, _ in found] == ["examples/workflows/dify-pipeline.yml"]
    for name, text in found:
        assert text == (ROOT / name).read_text(), f"README's copy of {name} differs: copy the file again"
        workflow = yaml.safe_load(text)
        job = workflow["jobs"]["pipeline"]
        assert re.fullmatch(r"org/dify-action/\.github/workflows/pipeline\.yml@[0-9a-f]{40}", job["uses"])


def test_quickstart_snippets_parse() -> None:
    text = README.read_text()
    quickstart = text[text.index("## Quickstart on GitHub"):text.index("## Action inputs and outputs")]
    blocks = re.findall(r"```yaml\n(.*?)```", quickstart, flags=re.S)
    assert len(blocks) == 3
    for block in blocks:
        assert yaml.safe_load(textwrap.dedent(block))

if __name__ == "__main__" and "--write" in sys.argv:
    README.write_text(_with_tables(README.read_text(), render_tables()))
