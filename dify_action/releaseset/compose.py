"""A pairing row from Dify's own compose file, and the merge of read rows into the table.

``scripts/refresh-pairings`` fetches ``docker/docker-compose.yaml`` at each release tag of
langgenius/dify and calls ``row_from_compose``; a row read at the tag itself is the best source
there is (``official``), so it replaces what the table held for that release, and says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from dify_action import refs
from dify_action.errors import DifyActionError
from dify_action.releaseset.members import AGENT, AGENT_SANDBOX, API, PLUGIN_DAEMON, SANDBOX, WEB, official_role
from dify_action.releaseset.table import FORMAT, parse


def compose_images(text: str) -> dict[str, set[str]]:
    """role -> the tags the compose file's services run (official images only)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise DifyActionError(f"not a YAML compose file: {error}") from None
    services = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(services, dict):
        raise DifyActionError("not a compose file: no services mapping")
    found: dict[str, set[str]] = {}
    for service in services.values():
        image = service.get("image") if isinstance(service, dict) else None
        ref = refs.try_parse(image) if isinstance(image, str) else None
        role = official_role(ref) if ref is not None else None
        if ref is not None and role is not None and ref.tag:
            found.setdefault(role, set()).add(ref.tag)
    return found


def row_from_compose(text: str, release: str, source: str) -> dict[str, Any]:
    """The table row of ``release`` from the text of its ``docker/docker-compose.yaml``."""
    images = compose_images(text)

    def one(role: str) -> str | None:
        tags = images.get(role, set())
        if len(tags) > 1:
            raise DifyActionError(f"{source}: {role} runs several tags ({', '.join(sorted(tags))})")
        return next(iter(tags), None)

    for role in (API, WEB):
        if one(role) != release:
            raise DifyActionError(f"{source}: {role} runs {one(role)!r}, not the release {release}",
                                  hint="read the compose file at the release tag itself")
    agents = {one(AGENT), one(AGENT_SANDBOX)}
    if agents - {None, release}:
        raise DifyActionError(f"{source}: the agent images run {sorted(a for a in agents if a)}, not {release}")
    return {"release": release, "sandbox": one(SANDBOX), "plugin-daemon": one(PLUGIN_DAEMON),
            "agents": agents == {release}, "confidence": "official", "source": source}


def merge(table: dict[str, Any], rows: Iterable[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """``table`` with ``rows`` (read at release tags) in place of its rows for those releases, sorted;
    and what changed, in words. The result is validated like the shipped table."""
    by_release = {str(r["release"]): dict(r) for r in table["releases"]}
    changes: list[str] = []
    for row in rows:
        old = by_release.get(row["release"])
        pairs = ("sandbox", "plugin-daemon", "agents")
        if old is None:
            changes.append(f"{row['release']}: added")
        elif any(old.get(k) != row.get(k) for k in pairs):
            was = ", ".join(f"{k} {old.get(k)} -> {row.get(k)}" for k in pairs if old.get(k) != row.get(k))
            changes.append(f"{row['release']}: {was} (was {old.get('confidence')}: {old.get('source')})")
        by_release[row["release"]] = row
    ordered = sorted(by_release.values(), key=lambda r: _version_key(str(r["release"])) or ((), 0, ""))
    merged = {**table, "format": FORMAT, "releases": ordered}
    parse(merged, "the refreshed table")
    return merged, changes


def _version_key(text: str) -> tuple[tuple[int, ...], int, str] | None:
    """Dify's version order (dify/versions.py), loaded when a version is compared, not when a bump starts."""
    from dify_action.dify.versions import version_key

    return version_key(text)
