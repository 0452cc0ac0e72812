"""The command-line front end: ``dify-action COMMAND ...`` and ``python -m dify_action``.

A thin layer: argparse turns arguments into typed requests for the core, prints results and
maps errors to exit codes (0 ok, 1 failure, 2 bad input). Each command lives in
``dify_action/front/commands/<module>.py`` with ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``; modules import their heavy dependencies lazily so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, Protocol, cast

from dify_action import __version__, interrupt
from dify_action.errors import DifyActionError, InputError

# command name -> module under dify_action.front.commands
COMMANDS: dict[str, str] = {
    "scan": "scan",
    "test": "test",
    "bump": "bump",
    "build": "build",
    "promote": "promote",
    "rollback": "rollback",
    "gates": "gates",
    "pipeline": "pipeline",
    "check": "check",
    "apps": "apps",
    "verify": "verify",  # issue 18
    "merge": "merge",  # issue 20: the platform matrix's merge job
}


class _Command(Protocol):
    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _load(module: str) -> _Command:
    return cast(_Command, importlib.import_module(f"dify_action.front.commands.{module}"))


class _Parser(argparse.ArgumentParser):
    """Usage errors show this (sub)command's usage and suggest the nearest flag (``--confg``).
    No abbreviations: a prefix would keep retired spellings (``--pr`` for ``--pr-number``) alive and
    change meaning whenever a flag is added."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        if "unrecognized arguments:" in message:
            import difflib  # only a usage error pays for it

            flags = [s for action in self._actions for s in action.option_strings]
            hints = [f"{word}: did you mean {near[0]}?" for word in message.split(":", 1)[1].split()
                     if (near := difflib.get_close_matches(word.split("=")[0], flags, n=1))]
            message = "; ".join([message, *hints])
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``only`` (a run imports the module of its own command)."""
    parser = _Parser(
        prog="dify-action",
        description="Build, test, scan and ship customized Dify images through GitOps pull requests.",
    )
    parser.add_argument("--version", action="version", version=f"dify-action {__version__}")
    sub = parser.add_subparsers(dest="subcommand", metavar="COMMAND", required=True, parser_class=_Parser)
    for name, module in COMMANDS.items():
        if only is not None and name != only:
            continue
        command = _load(module)
        child = sub.add_parser(name, help=command.HELP, description=command.HELP)
        command.add_arguments(child)
        child.set_defaults(_run=command.run, _parser=child)  # "subcommand": test --smoke-command stores to "command"
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; everything printed is neutralised for terminals and CI command channels."""
    from dify_action.text import protected_stdio

    with protected_stdio():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words[0] if words and words[0] in COMMANDS else None)
    args, unknown = parser.parse_known_args(words)
    if unknown:  # the subcommand's own usage and a suggestion, not the top-level usage
        args._parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    repeated = _repeated(args._parser, list(argv if argv is not None else sys.argv[1:]))
    if repeated:  # a single-value flag given twice: argparse would keep the last one, silently
        args._parser.error(f"{repeated} takes one value and was given more than once: {args.subcommand} "
                           f"works on one {repeated.lstrip('-')}")
    interrupt.install()  # SIGTERM (a cancelled job) unwinds like Ctrl-C
    try:
        return cast(int, args._run(args))
    except DifyActionError as error:
        print(f"dify-action {args.subcommand}: error: {_in_flags(error, args._parser)}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as stop:
        print(f"dify-action {args.subcommand}: interrupted", file=sys.stderr)
        return interrupt.exit_code(stop)
    except BrokenPipeError:
        return 1


# the core names the action's inputs; a CLI user sees the flag that carries the same value
_FLAG_OF_INPUT = {"tags": "--tag", "pull-request-number": "--pr-number", "pr-labels": "--label",
                  "sarif-file": "--sarif", "registry-password": "$DIFY_ACTION_REGISTRY_PASSWORD",
                  "token": "$GITOPS_TOKEN (or $GITHUB_TOKEN)", "config": "--config"}


def _flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: action for action in parser._actions for s in action.option_strings}


def flag_of(name: str, parser: argparse.ArgumentParser) -> str | None:
    """The flag (or variable) of this subcommand that carries the action input ``name``."""
    flags = _flags(parser)
    for flag in (_FLAG_OF_INPUT.get(name), f"--{name}", f"--{name.removesuffix('s')}"):
        if flag and (flag in flags or flag.startswith("$")):
            return flag
    return None


def _in_flags(error: DifyActionError, parser: argparse.ArgumentParser) -> str:
    text = str(error)
    if isinstance(error, InputError) and isinstance(error.name, str):
        flag = flag_of(error.name, parser)
        if flag and text.startswith(f"invalid {error.name} "):
            return f"invalid {flag} " + text[len(f"invalid {error.name} "):]
    return text


def _repeated(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """The first single-value flag given twice (any of its spellings), before ``--``."""
    flags = _flags(parser)
    seen: set[int] = set()
    for word in argv[: argv.index("--")] if "--" in argv else argv:
        action = flags.get(word.split("=", 1)[0]) if word.startswith("--") else None
        if action is None or type(action) is not argparse._StoreAction:
            continue  # append, count, booleans and help take several on purpose
        if id(action) in seen:
            return action.option_strings[0]
        seen.add(id(action))
    return None
