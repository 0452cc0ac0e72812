"""``dify-action rollback``: revert a merged bump as a new pull request (github) or branch (git).

What to roll back: ``--pr-number N`` (github), ``--commit SHA``, or ``--environment X`` (the last bump of X
still in effect). The Dify migration guard refuses to go back a Dify base version unless
``--allow-schema-rollback``. Secrets are read here, like ``promote``.
"""

from __future__ import annotations

import argparse
import os

from dify_action.resolve.request import RollbackCommand

HELP = "Roll back a merged bump (by PR, commit or environment) as a revert PR or branch."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dify_action.front.commands.promote import add_common

    add = parser.add_argument
    add("--pr-number", dest="pr", type=int, metavar="N",
        help="the merged bump pull request to roll back (github provider)")
    add("--commit", metavar="SHA", help="the merge / squash / bump commit of the base branch to roll back")
    add("--environment", metavar="ENV", help="roll back the last bump of this environment still in effect")
    add("--path", action="append", default=[], metavar="PATH",
        help="GitOps path of the environment (git provider; repeatable; default: from --config)")
    add("--allow-schema-rollback", action=argparse.BooleanOptionalAction, default=None,
        help="roll back across a Dify version although its database migrations have no downgrade "
             "(back up the dify and dify_plugin databases and storage first)")
    add_common(parser)


def request(args: argparse.Namespace) -> RollbackCommand:
    from dify_action.front.commands.promote import gitops_inputs
    from dify_action.front.common import cli_access, cli_context

    return RollbackCommand(
        pull_request=args.pr, commit=args.commit, environment=args.environment, config=args.config,
        paths=tuple(args.path), allow_schema_rollback=args.allow_schema_rollback,
        access=cli_access(args.registry_username, None, os.environ), gitops=gitops_inputs(args),
        context=cli_context(run_url=args.run_url))


def run(args: argparse.Namespace) -> int:
    from dify_action.front.common import cli_secrets, run_cli

    return run_cli(request(args), cli_secrets(os.environ), os.environ, as_json=args.json)
