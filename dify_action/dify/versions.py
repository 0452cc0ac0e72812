"""Dify versions: the base version a Dockerfile starts from, the label that carries it, their order.

The label heuristic lives here too: when an image's own revision graph cannot be read, the
rollback guard compares ``io.dify.base-version`` labels with ``label_verdict``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from dify_action import refs

if TYPE_CHECKING:
    from dify_action.registry import RegistryClient

BASE_VERSION_LABEL = "io.dify.base-version"
# The official images a customization starts from (see ../shared/DIFY.md).
DIFY_BASE = re.compile(r"(^|/)langgenius/dify-(api|web|sandbox|plugin-daemon)$")
_VERSION_ARGS = ("DIFY_VERSION", "DIFY_API_VERSION", "VERSION")
_NUMBERS = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(.*)")
VersionKey = tuple[tuple[int, ...], int, str]


def version_key(version: str) -> VersionKey | None:
    """Sort key of a Dify version: 1.13.3 < 1.14.0-rc1 < 1.14.0 < 1.14.0-fix.1 (None: not a version)."""
    match = _NUMBERS.fullmatch(version.strip())
    if match is None:
        return None
    numbers = tuple(int(part or 0) for part in match.group(1, 2, 3))
    rest = match.group(4).lstrip("-+.")
    if not rest:
        return numbers, 1, ""
    # pre-releases (rc, beta, alpha) sort before the release; fixes/builds after it
    pre = re.match(r"(rc|beta|alpha|a|b)\d*", rest.lower())
    return numbers, 0 if pre else 2, rest


def label_verdict(current: str | None, restored: str | None) -> str:
    """The label heuristic. ``ok``: same version or no Dify image at all; ``upgrade``: the rollback
    goes to a newer version (migrations run forward); ``downgrade``: older; ``unknown``: only one
    side is known or the versions cannot be compared."""
    if current is None and restored is None:
        return "ok"
    if current is None or restored is None:
        return "unknown"
    if current.strip().lstrip("v") == restored.strip().lstrip("v"):
        return "ok"
    now, then = version_key(current), version_key(restored)
    if now is None or then is None:
        return "unknown"
    if then[0] == now[0] and then[1] >= 1 and now[1] >= 1:
        return "ok"  # 1.13.3 vs 1.13.3-fix.1: the same upstream release, the same schema
    return "downgrade" if then < now else "upgrade"


def dify_base_version(dockerfile_text: str, build_args: Mapping[str, str] | None = None) -> str | None:
    """The Dify version the Dockerfile starts from: the tag of its ``FROM langgenius/dify-*``
    (``${ARG}`` expanded from global ARG defaults, ``build_args`` winning), else a DIFY_VERSION
    build arg; None when neither says."""
    args: dict[str, str] = {}
    given = dict(build_args or {})
    for instruction, rest in _instructions(dockerfile_text):
        if instruction == "ARG":
            name, sep, default = rest.partition("=")
            name = name.strip()
            value = given.get(name, _unquote(default.strip()) if sep else None)
            if value is not None:
                args[name] = value
        elif instruction == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            if not words:
                continue
            ref = refs.try_parse(_expand(words[0], args))
            if ref is not None and DIFY_BASE.search(ref.path) and ref.tag:
                return ref.tag
    for name in _VERSION_ARGS:
        if given.get(name) or args.get(name):
            return given.get(name) or args.get(name)
    return None


def _instructions(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'" else value


def _expand(word: str, args: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        value = args.get(name)
        if match.group(2) == ":-" and not value:
            return match.group(3)
        return value or ""

    return re.sub(r"\$\{(\w+)(?:(:-)([^}]*))?\}|\$(\w+)", replace, word)


def base_version(client: RegistryClient, ref: refs.ImageRef) -> str | None:
    """The ``io.dify.base-version`` label of ``ref`` in its registry (None when it has none)."""
    from dify_action.registry.labels import image_labels

    reference = ref.digest or ref.tag or "latest"
    return image_labels(client, ref.remote_path, reference).get(BASE_VERSION_LABEL)
