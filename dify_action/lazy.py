"""A package face that loads its heavy names on first use (PEP 562 ``__getattr__``): a command that
never calls GitHub or a live source does not pay for their clients' imports."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def loader(package: str, names: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], object]:
    """The ``__getattr__`` of ``package``: ``names`` maps an attribute to its submodule; once loaded,
    the value is a plain attribute of ``namespace`` (the package's globals)."""

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    return __getattr__
