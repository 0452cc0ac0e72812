"""The command-line front end: ``dify-action COMMAND ...`` and ``python -m dify_action``.

A thin layer: argparse turns arguments into typed requests for the core, prints results and
maps errors to exit codes (0 ok, 1 failure, 2 bad input). Each command lives in
``dify_action/commands/<module>.py`` with ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; modules import their heavy dependencies lazily so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from dify_action import __version__
from dify_action.errors import DifyActionError

# command name -> module under dify_action.commands
COMMANDS: dict[str, str] = {
    "scan": "scan",
    "test": "smoke",
    "bump": "bump",
    "build": "build",
    "promote": "promote",
    "rollback": "rollback",
    "gates": "gates",
}


class _Command(Protocol):
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _load(module: str) -> _Command:
    return cast(_Command, importlib.import_module(f"dify_action.commands.{module}"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dify-action",
        description="Build, test, scan and ship customized Dify images through GitOps pull requests.",
    )
    parser.add_argument("--version", action="version", version=f"dify-action {__version__}")
    sub = parser.add_subparsers(dest="subcommand", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        command = _load(module)
        child = sub.add_parser(name, help=command.HELP, description=command.HELP)
        command.add_arguments(child)
        child.set_defaults(_run=command.run)  # "subcommand": `test --command` owns "command"
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return cast(int, args._run(args))
    except DifyActionError as error:
        print(f"dify-action {args.subcommand}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"dify-action {args.subcommand}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
