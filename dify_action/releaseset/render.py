"""The set before and after a change as one table (component, from, to, paired?), and as log lines."""

from __future__ import annotations

from dify_action.markdown import code, escape, row
from dify_action.releaseset.checks import SetReport
from dify_action.releaseset.members import PAIRED, RELEASE_TAGGED, ROLES, same_version
from dify_action.releaseset.upgrade import MigrationMode, upgrade_markdown

ICONS = {"yes": "✅", "no": "⛔", "unknown": "❔", "missing": "⚠️"}


def paired(report: SetReport, role: str) -> str:
    """yes | no | unknown | missing: does ``role`` after the change run what the release pairs?"""
    members = report.after.role(role)
    blocking = {f.role for f in report.findings if f.kind in ("skew", "unpaired") and f.found in
                {m.version for m in members}}
    if not members:
        return "missing" if any(f.kind == "missing" and f.role == role for f in report.findings) else "unknown"
    if role in blocking:
        return "no"
    release = report.after.release
    if any(m.version is None for m in members) or release is None:
        return "unknown"
    if role in RELEASE_TAGGED:
        return "yes" if all(same_version(role, m.version or "", release) for m in members) else "no"
    expected = report.lookup.pairing.expected(role) if report.lookup and report.lookup.pairing else None
    if role in PAIRED and expected is None:
        return "unknown"
    return "yes"


def rows(report: SetReport) -> list[tuple[str, str, str, str]]:
    """(component, from, to, paired) for every role either side deploys or the release needs."""
    needed = {f.role for f in report.findings if f.kind == "missing"}
    roles = [r for r in ROLES if report.before.role(r) or report.after.role(r) or r in needed]
    return [(r, report.before.summary(r), report.after.summary(r), paired(report, r)) for r in roles]


def markdown(report: SetReport, *, allowed: bool = False, migrations: MigrationMode | None = None) -> str:
    """The PR body / step summary section; every value escaped."""
    if not report.before.members and not report.after.members:
        return ""
    old, new = report.before.release, report.after.release
    lines = ["### Dify release set", "",
             f"Release: {code(old or 'unknown')} → {code(new or 'unknown')}", "",
             row("Component", "From", "To", "Paired?"), row("---", "---", "---", "---")]
    lines += [row(escape(c), code(a), code(b), f"{ICONS[p]} {p}") for c, a, b, p in rows(report)]
    if report.pairing_note:
        lines += ["", f"Pairing: {escape(report.pairing_note)}"]
    if report.findings:
        lines += ["", "> [!CAUTION]" if report.blocking and not allowed else "> [!WARNING]"]
        lines += [f"> - **{escape(f.kind)}** {escape(f.text())}" for f in report.findings]
        if report.blocking and allowed:
            lines.append("> Overridden with `allow-version-skew`.")
    if report.notes:
        lines += ["", *(f"- {escape(n)}" for n in report.notes)]
    if migrations is not None and old != new and (old or new) and any(report.after.role("api")):
        lines += ["", "#### Upgrade", "", upgrade_markdown(migrations, old, new)]
    return "\n".join(lines) + "\n"


def text(report: SetReport) -> list[str]:
    """Log lines: the release, one line per component, then the findings."""
    out = [f"Dify release set: {report.before.release or 'unknown'} -> {report.after.release or 'unknown'}"]
    out += [f"  {c}: {a} -> {b} (paired: {p})" for c, a, b, p in rows(report)]
    out += [f"  {f.kind}: {f.text()}" for f in report.findings]
    return out

