"""The command-line front end: ``dify-action COMMAND ...`` and ``python -m dify_action``.

A thin layer: argparse turns arguments into typed requests for the core, prints results and
maps errors to exit codes (0 ok, 1 failure, 2 bad input). Each command lives in
``dify_action/commands/<module>.py`` with ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; modules import their heavy dependencies lazily so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, cast

from dify_action import __version__, interrupt
from dify_action.errors import DifyActionError, InputError

if TYPE_CHECKING:
    from dify_action.pipeline import StageRun

# command name -> module under dify_action.commands
COMMANDS: dict[str, str] = {
    "scan": "scan",
    "test": "smoke",
    "bump": "bump",
    "build": "build",
    "promote": "promote",
    "rollback": "rollback",
    "gates": "gates",
    "pipeline": "pipeline",
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
    interrupt.install()  # SIGTERM (a cancelled job) unwinds like Ctrl-C
    try:
        return cast(int, args._run(args))
    except DifyActionError as error:
        print(f"dify-action {args.subcommand}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as stop:
        print(f"dify-action {args.subcommand}: interrupted", file=sys.stderr)
        return interrupt.exit_code(stop)
    except BrokenPipeError:
        return 1


class InProcess:
    """The pipeline's stage runner: ``dify-action COMMAND ARGV --json`` in this process, stdout
    captured as the result, ``--summary`` into a temporary directory. Flags this build's command
    does not have are dropped with a warning instead of failing on a usage error."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self.parser = build_parser()
        self.warn = warn
        self._temp = tempfile.TemporaryDirectory(prefix="dify-action-summary-")

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._temp.cleanup()

    def __call__(self, command: str, argv: Sequence[str], stage: str, positionals: Sequence[str] = ()) -> StageRun:
        from dify_action.pipeline import StageRun

        sub = _subparser(self.parser, command)
        if sub is None:
            raise DifyActionError(f"the {command} command is not part of this dify-action build",
                                  hint="use a newer dify-action release")
        known = {s: action.nargs != 0 for action in sub._actions for s in action.option_strings}
        kept = _known_only(list(argv), known, self.warn, command)
        summary = Path(self._temp.name) / f"{stage}.md"
        if "--summary" in known:
            kept += ["--summary", str(summary)]
        try:
            args = self.parser.parse_args([command, *positionals, *kept, "--json"])
        except SystemExit:
            raise InputError(command, " ".join(kept), "arguments the CLI accepts (see the log above)") from None
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            code = int(args._run(args))
        text = captured.getvalue().strip()
        try:
            data: dict[str, Any] = json.loads(text) if text else {}
        except json.JSONDecodeError:
            data = {"output": text}
        return StageRun(code, data if isinstance(data, dict) else {"output": data},
                        summary.read_text(encoding="utf-8") if summary.exists() else "")


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found = action.choices.get(command)
            return found if isinstance(found, argparse.ArgumentParser) else None
    return None


def _known_only(argv: list[str], known: Mapping[str, bool], warn: Callable[[str], None], command: str) -> list[str]:
    """Drop flags this build's command does not have (inputs meant for other commands or newer
    versions) with a warning, instead of failing on an argparse usage error."""
    kept: list[str] = []
    index = 0
    while index < len(argv):
        flag = argv[index]
        guess = index + 1 < len(argv) and not argv[index + 1].startswith("--")
        takes_value = known.get(flag, guess)
        if flag in known:
            kept += argv[index:index + 2] if takes_value else [flag]
        else:
            warn(f"{command}: this dify-action build has no {flag} option; ignored")
        index += 2 if takes_value else 1
    return kept
