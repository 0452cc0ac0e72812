"""One typed, bounded decoder for every value read from an image or a registry.

JSON (manifests, gate records, facts blobs, token answers), TOML (``pyproject.toml``) and Python
source (Alembic migrations, ``dsl_version.py``) come from people who may be hostile. The standard
parsers recurse once per nesting level (RecursionError), can run out of memory, and plain dict
access on what they return raises TypeError / AttributeError / KeyError at whoever reads it.
Here: the size is capped and the nesting is counted on the raw text *before* any parser runs,
every parser exception becomes the caller's error class (``Unreadable`` by default), and the
accessors check each value's type. A caller catches one error, its own.
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from typing import NoReturn

from dify_action.errors import DifyActionError

ErrorType = type[DifyActionError]
MAX_JSON = 4 << 20  # the OCI distribution spec's manifest size registries must accept
MAX_DEPTH = 64
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}()]+")
# every way a standard parser can fail on hostile text, including the ones that are not ValueError
_PARSER_FAILURES = (ValueError, TypeError, SyntaxError, RecursionError, MemoryError, OverflowError,
                    UnicodeError, tomllib.TOMLDecodeError)


class Unreadable(DifyActionError):
    """A value from an image or a registry that is not what it must be (too big, too deep, bad type)."""


def fail(what: str, why: str, error: ErrorType = Unreadable, hint: str | None = None) -> NoReturn:
    raise error(f"{what} is unreadable: {why}", hint=hint)


def nesting(text: str) -> int:
    """The deepest bracket nesting of ``text`` (brackets inside strings count too: an upper bound)."""
    depth = deepest = 0
    for char in _NOT_BRACKETS.sub("", text):  # only the brackets: linear, and a short loop
        if char in "[{(":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]})":
            depth = max(depth - 1, 0)
    return deepest


def _text(data: bytes | str, what: str, max_bytes: int, error: ErrorType) -> str:
    if len(data) > max_bytes:
        fail(what, f"{len(data)} bytes, over the limit of {max_bytes}", error)
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        fail(what, "not UTF-8 text", error)


def json_value(data: bytes | str, what: str, *, max_bytes: int = MAX_JSON, max_depth: int = MAX_DEPTH,
               error: ErrorType = Unreadable) -> object:
    """The JSON value of ``data``; ``error`` when it is too large, nested deeper than ``max_depth``
    (counted outside strings, before parsing) or not JSON."""
    text = _text(data, what, max_bytes, error)
    if nesting(_JSON_STRING.sub('""', text)) > max_depth:
        fail(what, f"nested deeper than {max_depth} levels", error)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except _PARSER_FAILURES as problem:
        fail(what, f"not JSON ({type(problem).__name__})", error)


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def json_object(data: bytes | str, what: str, *, max_bytes: int = MAX_JSON, max_depth: int = MAX_DEPTH,
                error: ErrorType = Unreadable) -> Mapping[str, object]:
    return as_object(json_value(data, what, max_bytes=max_bytes, max_depth=max_depth, error=error), what, error)


def toml_document(text: str, what: str, *, max_bytes: int = 1 << 20, max_depth: int = 32,
                  error: ErrorType = Unreadable) -> Mapping[str, object]:
    text = _text(text, what, max_bytes, error)
    if nesting(text) > max_depth:
        fail(what, f"nested deeper than {max_depth} levels", error)
    try:
        return tomllib.loads(text)
    except _PARSER_FAILURES as problem:
        fail(what, f"not TOML ({type(problem).__name__})", error)


def python_module(text: str, what: str, *, max_bytes: int = 1 << 20, max_depth: int = 64,
                  error: ErrorType = Unreadable) -> ast.Module:
    """The syntax tree of Python source (never compiled or run)."""
    text = _text(text, what, max_bytes, error)
    if nesting(text) > max_depth:
        fail(what, f"nested deeper than {max_depth} levels", error)
    try:
        with warnings.catch_warnings():  # an image's odd escapes are not ours to print
            warnings.simplefilter("ignore")
            return ast.parse(text, filename=what)
    except _PARSER_FAILURES as problem:
        fail(what, f"not valid Python ({type(problem).__name__}: {getattr(problem, 'msg', '') or problem})", error)


def literal(node: ast.expr, what: str, error: ErrorType = Unreadable) -> object:
    """A constant or a flat tuple/list of constants (what a migration header holds), without
    ``ast.literal_eval``'s recursion; the caller checks the type it needs."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Tuple | ast.List) and all(isinstance(item, ast.Constant) for item in node.elts):
        return tuple(item.value for item in node.elts if isinstance(item, ast.Constant))
    fail(what, "not a literal", error)


# -- typed access ------------------------------------------------------------------------------
def as_object(value: object, what: str, error: ErrorType = Unreadable) -> Mapping[str, object]:
    if not isinstance(value, dict):
        fail(what, f"expected an object, found {type(value).__name__}", error)
    return value


def as_list(value: object, what: str, error: ErrorType = Unreadable) -> Sequence[object]:
    if not isinstance(value, list):
        fail(what, f"expected a list, found {type(value).__name__}", error)
    return value


def field(obj: Mapping[str, object], key: str, what: str, error: ErrorType = Unreadable) -> object:
    if key not in obj:
        fail(what, f"no {key!r}", error)
    return obj[key]


def string(obj: Mapping[str, object], key: str, what: str, *, default: str | None = None,
           error: ErrorType = Unreadable) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        fail(what, f"{key!r} is not a string", error)
    return value


def optional_string(obj: Mapping[str, object], key: str, what: str, error: ErrorType = Unreadable) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        fail(what, f"{key!r} is not a string", error)
    return value


def size(obj: Mapping[str, object], key: str, what: str, *, default: int | None = None,
         maximum: int = 1 << 50, error: ErrorType = Unreadable) -> int:
    """A non-negative integer (JSON booleans and floats are not sizes)."""
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        fail(what, f"{key!r} is not a size between 0 and {maximum}", error)
    return value


def objects(value: object, what: str, error: ErrorType = Unreadable) -> list[Mapping[str, object]]:
    """A list of objects (an absent list is empty)."""
    if value is None:
        return []
    return [as_object(item, f"{what}[{index}]", error) for index, item in enumerate(as_list(value, what, error))]
