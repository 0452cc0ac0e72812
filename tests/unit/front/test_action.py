"""The action in-process: inputs into the command's typed request, secrets as values, masks before anything
else, exit codes and annotations; the CLI's usage errors. No Docker, no network."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from dify_action import resolve
from dify_action.choices import COMMANDS
from dify_action.errors import InputError
from dify_action.front import action as entrypoint
from dify_action.front import action_request, cli, gha
from dify_action.pipeline.model import deploy_tag
from dify_action.resolve.request import BuildCommand, BumpCommand, PromoteCommand


def actions(env: dict[str, str]) -> tuple[gha.Actions, io.StringIO]:
    out = io.StringIO()
    return gha.Actions({"GITHUB_ACTIONS": "true", **env}, out, io.StringIO()), out


def test_read_request_types_and_both_name_forms() -> None:
    a, _ = actions({"INPUT_COMMAND": "promote", "INPUT_FROM-ENVIRONMENT": "staging", "INPUT_TO_ENVIRONMENT": "prod",
                    "INPUT_PIN-DIGEST": "false", "INPUT_REGISTRY-PASSWORD": "pw", "INPUT_TAGS": "ignored"})
    request = action_request.read_request(a, {})
    assert isinstance(request, PromoteCommand)
    assert (request.from_environment, request.to_environment) == ("staging", "prod")
    assert request.pin_digest is False and request.require_gates is None and request.gitops.provider is None
    assert "pw" not in repr(request)
    a, _ = actions({"INPUT_COMMAND": "build", "INPUT_TAGS": "a\nb", "INPUT_PUSH": "false"})
    build = action_request.read_request(a, {})
    assert isinstance(build, BuildCommand)
    assert build.build.tags == ("a", "b") and build.build.push is False and build.build.builder is None


@pytest.mark.parametrize(("env", "name"), [
    ({"INPUT_COMMAND": "bump", "INPUT_DRAFT": "no"}, "draft"),
    ({"INPUT_COMMAND": "bump", "INPUT_PROVIDER": "gitlab"}, "provider"),
    ({"INPUT_COMMAND": "rollback", "INPUT_PULL-REQUEST-NUMBER": "0"}, "pull-request-number"),
    ({"INPUT_COMMAND": "test", "INPUT_IMAGE": "a:1\nb:1"}, "image"),
    ({"INPUT_COMMAND": "scan", "INPUT_IMAGE": "a:1\nb:1"}, "image"),
    ({"INPUT_COMMAND": "deploy"}, "command"),
])
def test_bad_inputs_name_the_input(env: dict[str, str], name: str) -> None:
    a, _ = actions(env)
    with pytest.raises(InputError) as caught:
        action_request.read_request(a, {})
    assert caught.value.name == name


def test_main_masks_first_then_fails_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "out"), "INPUT_COMMAND": "rollback",
           "INPUT_TOKEN": "tok-123456", "INPUT_REGISTRY-PASSWORD": "pw-abcdef", "INPUT_DRY-RUN": "sure"}
    assert entrypoint.main(env) == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["::add-mask::pw-abcdef", "::add-mask::tok-123456",
                         "::add-mask::eC1hY2Nlc3MtdG9rZW46dG9rLTEyMzQ1Ng=="]  # x-access-token:tok-123456
    assert lines[-1] == ("::error title=dify-action rollback::invalid dry-run 'sure': "
                         "true or false (or empty: not given)")
    assert not (tmp_path / "out").exists()


def test_secrets_stay_values_and_the_workspace_is_trusted_without_a_file() -> None:
    a, _ = actions({"INPUT_COMMAND": "bump", "INPUT_TOKEN": "t0k", "INPUT_REGISTRY-PASSWORD": "p4ss"})
    secrets = action_request.read_secrets(a)
    assert (secrets.token, secrets.registry_password) == ("t0k", "p4ss") and "t0k" not in repr(secrets)
    env = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.x", "GIT_CONFIG_VALUE_0": "y"}
    entrypoint.trust_workspace(env, "/github/workspace")
    assert (env["GIT_CONFIG_COUNT"], env["GIT_CONFIG_KEY_1"], env["GIT_CONFIG_VALUE_1"]) == (
        "2", "safe.directory", "/github/workspace")
    assert not any("t0k" in v or "p4ss" in v for v in env.values())


def test_split_image_and_deploy_tag() -> None:
    assert resolve.split_image("r.example/a/b:1.0@sha256:" + "c" * 64, None, None) == (
        "r.example/a/b", "1.0", "sha256:" + "c" * 64)
    assert resolve.split_image("r.example/a/b", "2.0", None) == ("r.example/a/b", "2.0", None)
    with pytest.raises(InputError, match=r"invalid image .*give the tag"):
        resolve.split_image("r.example/a/b", None, None)
    with pytest.raises(InputError, match="invalid image"):
        resolve.split_image("r.example/a/b:1.0", "2.0", None)
    assert deploy_tag(["latest", "1.2.3", "sha-1"]) == "1.2.3"


def test_every_command_of_the_action_is_a_cli_command_too() -> None:
    parser = cli.build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for command in COMMANDS:
        assert command in subs, command
        if command != "check":
            assert "--json" in {s for action in subs[command]._actions for s in action.option_strings}, command


def test_a_misspelt_flag_shows_the_subcommand_usage_and_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["build", "--confg", "x.yaml"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: dify-action build") and "--confg: did you mean --config?" in err


@pytest.mark.parametrize("argv", [
    ["promote", "--from", "staging", "--to-environment", "production"],
    ["promote", "--from-environment", "staging", "--to-environment", "production", "--path-from", "a"],
    ["rollback", "--pr", "3"],
    ["test", "--image", "x:1", "--command", "true"],
])
def test_flag_spellings_that_never_had_a_release_are_gone(argv: list[str],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.build_parser().parse_args(argv)
    assert caught.value.code == 2
    assert "deprecated" not in capsys.readouterr().err


def test_labels_are_image_labels_and_pr_labels_go_to_pr_labels() -> None:
    a, _ = actions({"INPUT_COMMAND": "build", "INPUT_FILE": "f", "INPUT_LABELS": "org.example.team=ai"})
    build = action_request.read_request(a, {})
    assert isinstance(build, BuildCommand)
    assert (build.build.file, build.build.image_labels) == ("f", ("org.example.team=ai",))
    a, _ = actions({"INPUT_COMMAND": "build", "INPUT_LABELS": "a=b\nplain"})
    with pytest.raises(InputError) as caught:
        action_request.read_request(a, {})
    assert caught.value.name == "labels"
    a, _ = actions({"INPUT_COMMAND": "bump", "INPUT_PR-LABELS": "ops, deploy"})
    bump = action_request.read_request(a, {})
    assert isinstance(bump, BumpCommand) and bump.gitops.pr_labels == ("ops", "deploy")


def test_build_secrets_are_masked_first_and_travel_as_values(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    env = {"GITHUB_ACTIONS": "true", "INPUT_COMMAND": "build", "INPUT_SECRETS": "index=tok-1=x\nnetrc=n2",
           "INPUT_REPOSITORY": "r.example/a/b", "INPUT_TAGS": "1", "INPUT_CONTEXT": str(tmp_path / "missing")}
    assert entrypoint.main(env) == 2  # the context is missing: bad input, after the masks
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["::add-mask::tok-1=x", "::add-mask::n2"]
    a, _ = actions(env)
    assert action_request.read_secrets(a).build_secrets == (("index", "tok-1=x"), ("netrc", "n2"))
    assert "tok-1" not in repr(action_request.read_secrets(a))
