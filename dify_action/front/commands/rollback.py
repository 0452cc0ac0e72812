"""``dify-action rollback``: revert a merged bump as a new pull request (github) or branch (git).

What to roll back: ``--pr N`` (github), ``--commit SHA``, or ``--environment X`` (the last bump of X
still in effect). The Dify migration guard refuses to go back a Dify base version unless
``--allow-schema-rollback``. Secrets are read here, like ``promote``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HELP = "Roll back a merged bump (by PR, commit or environment) as a revert PR or branch."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dify_action.front.commands.promote import add_common

    add = parser.add_argument
    from dify_action.front.cli import deprecated

    add("--pr-number", "--pr", dest="pr", type=int, metavar="N", **deprecated("--pr"),
        help="the merged bump pull request to roll back (github provider; --pr: deprecated)")
    add("--commit", metavar="SHA", help="the merge / squash / bump commit of the base branch to roll back")
    add("--environment", metavar="ENV", help="roll back the last bump of this environment still in effect")
    add("--path", action="append", default=[], metavar="PATH",
        help="GitOps path of the environment (git provider; repeatable; default: from --config)")
    add("--allow-schema-rollback", action="store_true",
        help="roll back across a Dify version although its database migrations have no downgrade "
             "(back up the dify and dify_plugin databases and storage first)")
    add_common(parser)


def run(args: argparse.Namespace) -> int:
    from dify_action.front.commands.promote import print_notes, remote_settings
    from dify_action.front.common import cli_secrets, tool_environ
    from dify_action.pipeline.stages import CoreStages
    from dify_action.resolve import resolve
    from dify_action.resolve.request import Settings

    settings = Settings(command="rollback", pr_number=args.pr, commit=args.commit, environment=args.environment,
                        paths=tuple(args.path), allow_schema_rollback=args.allow_schema_rollback,
                        **remote_settings(args))  # type: ignore[arg-type]  # typed by add_common
    result = CoreStages(tool_environ(os.environ)).rollback(resolve(settings, cli_secrets(os.environ)))
    print_notes(list(result.notes), result.dify_set)
    if args.json:
        print(json.dumps(result.as_dict() | {"dry_run": bool(args.dry_run)}, indent=2))
        return 0
    what = f"#{result.reverted_pr}" if result.reverted_pr else result.reverted_commit[:12]
    for move in result.moves:
        print(f"  {move.file}:{move.line}  {move.current} -> {move.restored}")
    for check in result.guard:
        print(f"  guard: {check.describe()}", file=sys.stderr)
    where = f"PR #{result.pr_number} {result.pr_url}" if result.pr_number else f"branch {result.branch or '-'}"
    print(f"{result.operation} ({result.method}) rollback of {what} in {result.environment}: {where} "
          f"(commit {result.commit or '-'})")
    return 0
