"""Small helpers every part of the resolver uses."""

from __future__ import annotations

from dify_action.choices import GITHUB_API
from dify_action.errors import InputError

DEFAULT_API = GITHUB_API


def required(value: str | None, name: str, allowed: str) -> str:
    if not value:
        raise InputError(name, "", allowed)
    return value
