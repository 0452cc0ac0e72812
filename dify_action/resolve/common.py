"""Small helpers every part of the resolver uses: the one precedence, required values."""

from __future__ import annotations

from typing import TypeVar

from dify_action.errors import InputError

T = TypeVar("T")


def given(*values: T | None, default: T) -> T:
    """The first value that was given (not None), else ``default``: input > environment > config >
    built-in, in the order the caller lists them. False is a given value, never "not given"."""
    return next((v for v in values if v is not None), default)


def required(value: str | None, name: str, allowed: str) -> str:
    if not value:
        raise InputError(name, "", allowed)
    return value
