"""docker-compose tags from variables (``langgenius/dify-api:${DIFY_VERSION:-1.13.3}``).

Compose interpolates ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}`` and ``$VAR`` from the shell
and from the ``.env`` file beside the compose file (https://docs.docker.com/compose/how-tos/
environment-variables/variable-interpolation/). The bump never edits such a tag unasked: it says
where the value comes from; with ``--env-file`` it sets the literal in that file, byte-preserving.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from dify_action import refs
from dify_action.errors import EditRefused, InputError

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_USE = re.compile(
    rf"^(?P<repo>[^\s$]+):(?P<expr>\$\{{(?P<var>{_NAME})(?:(?P<op>:?[-?+])(?P<default>[^}}]*))?\}}|\$(?P<bare>{_NAME}))$"
)
_QUOTED = re.compile(r"""(?P<q>['"])(?P<v>.*?)(?P=q)""")


@dataclass(frozen=True)
class Variable:
    """A variable used as a tag: ``name``, the ``:-``/``-`` default if any, and the source text."""

    name: str
    default: str | None
    expression: str


@dataclass(frozen=True)
class Assignment:
    """``NAME=value`` in an env file: the value's character span (inside quotes) and its line."""

    start: int
    end: int
    value: str
    line: int


def parse_variable(text: str) -> tuple[refs.ImageRef, Variable] | None:
    """``repo:${VAR...}`` -> (repository, variable); None for anything else."""
    match = _USE.match(text)
    if match is None:
        return None
    ref = refs.try_parse(match["repo"])
    if ref is None or ref.tag or ref.digest:
        return None
    name = match["var"] or match["bare"]
    default = match["default"] if match["op"] in (":-", "-") else None
    return ref, Variable(name, default, match["expr"])


def find_assignment(text: str, name: str) -> Assignment | None:
    """The last ``NAME=...`` line of an env file (``export NAME=`` too): compose uses the last one."""
    found: Assignment | None = None
    pattern = re.compile(rf"^[ \t]*(?:export[ \t]+)?{re.escape(name)}[ \t]*=[ \t]*", re.MULTILINE)
    for match in pattern.finditer(text):
        start = match.end()
        end = len(text)
        for stop in ("\n", "\r"):
            cut = text.find(stop, start)
            if cut != -1:
                end = min(end, cut)
        raw = text[start:end]
        quoted = _QUOTED.match(raw)
        if quoted:
            begin, finish = start + 1, start + quoted.end("v")
        else:
            comment = re.search(r"[ \t]+#", raw)
            finish = start + (comment.start() if comment else len(raw.rstrip(" \t")))
            begin = start
        found = Assignment(begin, finish, text[begin:finish], text.count("\n", 0, start) + 1)
    return found


def env_path(root: Path, given: str) -> tuple[Path, str]:
    """Validate ``--env-file`` (relative to the GitOps root, inside it, an existing file)."""
    pure = PurePosixPath(given.replace("\\", "/"))
    if not given or pure.is_absolute() or ".." in pure.parts:
        raise InputError("env-file", given, "a file relative to the GitOps directory, without '..'")
    real_root = os.path.realpath(root)
    real = os.path.realpath(root / pure)
    if not real.startswith(real_root + os.sep) or not os.path.isfile(real):
        raise InputError("env-file", given, "no such file inside the GitOps directory")
    return Path(real), str(pure)


def where_it_comes_from(root: Path, compose_file: str, variable: Variable) -> tuple[str, str]:
    """(sentence saying where the value comes from, the env file to suggest)."""
    folder = PurePosixPath(compose_file).parent
    dotenv = str(folder / ".env") if str(folder) != "." else ".env"
    path = root / dotenv
    try:
        text = path.read_bytes().decode("utf-8") if path.is_file() and not path.is_symlink() else None
    except (OSError, UnicodeDecodeError):
        text = None
    found = find_assignment(text, variable.name) if text is not None else None
    if found is not None:
        return f"{dotenv}:{found.line} sets {variable.name}={found.value}", dotenv
    default = f"; its default is {variable.default} (from {variable.expression})" if variable.default else ""
    if text is None:
        return f"there is no {dotenv} beside the compose file{default}", dotenv
    return f"{dotenv} does not set {variable.name}{default}", dotenv


def refusal(root: Path, file: str, line: int, image: str, variable: Variable, tag: str) -> EditRefused:
    """The error for a variable tag met without ``--env-file``."""
    source, dotenv = where_it_comes_from(root, file, variable)
    return EditRefused(
        f"{file}:{line}: the tag of {image} is the compose variable {variable.name} ({variable.expression}); "
        f"{source}. The bump does not rewrite a variable reference into a literal",
        hint=f"pass --env-file {dotenv} to set {variable.name}={tag} in that file (the bump edits only "
             f"that value), or write a literal tag in {file}",
        file=file, line=line,
    )
