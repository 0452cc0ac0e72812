"""``dify-action check``: validate the config and the inputs, print what a run would do; no side effect."""

from __future__ import annotations

import argparse
import json
import os

HELP = "Validate the config (and an environment) and print the resolved requests; changes nothing."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--config", metavar="FILE", default="dify-action.yaml", help="dify-action.yaml (default: ./dify-action.yaml)")
    add("--environment", metavar="ENV", help="resolve the bump of this environment too")
    add("--command", dest="checked", default="pipeline", choices=("pipeline", "build", "bump"),
        help="the command whose requests to resolve (default: pipeline)")
    add("--revision", metavar="SHA", help="commit for the tag policy (default: HEAD of the config's repository, "
        "else zeros)")
    add("--run-number", type=int, metavar="N", help="workflow run number for {{run_number}} in tag rules")
    add("--ref", default="refs/heads/main", help="git ref for the tag policy")
    add("--event", default="push", help="event name for the tag policy")
    # issue 21: the Dify release set the environment runs (a checked-out tree, or the config's repository)
    add("--gitops-dir", metavar="DIR", help="check the Dify release set of --environment in this GitOps tree")
    add("--dify-release", metavar="VERSION", help="check the set as if moved to this Dify release")
    add("--allow-version-skew", action=argparse.BooleanOptionalAction, default=None,
        help="report a mismatched set without failing (default: the config's dify.allow-version-skew)")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from dify_action.front.common import StderrReporter, cli_access, cli_context, cli_secrets, tool_environ
    from dify_action.pipeline.run import Pipeline
    from dify_action.pipeline.stages import CoreStages
    from dify_action.resolve import resolve
    from dify_action.resolve.request import (
        BuildCommand,
        BumpCommand,
        BumpInputs,
        CheckCommand,
        GitOpsInputs,
        PipelineCommand,
    )

    context = cli_context(revision=args.revision or head(args.config) or "0" * 40, ref=args.ref, event=args.event,
                          run_number=args.run_number)
    access = cli_access(None, None, os.environ)
    checked: BuildCommand | BumpCommand | PipelineCommand
    # issue 21: the Dify release set the environment runs (or would run once moved to --dify-release)
    gitops = GitOpsInputs(directory=args.gitops_dir, allow_version_skew=args.allow_version_skew)
    bump = BumpInputs(environment=args.environment, dify_release=args.dify_release)
    if args.checked == "bump":
        checked = BumpCommand(args.config, replace(bump, images=("check.invalid/placeholder:0",)), gitops,
                              context=context)
    elif args.checked == "build":
        checked = BuildCommand(args.config, access=access, context=context)
    else:
        checked = PipelineCommand(args.config, access=access, bump=bump, gitops=gitops, context=context)
    plan = resolve(CheckCommand(checked), cli_secrets(os.environ))
    described = plan.describe()
    dify_set = Pipeline(plan, CoreStages(tool_environ(os.environ)), StderrReporter()).check_set()
    if dify_set is not None:
        described["dify_set"] = dify_set.as_dict()
    print(json.dumps(described, indent=2))
    return 0


def head(config: str) -> str | None:
    """The commit checked out where the config lives (a laptop's check shows the tags its HEAD gets)."""
    import subprocess
    from pathlib import Path

    folder = Path(config).resolve().parent
    try:
        done = subprocess.run(["git", "-C", str(folder), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True,
                              text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    sha = done.stdout.strip()
    return sha if done.returncode == 0 and len(sha) == 40 else None
