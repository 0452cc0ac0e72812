"""One renderer: for every command, the action's ``json`` output is the document the CLI's ``--json``
prints, byte for byte. Both front ends run the real resolver, pipeline and renderer; only the
stages are scripted (tests/stagescript.py), so the documents can be compared exactly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from stagescript import API, CONFIG, Script

from dify_action.front import action, cli
from dify_action.front import render as render_module
from dify_action.pipeline import stages

PROD = CONFIG + '  production: {repository: "file://GITOPS", paths: [production], provider: git}\n'
SHA = "a" * 40
IMAGE = f"{API}:1.13.3-acme.7"
# command -> (the action's inputs, the CLI's arguments); the config is added to both
CASES: dict[str, tuple[dict[str, str], list[str]]] = {
    "build": ({}, ["--revision", SHA]),
    "test": ({"image": IMAGE, "components": "api"}, ["--image", IMAGE, "--component", "api"]),
    "scan": ({"image": IMAGE, "components": "api"}, ["--image", IMAGE, "--component", "api"]),
    "bump": ({"environment": "staging", "image": IMAGE}, ["--environment", "staging", "--image", IMAGE]),
    "promote": ({"from-environment": "staging", "to-environment": "production"},
                ["--from-environment", "staging", "--to-environment", "production"]),
    "rollback": ({"environment": "staging"}, ["--environment", "staging"]),
    "pipeline": ({"environment": "staging"}, ["--environment", "staging", "--revision", SHA]),
}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("api", "web"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "gitops.git")], check=True)
    path = tmp_path / "dify-action.yaml"
    path.write_text(PROD.replace("GITOPS", str(tmp_path / "gitops.git")))
    monkeypatch.setattr(stages, "CoreStages", lambda environ: Script())  # the CLI's run_cli
    monkeypatch.setattr(action, "CoreStages", lambda environ: Script())  # the action's
    monkeypatch.setenv("DIFY_ACTION_REGISTRY_PASSWORD", "pw")
    return str(path)


def _outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT's records: ``name=value`` lines and ``name<<DELIMITER`` blocks."""
    values, lines = {}, path.read_text().split("\n")
    i = 0
    while i < len(lines) - 1:
        if "<<" in lines[i] and "=" not in lines[i].split("<<")[0]:
            name, _, delimiter = lines[i].partition("<<")
            end = lines.index(delimiter, i + 1)
            values[name] = "\n".join(lines[i + 1:end])
            i = end + 1
        else:
            name, _, value = lines[i].partition("=")
            values[name] = value
            i += 1
    return values


@pytest.mark.parametrize("command", sorted(CASES))
def test_the_action_json_output_is_the_cli_json_document(command: str, config: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    inputs, argv = CASES[command]
    assert cli.main([command, "--config", config, *argv, "--json"]) == 0
    printed = capsys.readouterr().out
    out = tmp_path / "github_output"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out), "GITHUB_SHA": SHA, "INPUT_COMMAND": command,
           "INPUT_CONFIG": config, **({} if command == "bump" else {"INPUT_REGISTRY-PASSWORD": "pw"}),
           **{f"INPUT_{name.upper()}": value for name, value in inputs.items()}}
    assert action.main(env, []) == 0, capsys.readouterr().out
    outputs = _outputs(out)
    assert outputs["json"] == outputs["metadata"] == printed.rstrip("\n")
    document = json.loads(printed)
    assert document["command"] == command
    stage = {"test": "tests", "scan": "scans"}.get(command, command)
    assert stage in document or command in ("build", "pipeline"), sorted(document)


def test_document_keys_are_snake_case(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    """One convention for the --json document: snake_case keys (inputs and outputs are kebab-case)."""
    assert cli.main(["pipeline", "--config", config, "--environment", "staging", "--revision", SHA, "--json"]) == 0

    def keys(node: object) -> set[str]:
        if isinstance(node, dict):
            return set(node) | {k for v in node.values() for k in keys(v)}
        if isinstance(node, list):
            return {k for v in node for k in keys(v)}
        return set()

    found = keys(json.loads(capsys.readouterr().out))
    assert found and not [k for k in found if "-" in k or k != k.lower()], sorted(found)
    assert render_module.document  # the one function both front ends print
