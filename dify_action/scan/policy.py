"""Scan findings and the gate: Trivy / hadolint reports -> findings -> verdicts under a policy.

Pure logic: the scanners themselves run in ``dify_action/scan/tools.py``. Trivy's JSON report
(``SchemaVersion: 2``) is read as Trivy writes it: ``Results[].Vulnerabilities[]``,
``Misconfigurations[]`` and ``Secrets[]`` (https://trivy.dev/latest/docs/configuration/reporting/).
Secret values never leave this module: Trivy masks them and we keep only rule, file and line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dify_action.choices import SEVERITIES
from dify_action.config.load import AllowEntry, ScanPolicy
from dify_action.errors import InputError

HADOLINT_LEVELS = ("style", "info", "warning", "error")
KINDS = {"vulnerability": "vuln", "misconfiguration": "misconfig", "secret": "secret", "lint": "hadolint"}
# Vendor statuses that mean "no fix to install" (Trivy's --ignore-unfixed treats them so too).
_UNFIXED = frozenset({"affected", "will_not_fix", "fix_deferred", "end_of_life", "under_investigation"})

FAIL, ALLOWED, BELOW, UNFIXED, NOT_AFFECTED = "fail", "allowed", "below-threshold", "unfixed", "not-affected"


@dataclass(frozen=True)
class Finding:
    """One problem. ``severity`` is Trivy's scale, or hadolint's level for ``kind == "lint"``.

    ``file`` is a repository file (a Dockerfile) when the finding points at one; ``target`` is
    what the scanner named (a path inside the image, ``image (debian 12.5)``, ...).
    """

    kind: str
    id: str
    severity: str
    title: str
    scanner: str
    target: str
    package: str | None = None
    installed: str | None = None
    fixed: str | None = None
    status: str | None = None
    file: str | None = None
    line: int | None = None
    url: str | None = None
    aliases: tuple[str, ...] = ()

    def matches(self, entry: AllowEntry) -> bool:
        ids = {self.id.upper(), *(a.upper() for a in self.aliases)}
        return entry.id.upper() in ids and (entry.package is None or entry.package == self.package)

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, ())}


@dataclass(frozen=True)
class Verdict:
    finding: Finding
    decision: str
    allow: AllowEntry | None = None

    @property
    def blocking(self) -> bool:
        return self.decision == FAIL


@dataclass(frozen=True)
class SkippedScanner:
    scanner: str
    reason: str


@dataclass(frozen=True)
class ScanReport:
    """The gate's result: every finding with its decision, expired allow entries, skips."""

    policy: ScanPolicy
    verdicts: tuple[Verdict, ...]
    expired: tuple[AllowEntry, ...] = ()
    skipped: tuple[SkippedScanner, ...] = ()
    ran: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        # a gate that ran no check never passes (issue 23): skipped or disabled scanners pass nothing
        return not self.blocking and bool(self.ran)

    def failure(self) -> str | None:
        """Why the gate did not pass, in words (None: it passed)."""
        if not self.ran:
            why = "; ".join(f"{s.scanner} {s.reason}" for s in self.skipped) or (
                "every scanner it needed is disabled (scan.scanners) or there was nothing to scan")
            return f"no check ran: {why}; a gate that ran no check never passes"
        n = len(self.blocking)
        return f"{n} blocking finding{'s' * (n != 1)}" if n else None

    @property
    def blocking(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.blocking)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{kind: {decision: n}}`` for every kind that has findings."""
        table: dict[str, dict[str, int]] = {}
        for verdict in self.verdicts:
            row = table.setdefault(verdict.finding.kind, {})
            row[verdict.decision] = row.get(verdict.decision, 0) + 1
        return table

    def as_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "blocking": len(self.blocking),
            "counts": self.counts(),
            "findings": [
                {
                    **v.finding.as_dict(),
                    "decision": v.decision,
                    **({"reason": v.allow.reason} if v.allow else {}),
                }
                for v in self.verdicts
            ],
            "expired_allow_entries": [
                {"id": e.id, "reason": e.reason, "expires": e.expires.isoformat() if e.expires else None}
                for e in self.expired
            ],
            "skipped_scanners": [{"scanner": s.scanner, "reason": s.reason} for s in self.skipped],
            "scanners_run": list(self.ran),
        }


def parse_trivy(report: object, *, source: str = "trivy report", file: str | None = None) -> list[Finding]:
    """Findings from a Trivy JSON report; ``file`` pins every finding to a repository file."""
    if not isinstance(report, dict) or not isinstance(report.get("Results", []), list):
        raise InputError("trivy-report", source, "a Trivy JSON report (trivy image|fs|config --format json)")
    findings: list[Finding] = []
    for result in report.get("Results") or []:
        if not isinstance(result, dict):
            continue
        target = str(result.get("Target", ""))
        for vuln in result.get("Vulnerabilities") or []:
            findings.append(
                Finding(
                    kind="vulnerability",
                    id=str(vuln.get("VulnerabilityID", "?")),
                    severity=_severity(vuln.get("Severity")),
                    title=str(vuln.get("Title") or vuln.get("Description") or "")[:200],
                    scanner="trivy",
                    target=target,
                    package=vuln.get("PkgName"),
                    installed=vuln.get("InstalledVersion"),
                    fixed=vuln.get("FixedVersion") or None,
                    status=vuln.get("Status"),
                    file=file,
                    url=vuln.get("PrimaryURL"),
                )
            )
        for misconf in result.get("Misconfigurations") or []:
            if misconf.get("Status", "FAIL") != "FAIL":
                continue  # PASS / EXCEPTION entries appear with --include-non-failures
            cause = misconf.get("CauseMetadata") or {}
            findings.append(
                Finding(
                    kind="misconfiguration",
                    id=str(misconf.get("ID") or misconf.get("AVDID") or "?"),
                    severity=_severity(misconf.get("Severity")),
                    title=str(misconf.get("Title") or misconf.get("Message") or ""),
                    scanner="trivy",
                    target=target,
                    file=file,
                    line=cause.get("StartLine") or None,
                    url=misconf.get("PrimaryURL"),
                    aliases=tuple(str(a) for a in (misconf.get("AVDID"),) if a),
                )
            )
        for secret in result.get("Secrets") or []:
            findings.append(
                Finding(
                    kind="secret",
                    id=str(secret.get("RuleID", "?")),
                    severity=_severity(secret.get("Severity")),
                    title=str(secret.get("Title") or secret.get("Category") or "secret"),
                    scanner="trivy",
                    target=target,
                    file=file,
                    line=secret.get("StartLine") or None,
                )
            )
    return findings


def parse_hadolint(items: object, *, file: str) -> list[Finding]:
    """Findings from ``hadolint --format json`` output for the Dockerfile ``file``."""
    if not isinstance(items, list):
        raise InputError("hadolint output", type(items).__name__, "a JSON list (hadolint --format json)")
    return [
        Finding(
            kind="lint",
            id=str(item.get("code", "?")),
            severity=str(item.get("level", "warning")),
            title=str(item.get("message", "")),
            scanner="hadolint",
            target=file,
            file=file,
            line=item.get("line"),
            url=f"https://github.com/hadolint/hadolint/wiki/{item['code']}"
            if str(item.get("code", "")).startswith("DL")
            else None,
        )
        for item in items
        if isinstance(item, dict)
    ]


def _severity(value: object) -> str:
    text = str(value or "UNKNOWN").upper()
    return text if text in SEVERITIES else "UNKNOWN"


def evaluate(
    findings: Iterable[Finding],
    policy: ScanPolicy,
    *,
    today: dt.date,
    skipped: Sequence[SkippedScanner] = (),
    ran: Sequence[str] = (),
) -> ScanReport:
    """Decide every finding under ``policy``. Expired allow entries stop applying and are listed."""
    active = [e for e in policy.allow if e.expires is None or e.expires >= today]
    expired = tuple(e for e in policy.allow if e.expires is not None and e.expires < today)
    enabled = {name for name in KINDS.values() if getattr(policy.scanners, name)}
    verdicts: list[Verdict] = []
    seen: set[tuple[object, ...]] = set()
    for finding in findings:
        key = (finding.kind, finding.id, finding.target, finding.package, finding.installed, finding.line)
        if key in seen or KINDS.get(finding.kind, finding.kind) not in enabled:
            continue
        seen.add(key)
        entry = next((e for e in active if finding.matches(e)), None)
        verdicts.append(Verdict(finding, _decide(finding, policy) if entry is None else ALLOWED, entry))
    order = {FAIL: 0, ALLOWED: 1, UNFIXED: 2, NOT_AFFECTED: 3, BELOW: 4}
    verdicts.sort(key=lambda v: (order[v.decision], -_rank(v.finding), v.finding.kind, v.finding.id))
    return ScanReport(policy, tuple(verdicts), expired, tuple(skipped), tuple(ran))


def _rank(finding: Finding) -> int:
    if finding.kind == "lint":
        return HADOLINT_LEVELS.index(finding.severity) if finding.severity in HADOLINT_LEVELS else 0
    return SEVERITIES.index(finding.severity)


def _decide(finding: Finding, policy: ScanPolicy) -> str:
    if finding.kind == "secret":
        return FAIL  # a secret in an image is never "low": only an allow-list entry accepts it
    if finding.kind == "lint":
        return FAIL if _rank(finding) >= HADOLINT_LEVELS.index(policy.hadolint_level) else BELOW
    if finding.kind == "vulnerability":
        if (finding.status or "").lower() == "not_affected":
            return NOT_AFFECTED
        if policy.ignore_unfixed and not finding.fixed and (finding.status or "affected") in _UNFIXED:
            return UNFIXED
    return FAIL if _rank(finding) >= SEVERITIES.index(policy.severity) else BELOW


def expired_matches(report: ScanReport) -> Mapping[str, int]:
    """How many findings each expired allow entry would still have matched (by entry id)."""
    return {e.id: sum(1 for v in report.verdicts if v.finding.matches(e)) for e in report.expired}
