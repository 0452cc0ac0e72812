"""Every option with three states (true, false, not given), through the action and the CLI.

The class of bug: a front end turned "not given" into False (or False into "not given"), so that
``promote --no-pin-digest`` still pinned. Each row runs one option of one command through both
front ends and the resolver, with the config saying nothing, true and false, and asserts the
documented outcome: a given value wins both ways; not given falls to the config, else the built-in.
"""

from __future__ import annotations

import argparse
import importlib
import io
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from dify_action.front import action_request, cli, gha
from dify_action.resolve import Plan, resolve
from dify_action.resolve.request import Command, Secrets

CONFIG = """version: 1
components:
  - {{name: api, image: ghcr.io/acme/dify-api, dockerfile: Dockerfile}}
smoke:
  api: {{{healthcheck}}}
environments:
  staging: {{repository: "file://{bare}", paths: [overlays/staging], provider: git{pin}}}
  production: {{repository: "file://{bare}", paths: [overlays/production], provider: git{pin}}}
"""
SHA = "a" * 40


@dataclass(frozen=True)
class Option:
    command: str
    name: str  # the action's input and the CLI's flag (--name / --no-name)
    read: Callable[[Plan], object]  # the resolved value
    builtin: object  # the outcome when neither the input nor the config says
    config_key: str | None = None  # "healthcheck" or "pin-digest": the config can say it too
    action: tuple[tuple[str, str], ...] = ()  # the other inputs the command needs
    argv: tuple[str, ...] = ()  # the other flags


def _delivery_draft(plan: Plan) -> object:
    assert plan.gitops is not None and plan.gitops.delivery is not None
    return plan.gitops.delivery.destination.draft


PROMOTE = (("from-environment", "staging"), ("to-environment", "production"))
PROMOTE_ARGV = ("--from-environment", "staging", "--to-environment", "production")
OPTIONS = [
    # promote's pin: not given = as the from-environment does (None), unless the config's to-environment says
    Option("promote", "pin-digest", lambda p: p.promote and p.promote.pin_digest, None, "pin-digest",
           PROMOTE, PROMOTE_ARGV),
    Option("promote", "require-gates", lambda p: p.promote and p.promote.require_gates, True, None, PROMOTE,
           PROMOTE_ARGV),
    Option("promote", "require-sbom", lambda p: p.promote and p.promote.require_sbom, False, None, PROMOTE,
           PROMOTE_ARGV),
    Option("promote", "dry-run", lambda p: p.promote and p.promote.dry_run, False, None, PROMOTE, PROMOTE_ARGV),
    Option("pipeline", "pin-digest", lambda p: p.gitops and p.gitops.pin_digest, False, "pin-digest",
           (("environment", "staging"),), ("--environment", "staging")),
    Option("pipeline", "push", lambda p: p.build and p.build.push, True),
    Option("pipeline", "draft", _delivery_draft, False, None, (("environment", "staging"),),
           ("--environment", "staging")),
    Option("pipeline", "scan-offline", lambda p: p.scan and p.scan.offline, False, None, (), ()),
    Option("build", "push", lambda p: p.build and p.build.push, True),
    Option("test", "healthcheck", lambda p: p.smoke["api"].healthcheck, True, "healthcheck",
           (("image", "r.example/a:1"),), ("--image", "r.example/a:1", "--component", "api")),
    Option("rollback", "allow-schema-rollback", lambda p: p.rollback and p.rollback.allow_schema_rollback, False,
           None, (("environment", "staging"),), ("--environment", "staging")),
    Option("rollback", "dry-run", lambda p: p.rollback and p.rollback.dry_run, False, None,
           (("environment", "staging"),), ("--environment", "staging")),
]
# sign-commits (issue 19): commits through GitHub's API, so with provider github
SIGNING = (("environment", "staging"), ("provider", "github"))
SIGNING_ARGV = ("--environment", "staging", "--provider", "github")
OPTIONS += [
    Option("bump", "sign-commits", lambda p: p.gitops and p.gitops.delivery and
           p.gitops.delivery.destination.sign_commits, False, "sign-commits",
           (*SIGNING, ("image", "ghcr.io/acme/dify-api:2.0")), (*SIGNING_ARGV, "--image", "ghcr.io/acme/dify-api:2.0")),
    Option("pipeline", "sign-commits", lambda p: p.gitops and p.gitops.delivery and
           p.gitops.delivery.destination.sign_commits, False, "sign-commits", SIGNING, SIGNING_ARGV),
    Option("promote", "sign-commits", lambda p: p.promote and p.promote.destination.sign_commits, False,
           "sign-commits", (*PROMOTE, ("provider", "github")), (*PROMOTE_ARGV, "--provider", "github")),
    Option("rollback", "sign-commits", lambda p: p.rollback and p.rollback.destination.sign_commits, False,
           "sign-commits", SIGNING, SIGNING_ARGV),
]
# allow-version-skew (issue 21): the config says it once, for every environment (dify.allow-version-skew)
SKEW = "dify.allow-version-skew"
OPTIONS += [
    Option("bump", "allow-version-skew", lambda p: p.dify_set.allow_skew, False, SKEW,
           (("environment", "staging"), ("image", "ghcr.io/acme/dify-api:2.0")),
           ("--environment", "staging", "--image", "ghcr.io/acme/dify-api:2.0")),
    Option("pipeline", "allow-version-skew", lambda p: p.dify_set.allow_skew, False, SKEW,
           (("environment", "staging"),), ("--environment", "staging")),
    Option("promote", "allow-version-skew", lambda p: p.promote and p.promote.set_policy.allow_skew, False, SKEW,
           PROMOTE, PROMOTE_ARGV),
    Option("rollback", "allow-version-skew", lambda p: p.rollback and p.rollback.set_policy.allow_skew, False,
           SKEW, (("environment", "staging"),), ("--environment", "staging")),
]
CLI_FLAG = {("pipeline", "scan-offline"): "offline", ("test", "components"): "component"}
ACTION_ONLY: set[tuple[str, str]] = set()
CLI_ONLY = {("test", "healthcheck")}  # the action's test takes the config's smoke settings


def _config(tmp_path: Path, key: str | None, value: bool | None) -> Path:
    bare = tmp_path / "gitops.git"
    if not bare.exists():
        subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    said = "" if value is None else str(value).lower()
    path = tmp_path / "dify-action.yaml"
    path.write_text(CONFIG.format(
        bare=bare, healthcheck=f"healthcheck: {said}" if key == "healthcheck" and said else "",
        pin=f", {key}: {said}" if key in ("pin-digest", "sign-commits") and said else "")
        + (f"dify: {{allow-version-skew: {said}}}\n" if key == SKEW and said else ""))
    return path


def _via_action(option: Option, config: Path, value: bool | None) -> Command:
    env = {"INPUT_COMMAND": option.command, "INPUT_CONFIG": str(config), **{
        f"INPUT_{k.upper()}": v for k, v in option.action}}
    if value is not None:
        env[f"INPUT_{option.name.upper()}"] = str(value).lower()
    a = gha.Actions(env, io.StringIO(), io.StringIO())
    return action_request.read_request(a, {"GITHUB_SHA": SHA})


def _via_cli(option: Option, config: Path, value: bool | None) -> Command:
    flag = CLI_FLAG.get((option.command, option.name), option.name)
    argv = [option.command, "--config", str(config), *option.argv]
    if option.command in ("build", "pipeline"):
        argv += ["--revision", SHA]
    if value is not None:
        argv.append(f"--{flag}" if value else f"--no-{flag}")
    args: argparse.Namespace = cli.build_parser().parse_args(argv)
    module = importlib.import_module(f"dify_action.front.commands.{option.command}")
    request: Command = module.request(args)
    return request


CASES = [(o, front, config) for o in OPTIONS for front in ("action", "cli")
         if (front == "action" and (o.command, o.name) not in CLI_ONLY)
         or (front == "cli" and (o.command, o.name) not in ACTION_ONLY)
         for config in ((None, True, False) if o.config_key else (None,))]


@pytest.mark.parametrize(("option", "front", "config_value"), CASES,
                         ids=[f"{o.command}-{o.name}-{f}-config:{c}" for o, f, c in CASES])
def test_true_false_and_not_given_are_three_outcomes(tmp_path: Path, option: Option, front: str,
                                                     config_value: bool | None) -> None:
    config = _config(tmp_path, option.config_key, config_value)
    via = _via_action if front == "action" else _via_cli
    outcomes = {given: option.read(resolve(via(option, config, given), Secrets(token="t0k")))
                for given in (True, False, None)}
    assert outcomes[True] is True and outcomes[False] is False, outcomes  # a given value wins, both ways
    fallback = option.builtin if config_value is None else config_value
    assert outcomes[None] == fallback, outcomes  # not given: the config's, else the built-in


def test_every_boolean_flag_of_the_cli_has_three_states() -> None:
    """No boolean flag can default to a value: the resolver decides (flags like --json are output
    switches, not options with a config or built-in counterpart)."""
    switches = {"--json", "--engine", "--pr-head-sha"}
    parser = cli.build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in subs.items():
        for action in sub._actions:
            if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
                assert set(action.option_strings) & switches, (name, action.option_strings)
            if isinstance(action, argparse.BooleanOptionalAction):
                assert action.default is None, (name, action.option_strings)


def test_the_action_reads_an_empty_boolean_as_not_given() -> None:
    a = gha.Actions({"INPUT_PIN-DIGEST": "", "INPUT_PUSH": "  "}, io.StringIO(), io.StringIO())
    assert a.boolean("pin-digest") is None and a.boolean("push") is None
