"""The checks of a set after a change: skew, unpaired members, missing members, a plugin-daemon downgrade.

Each finding names the component, its version and the one expected. A finding the set already had
before the change is reported, not blocking: a change is refused for what it breaks, not for what it
leaves as it was. What cannot be judged (a version no tag or fact says, a release the table does not
know) is a note, never a mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from dify_action.releaseset.members import (
    AGENT,
    AGENT_SANDBOX,
    API,
    PAIRED,
    PLUGIN_DAEMON,
    RELEASE_TAGGED,
    SANDBOX,
    WEB,
    Member,
    numbers,
    same_version,
)
from dify_action.releaseset.view import ReleaseSet

if TYPE_CHECKING:  # the table (json, package data) loads only when a set is judged
    from dify_action.releaseset.table import Lookup, PairingTable

KINDS = ("skew", "unpaired", "missing", "downgrade", "start-migrations")
DAEMON_DOWNGRADE = (
    "the plugin daemon migrates its own database (dify_plugin) with GORM AutoMigrate: additive, no version "
    "table, no downgrade; an older daemon on a newer dify_plugin schema is untested upstream. Back up the "
    "dify_plugin database first")


@dataclass(frozen=True)
class Finding:
    """One problem of the set, for every place it shows (``places``). ``blocking``: refused unless
    allowed; ``preexisting``: the set had it before the change (reported, never blocking)."""

    kind: str
    role: str
    found: str | None
    expected: str | None
    message: str
    places: tuple[str, ...] = ()
    blocking: bool = True
    preexisting: bool = False

    @property
    def key(self) -> tuple[str, str, str | None, str | None]:
        return self.kind, self.role, self.found, self.expected

    def text(self) -> str:
        where = f" ({_places(self.places)})" if self.places else ""
        state = " (already so before this change)" if self.preexisting else "" if self.blocking else " (warning)"
        return f"{self.message}{where}{state}"

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "component": self.role, "found": self.found, "expected": self.expected,
                "message": self.message, "places": list(self.places), "blocking": self.blocking,
                "preexisting": self.preexisting}


def _places(places: tuple[str, ...]) -> str:
    shown = ", ".join(places[:3])
    return shown + (f" and {len(places) - 3} more" if len(places) > 3 else "")


@dataclass(frozen=True)
class SetReport:
    """The set before and after a change, what was found, and what could not be judged."""

    before: ReleaseSet
    after: ReleaseSet
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    lookup: Lookup | None = None
    pairing_note: str = ""  # the table's answer for the release, in words

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.blocking)

    @property
    def touched(self) -> bool:
        return self.before != self.after

    def as_dict(self) -> dict[str, object]:
        return {"release": {"before": self.before.release, "after": self.after.release},
                "pairing": self.lookup.pairing.as_dict() if self.lookup and self.lookup.pairing else None,
                "before": self.before.as_dict()["members"], "after": self.after.as_dict()["members"],
                "findings": [f.as_dict() for f in self.findings], "notes": list(self.notes)}


def _grouped(items: list[tuple[Member, str | None, str]], kind: str) -> list[Finding]:
    """One finding per (role, found, expected), listing every place."""
    out: dict[tuple[str, str | None, str | None], Finding] = {}
    for member, expected, message in items:
        key = (member.role, member.version, expected)
        place = f"{member.place} {member.where}"
        if key in out:
            out[key] = replace(out[key], places=(*out[key].places, place))
        else:
            out[key] = Finding(kind, member.role, member.version, expected, message, (place,))
    return list(out.values())


def _skew(found: ReleaseSet, release: str) -> list[Finding]:
    return _grouped([(m, release, f"{m.role} runs Dify {m.version} but the set's api runs {release}")
                     for m in found.members if m.role in RELEASE_TAGGED and m.version
                     and not same_version(m.role, m.version, release)], "skew")


def _unpaired(found: ReleaseSet, lookup: Lookup, notes: list[str]) -> list[Finding]:
    items: list[tuple[Member, str | None, str]] = []
    pairing = lookup.pairing
    for m in (m for m in found.members if m.role in PAIRED):
        expected = pairing.expected(m.role) if pairing else None
        if m.version is None:
            notes.append(f"{m.role} {m.ref}: not an upstream {m.role} tag, version unknown")
        elif expected is None:
            notes.append(f"{m.role} {m.version}: its pairing with Dify {lookup.release} is unknown")
        elif not same_version(m.role, m.version, expected):
            items.append((m, expected, f"{m.role} {m.version} is not what Dify {lookup.release} pairs: {expected} "
                                       f"({pairing.confidence if pairing else ''} source)"))
    return _grouped(items, "unpaired")


def _missing(found: ReleaseSet, release: str, table: PairingTable) -> list[Finding]:
    wanted = [API, WEB, SANDBOX, PLUGIN_DAEMON]
    if table.runs_agents(release):
        wanted += [AGENT, AGENT_SANDBOX]
    return [Finding("missing", role, None, release, f"Dify {release} runs {role} (langgenius/dify-{role}) and the "
                    "environment deploys none")
            for role in wanted if not found.role(role)]


def _downgrades(before: ReleaseSet, after: ReleaseSet, lookup: Lookup | None) -> list[Finding]:
    items: list[tuple[Member, str | None, str]] = []
    pairing = lookup.pairing if lookup else None
    for m in after.role(PLUGIN_DAEMON):
        was = next((b for b in before.role(PLUGIN_DAEMON) if b.slot == m.slot), None)
        old, new = (numbers(PLUGIN_DAEMON, was.version or "") if was else None), numbers(PLUGIN_DAEMON, m.version or "")
        if was is None or old is None or new is None or new >= old:
            continue
        own = pairing is not None and pairing.plugin_daemon is not None and \
            same_version(PLUGIN_DAEMON, m.version or "", pairing.plugin_daemon)
        why = (f" ({m.version} is Dify {pairing.release}'s own pairing: upstream itself moved the daemon back"
               + ("" if pairing.release == "1.13.3" else ", as from 0.5.4-local to 0.5.3-local at 1.13.3") + ")"
               ) if own and pairing else ""
        items.append((m, was.version, f"plugin-daemon moves back from {was.version} to {m.version}{why}: "
                                      f"{DAEMON_DOWNGRADE}"))
    return _grouped(items, "downgrade")


def findings_of(found: ReleaseSet, table: PairingTable, notes: list[str]) -> tuple[list[Finding], Lookup | None]:
    """Every finding of one set on its own (no before/after), and the table's answer for its release."""
    release = found.release
    if release is None:
        if found.members:
            notes.append("no member says which Dify release the set runs: only what can be compared is checked")
        return [], None
    lookup = table.lookup(release)
    if lookup.pairing is None:
        notes.append(lookup.explain(table))
    out = _skew(found, release)
    if lookup.position != "unversioned":
        out += _unpaired(found, lookup, notes)
        if lookup.position != "older":
            out += _missing(found, release, table)
    return out, lookup


def evaluate(before: ReleaseSet, after: ReleaseSet, table: PairingTable) -> SetReport:
    """Check ``after``; findings ``before`` already had are kept, marked pre-existing (not blocking)."""
    notes: list[str] = []
    found, lookup = findings_of(after, table, notes)
    old, _ = findings_of(before, table, [])
    had = {f.key for f in old}
    missing_before = {f.role for f in old if f.kind == "missing"}
    kept = [replace(f, blocking=False, preexisting=True) if f.key in had or _missing_before(f, before, missing_before)
            else f for f in found]
    kept += _downgrades(before, after, lookup)
    unknown = dict.fromkeys(f"{m.role} {m.ref}" for m in after.members
                            if m.version is None and m.role in RELEASE_TAGGED)
    notes += [f"{what}: Dify version unknown (not an upstream release tag, and no recorded facts or "
              "io.dify.base-version label say it)" for what in unknown]
    return SetReport(before, after, tuple(kept), tuple(dict.fromkeys(notes)), lookup,
                     lookup.explain(table) if lookup else "")


def _missing_before(finding: Finding, before: ReleaseSet, missing_before: set[str]) -> bool:
    """A role the change did not make necessary: the set lacked it before, and either its release needed it
    already or no member said which release it ran (the change removed nothing)."""
    if finding.kind != "missing" or before.role(finding.role):
        return False
    return finding.role in missing_before or before.release is None


def describe(findings: tuple[Finding, ...] | list[Finding]) -> str:
    return "; ".join(f.text() for f in findings)


