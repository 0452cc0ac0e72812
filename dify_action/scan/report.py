"""The Markdown summary of a scan (for ``$GITHUB_STEP_SUMMARY`` or a terminal)."""

from __future__ import annotations

from dify_action.markdown import code, escape, is_url
from dify_action.scan.policy import ALLOWED, BELOW, FAIL, NOT_AFFECTED, UNFIXED, Finding, ScanReport, expired_matches

MAX_ROWS = 50
_COLUMNS = (
    (FAIL, "Blocking"),
    (ALLOWED, "Allowed"),
    (BELOW, "Below threshold"),
    (UNFIXED, "Unfixed, ignored"),
    (NOT_AFFECTED, "Not affected"),
)
_KIND_TITLES = {
    "vulnerability": "Vulnerabilities",
    "misconfiguration": "Misconfigurations",
    "secret": "Secrets",
    "lint": "Dockerfile lint (hadolint)",
}


def markdown(report: ScanReport, *, title: str = "Scan") -> str:
    """A summary: verdict, policy, counts, blocking and allowed findings, expiries, skips."""
    policy = report.policy
    blocking = report.blocking
    head = "passed" if report.passed else f"failed: {escape(report.failure() or '')}"
    lines = [f"### {title} {head}", ""]
    lines.append(
        f"Policy: fail at **{policy.severity}** or above; "
        f"ignore unfixed: **{'yes' if policy.ignore_unfixed else 'no'}**; secrets always fail; "
        f"hadolint fails at **{policy.hadolint_level}**; "
        f"{len(policy.allow)} allow-list entr{'y' if len(policy.allow) == 1 else 'ies'}."
    )
    lines.append("")
    counts = report.counts()
    if counts:
        lines += [
            "| Findings | " + " | ".join(name for _, name in _COLUMNS) + " |",
            "| --- |" + " ---: |" * len(_COLUMNS),
        ]
        for kind, row in counts.items():
            cells = " | ".join(str(row.get(decision, 0)) for decision, _ in _COLUMNS)
            lines.append(f"| {_KIND_TITLES.get(kind) or _cell(kind)} | {cells} |")
    else:
        lines.append("No findings.")
    lines.append("")
    if blocking:
        lines += [
            "#### Blocking findings",
            "",
            "| Severity | ID | Kind | Where | Package | Installed | Fixed | Title |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        lines += [_row(v.finding) for v in blocking[:MAX_ROWS]]
        if len(blocking) > MAX_ROWS:
            lines.append(f"\n...and {len(blocking) - MAX_ROWS} more (see the SARIF or JSON report).")
        lines.append("")
    allowed = [v for v in report.verdicts if v.decision == ALLOWED]
    if allowed:
        lines += [
            "#### Allowed by the allow-list",
            "",
            "| ID | Where | Reason | Expires |",
            "| --- | --- | --- | --- |",
        ]
        for verdict in allowed[:MAX_ROWS]:
            entry = verdict.allow
            expires = entry.expires.isoformat() if entry and entry.expires else "never"
            reason = _cell(entry.reason if entry else "")
            where = _where(verdict.finding)
            lines.append(f"| {_cell(verdict.finding.id)} | {where} | {reason} | {expires} |")
        lines.append("")
    if report.expired:
        matches = expired_matches(report)
        lines += ["#### Expired allow-list entries (no longer applied)", ""]
        for entry in report.expired:
            expires = entry.expires.isoformat() if entry.expires else ""
            lines.append(
                f"- {code(' '.join(entry.id.split()))} expired on {expires} ({_cell(entry.reason)}): "
                f"matches {matches.get(entry.id, 0)} finding(s) now judged by the policy"
            )
        lines.append("")
    if report.skipped:
        lines += ["#### Skipped scanners", ""]
        lines += [f"- **{_cell(s.scanner)}** was skipped: {_cell(s.reason)}" for s in report.skipped]
        lines.append("")
    if report.ran:
        lines += ["<details><summary>Scanners run</summary>", ""]
        lines += [f"- {_cell(item)}" for item in report.ran]
        lines += ["", "</details>", ""]
    return "\n".join(lines)


def _row(finding: Finding) -> str:
    cells = [
        _cell(finding.severity),
        f"[{_cell(finding.id)}]({finding.url})" if finding.url and is_url(finding.url) else _cell(finding.id),
        _cell(finding.kind),
        _where(finding),
        _cell(finding.package or ""),
        _cell(finding.installed or ""),
        _cell(finding.fixed or ""),
        _cell(finding.title, 100),
    ]
    return "| " + " | ".join(cells) + " |"


def _where(finding: Finding) -> str:
    place = finding.file or finding.target
    return _cell(f"{place}:{finding.line}" if finding.line else place, 80)


def _cell(text: str, limit: int = 200) -> str:
    """Scanner text (from the image and the report: untrusted) on one line, escaped for Markdown."""
    return escape(" ".join(str(text).split()), limit)
