"""One action per command: every action.yml declares exactly the inputs and outputs of the package's
table (front/inputs.py), and the container refuses an input the command does not take, before
anything runs. Declared defaults (which the runner passes as INPUT_*) never count as given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dify_action.choices import COMMANDS
from dify_action.errors import InputError
from dify_action.front import action as entrypoint
from dify_action.front import inputs, render

ROOT = Path(__file__).resolve().parents[3]


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def runner_env(action: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    """What the runner hands the container: every declared input with its default, then ``given``
    (``${{ github.token }}`` evaluates to the job's token)."""
    env = {"GITHUB_ACTIONS": "true"}
    for name, spec in action["inputs"].items():
        default = str(spec.get("default", ""))
        env[f"INPUT_{name.upper()}"] = "ghs_job_token" if default == "${{ github.token }}" else default
    env.update({f"INPUT_{name.upper()}": value for name, value in given.items()})
    return env


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "pipeline"])
def test_each_command_action_declares_exactly_its_inputs_and_outputs(command: str) -> None:
    action = load(ROOT / command / "action.yml")
    declared = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    assert declared == {name: inputs.DEFAULTS[name] for name in inputs.COMMAND_INPUTS[command]}
    assert all(not spec.get("required") for spec in action["inputs"].values())
    assert set(action.get("outputs") or {}) == set(inputs.COMMAND_OUTPUTS[command])
    # the same image as the top-level action (path relative to this file), the command as its argument
    assert action["runs"] == {"using": "docker", "image": "../Dockerfile", "args": [command]}


def test_the_top_level_action_runs_pipeline_and_declares_every_input() -> None:
    action = load(ROOT / "action.yml")
    declared = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    assert declared.pop("command") == "pipeline"
    assert declared == dict(inputs.DEFAULTS)
    # the top-level action serves every command: its outputs are all of theirs (merge's images too)
    every = {name for names in inputs.COMMAND_OUTPUTS.values() for name in names}
    assert set(action["outputs"]) == every == set(render.OUTPUTS)
    assert action["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert set(inputs.COMMAND_INPUTS) == set(inputs.COMMAND_OUTPUTS) == set(COMMANDS)


def test_retired_names_are_declared_nowhere() -> None:
    for path in [ROOT / "action.yml", *ROOT.glob("*/action.yml")]:
        action = load(path)
        assert not set(inputs.RETIRED) & set(action.get("inputs") or {}), path
        assert not {"pr-number", "pr-url"} & set(action.get("outputs") or {}), path


@pytest.mark.parametrize("command", COMMANDS)
def test_defaults_passed_by_the_runner_are_not_given(command: str) -> None:
    top = load(ROOT / "action.yml")
    assert inputs.check_inputs(runner_env(top, {"command": command}), []) == command
    if command != "pipeline":
        own = load(ROOT / command / "action.yml")
        assert inputs.check_inputs(runner_env(own, {}), [command]) == command
    # booleans default to "" (not given): a blank one is still not given
    assert inputs.check_inputs({"INPUT_COMMAND": command, "INPUT_PUSH": "  ", "INPUT_DRAFT": ""}, []) == command


def test_a_foreign_input_is_exit_2_naming_inputs_command_and_what_it_takes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = load(ROOT / "action.yml")
    env = runner_env(top, {"command": "build", "image": "r.example/a/b:1", "gitops-dir": "gitops",
                           "registry-password": "pw-secret-9", "repository": "r.example/a/b"})
    env["GITHUB_OUTPUT"] = str(tmp_path / "out")
    assert entrypoint.main(env) == 2
    out = capsys.readouterr().out
    error = out.splitlines()[-1]
    assert error.startswith("::error title=dify-action build::dify-action build does not take the inputs "
                            "gitops-dir, image: it would ignore them. build takes: build-args, builder, ")
    assert "pw-secret-9" not in out.replace("::add-mask::pw-secret-9", "")
    assert not (tmp_path / "out").exists()  # nothing ran, no output written


def test_a_per_command_action_refuses_the_same_way_and_a_conflicting_command() -> None:
    with pytest.raises(InputError) as caught:
        inputs.check_inputs({"INPUT_FROM-ENVIRONMENT": "staging", "INPUT_GITOPS_DIR": "g"}, ["bump"])
    assert caught.value.name == "from-environment"
    assert "bump takes: allow-version-skew, base, config," in caught.value.message
    with pytest.raises(InputError) as caught:
        inputs.check_inputs({"INPUT_COMMAND": "promote"}, ["bump"])
    assert caught.value.name == "command" and "the bump action runs bump" in caught.value.message
    with pytest.raises(InputError) as caught:
        inputs.check_inputs({}, ["deploy"])
    assert caught.value.name == "args"


@pytest.mark.parametrize(("name", "replacement"), sorted(inputs.RETIRED.items()))
def test_a_retired_input_is_refused_naming_its_replacement(name: str, replacement: str) -> None:
    with pytest.raises(InputError) as caught:
        inputs.check_inputs({f"INPUT_{name.upper()}": "x"}, ["build"])
    assert f"the input {name} ({name} is now {replacement})" in caught.value.message


def test_an_unknown_input_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        inputs.check_inputs({"INPUT_COMMAND": "scan", "INPUT_SEVERITY": "HIGH", "INPUT_SEVERITIES": "LOW"}, [])
    assert "does not take the input severities (not inputs of dify-action: severities)" in caught.value.message
