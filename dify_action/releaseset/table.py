"""The pairing table: which sandbox, plugin-daemon and agent images each Dify release runs.

Shipped as package data (``pairings.json``, refreshed by ``scripts/refresh-pairings`` from Dify's
compose files); every row names its source and how sure it is. A release missing from the table is
*unknown*, never a mismatch: ``lookup`` says whether it falls in a gap, before the table, or after
its last row (a newer Dify than the table knows is not an error).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from dify_action.errors import DifyActionError
from dify_action.releaseset.members import AGENT, AGENT_SANDBOX, API, PLUGIN_DAEMON, SANDBOX, WEB

FORMAT = "dify-action/pairings 1"
CONFIDENCE = ("official", "chart", "third-party")


@dataclass(frozen=True)
class Pairing:
    """One release: the tag each member runs, None when not established (``agents`` None: whether the
    release runs the agent images is not established)."""

    release: str
    sandbox: str | None
    plugin_daemon: str | None
    agents: bool | None
    confidence: str
    source: str
    note: str = ""

    def expected(self, role: str) -> str | None:
        """The tag ``role`` runs in this release (None: unknown or not part of it; see ``includes``)."""
        if role in (API, WEB):
            return self.release
        if role in (AGENT, AGENT_SANDBOX):
            return self.release if self.agents else None
        return self.sandbox if role == SANDBOX else self.plugin_daemon if role == PLUGIN_DAEMON else None

    def includes(self, role: str) -> bool | None:
        """Is ``role`` part of the release (None: not established)?"""
        return self.agents if role in (AGENT, AGENT_SANDBOX) else True

    def as_dict(self) -> dict[str, Any]:
        return {"release": self.release, "sandbox": self.sandbox, "plugin-daemon": self.plugin_daemon,
                "agents": self.agents, "confidence": self.confidence, "source": self.source,
                **({"note": self.note} if self.note else {})}


@dataclass(frozen=True)
class Lookup:
    """The answer for one release: its row, or where it falls (gap | older | newer | unversioned)."""

    release: str
    pairing: Pairing | None
    position: str

    def explain(self, table: PairingTable) -> str:
        if self.pairing is not None:
            return f"{self.release} pairs by {self.pairing.confidence} source: {self.pairing.source}"
        return {"newer": f"the pairing table ends at {table.last}: {self.release} is newer, its sandbox and "
                         "plugin-daemon pairing is not known yet (refresh the table)",
                "older": f"the pairing table starts at {table.first}: {self.release} is older",
                "gap": f"the pairing table has no row for {self.release} (between known releases)",
                }.get(self.position, f"{self.release} is not a Dify release version")


@dataclass(frozen=True)
class PairingTable:
    releases: tuple[Pairing, ...]
    agents_since: str

    @property
    def first(self) -> str:
        return self.releases[0].release

    @property
    def last(self) -> str:
        return self.releases[-1].release

    def lookup(self, release: str) -> Lookup:
        key = _version_key(release)
        if key is None:
            return Lookup(release, None, "unversioned")
        for row in self.releases:
            if _version_key(row.release) == key:
                return Lookup(release, row, "known")
        keys = [_version_key(r.release) for r in self.releases]
        position = "older" if key < min(k for k in keys if k) else "newer" if key > max(k for k in keys if k) \
            else "gap"
        return Lookup(release, None, position)

    def runs_agents(self, release: str) -> bool | None:
        """Does ``release`` run the agent images: its row says, else the rule (from ``agents_since``)."""
        found = self.lookup(release)
        if found.pairing is not None and found.pairing.agents is not None:
            return found.pairing.agents
        key, since = _version_key(release), _version_key(self.agents_since)
        return None if key is None or since is None else key >= since

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "agents-since": self.agents_since, "releases": [r.as_dict() for r in self.releases]}


def parse(doc: Any, source: str) -> PairingTable:
    """A table from its JSON document; DifyActionError naming the row when one is malformed."""
    def bad(why: str) -> DifyActionError:
        return DifyActionError(f"the pairing table {source} is malformed: {why}",
                               hint="regenerate it with scripts/refresh-pairings")

    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("releases"), list):
        raise bad(f"not a {FORMAT!r} document")
    rows: list[Pairing] = []
    for index, raw in enumerate(doc["releases"]):
        if not isinstance(raw, dict) or _version_key(str(raw.get("release"))) is None:
            raise bad(f"releases[{index}] has no release version")
        if raw.get("confidence") not in CONFIDENCE or not raw.get("source"):
            raise bad(f"releases[{index}] ({raw['release']}) needs a source and a confidence of {CONFIDENCE}")
        rows.append(Pairing(str(raw["release"]), raw.get("sandbox"), raw.get("plugin-daemon"), raw.get("agents"),
                            raw["confidence"], str(raw["source"]), str(raw.get("note") or "")))
    keys = [_version_key(r.release) for r in rows]
    if not rows or keys != sorted(keys) or len(set(keys)) != len(keys):  # type: ignore[type-var]
        raise bad("releases must be non-empty, sorted by version and unique")
    return PairingTable(tuple(rows), str(doc.get("agents-since") or "1.16.0-rc1"))


@cache
def load() -> PairingTable:
    """The table shipped with the package."""
    text = resources.files("dify_action.releaseset").joinpath("pairings.json").read_text("utf-8")
    return parse(json.loads(text), "dify_action/releaseset/pairings.json")


def _version_key(text: str) -> tuple[tuple[int, ...], int, str] | None:
    """Dify's version order (dify/versions.py), loaded when a version is compared, not when a bump starts."""
    from dify_action.dify.versions import version_key

    return version_key(text)
