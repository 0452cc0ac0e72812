"""``dify-action check``: validate the config and the inputs, print what a run would do; no side effect."""

from __future__ import annotations

import argparse
import json
import os
import sys

HELP = "Validate the config (and an environment) and print the resolved requests; changes nothing."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--config", metavar="FILE", default="dify-action.yaml", help="dify-action.yaml (default: ./dify-action.yaml)")
    add("--environment", metavar="ENV", help="resolve the bump of this environment too")
    add("--command", dest="checked", default="pipeline", choices=("pipeline", "build", "bump"),
        help="the command whose requests to resolve (default: pipeline)")
    add("--revision", metavar="SHA", default="0" * 40, help="commit for the tag policy (default: zeros)")
    add("--ref", default="refs/heads/main", help="git ref for the tag policy")
    add("--event", default="push", help="event name for the tag policy")
    # issue 21: the Dify release set the environment runs (a checked-out tree, or the config's repository)
    add("--gitops-dir", metavar="DIR", help="check the Dify release set of --environment in this GitOps tree")
    add("--dify-release", metavar="VERSION", help="check the set as if moved to this Dify release")
    add("--allow-version-skew", action="store_true", help="report a mismatched set without failing")
    add("--json", action="store_true", help="print the resolved requests and the set as one JSON document")


def run(args: argparse.Namespace) -> int:
    from dify_action.choices import USERNAME_ENV
    from dify_action.front.common import cli_secrets
    from dify_action.resolve import resolve
    from dify_action.resolve.request import Settings

    settings = Settings(command="check", config=args.config, environment=args.environment, revision=args.revision,
                        ref=args.ref, event=args.event, registry_username=os.environ.get(USERNAME_ENV),
                        image="check.invalid/placeholder:0" if args.checked == "bump" else None,
                        gitops_dir=args.gitops_dir, dify_release=args.dify_release,
                        allow_version_skew=args.allow_version_skew)
    plan = resolve(settings, cli_secrets(os.environ))
    described = plan.describe()
    if plan.gitops is not None and plan.gitops.environment:  # issue 21: the set, refused like a change would be
        from dify_action.front.common import tool_environ
        from dify_action.pipeline.stages import CoreStages
        from dify_action.releaseset import enforce

        checked = CoreStages(tool_environ(os.environ)).release_set(plan, plan.gitops, ())
        for line in (*checked.lines(), *(f"warning: {w}" for w in enforce(checked))):
            print(line, file=sys.stderr)
        described["dify_set"] = checked.as_dict()
    print(json.dumps(described, indent=2))
    return 0
