"""entrypoint.py in-process: inputs into the typed object, masks before anything else, the argv the
stages hand to the CLI, exit codes and annotations. No Docker, no network."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import entrypoint
from dify_action import cli, gha, pipeline
from dify_action.errors import InputError


def actions(env: dict[str, str]) -> tuple[gha.Actions, io.StringIO]:
    out = io.StringIO()
    return gha.Actions({"GITHUB_ACTIONS": "true", **env}, out, io.StringIO()), out


def test_read_inputs_types_defaults_and_both_name_forms() -> None:
    a, _ = actions({"INPUT_COMMAND": "promote", "INPUT_FROM-ENVIRONMENT": "staging", "INPUT_TO_ENVIRONMENT": "prod",
                    "INPUT_TAGS": "a\nb", "INPUT_PR-NUMBER": "12", "INPUT_PUSH": "false",
                    "INPUT_REGISTRY-PASSWORD": "pw"})
    inputs = entrypoint.read_inputs(a)
    assert (inputs.command, inputs.from_environment, inputs.to_environment) == ("promote", "staging", "prod")
    assert inputs.tags == ("a", "b") and inputs.pr_number == 12 and inputs.push is False
    assert inputs.require_gates is True and inputs.provider == "" and inputs.builder == "auto"
    assert "pw" not in repr(inputs)


@pytest.mark.parametrize(("env", "name"), [
    ({"INPUT_COMMAND": "bump", "INPUT_DRAFT": "no"}, "draft"),
    ({"INPUT_COMMAND": "bump", "INPUT_PROVIDER": "gitlab"}, "provider"),
    ({"INPUT_COMMAND": "rollback", "INPUT_PR-NUMBER": "0"}, "pr-number"),
    ({"INPUT_COMMAND": ""}, "command"),
])
def test_bad_inputs_name_the_input(env: dict[str, str], name: str) -> None:
    a, _ = actions(env)
    with pytest.raises(InputError) as caught:
        entrypoint.read_inputs(a)
    assert caught.value.name == name


def test_main_masks_first_then_fails_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "out"), "INPUT_COMMAND": "bump",
           "INPUT_TOKEN": "tok-123456", "INPUT_REGISTRY-PASSWORD": "pw-abcdef", "INPUT_DRY-RUN": "sure"}
    assert entrypoint.main(env) == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["::add-mask::pw-abcdef", "::add-mask::tok-123456",
                         "::add-mask::eC1hY2Nlc3MtdG9rZW46dG9rLTEyMzQ1Ng=="]  # x-access-token:tok-123456
    assert lines[-1] == ("::error title=dify-action bump::invalid dry-run 'sure': "
                         "true or false (or empty for the default false)")
    assert not (tmp_path / "out").exists()


def test_prepare_environment_hands_secrets_to_the_cli_layer_and_trusts_the_workspace() -> None:
    a, _ = actions({"INPUT_COMMAND": "bump", "INPUT_TOKEN": "t0k", "INPUT_REGISTRY-PASSWORD": "p4ss"})
    env = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.x", "GIT_CONFIG_VALUE_0": "y"}
    entrypoint.prepare_environment(env, entrypoint.read_inputs(a), "/github/workspace")
    assert env["GITOPS_TOKEN"] == "t0k" and env["DIFY_ACTION_REGISTRY_PASSWORD"] == "p4ss"
    assert (env["GIT_CONFIG_COUNT"], env["GIT_CONFIG_KEY_1"], env["GIT_CONFIG_VALUE_1"]) == (
        "2", "safe.directory", "/github/workspace")


def test_unknown_flags_are_dropped_with_a_warning() -> None:
    a, out = actions({})
    kept = cli._known_only(["--image", "x", "--newer", "v", "--draft", "--path", "p"],
                           {"--image": True, "--draft": False, "--path": True}, a.warning, "bump")
    assert kept == ["--image", "x", "--draft", "--path", "p"]
    assert out.getvalue() == "::warning::bump: this dify-action build has no --newer option; ignored\n"


def test_split_image_and_deploy_tag() -> None:
    assert pipeline.split_image("r.example/a/b:1.0@sha256:" + "c" * 64, None, None) == (
        "r.example/a/b", "1.0", "sha256:" + "c" * 64)
    assert pipeline.split_image("r.example/a/b", "2.0", None) == ("r.example/a/b", "2.0", None)
    with pytest.raises(InputError, match="invalid tag"):
        pipeline.split_image("r.example/a/b", None, None)
    assert pipeline.deploy_tag(["latest", "1.2.3", "sha-1"]) == "1.2.3"


def test_every_cli_command_the_entrypoint_dispatches_to_exists() -> None:
    parser = cli.build_parser()
    for command in ("build", "test", "scan", "bump", "promote", "rollback", "gates"):
        sub = cli._subparser(parser, command)
        assert isinstance(sub, argparse.ArgumentParser), command
        assert "--json" in {s for action in sub._actions for s in action.option_strings}, command
    assert cli._subparser(parser, "nope") is None
