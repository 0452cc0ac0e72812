"""SARIF 2.1.0 for GitHub code scanning, from a scan report.

One run per scanner (trivy, hadolint). Every decided finding is a result: allowed ones carry an
``external`` suppression with the allow-list reason, so code scanning shows them as dismissed.
GitHub reads ``security-severity`` (0-10) on rules to rank findings. Findings inside an image
have no repository file: they point at the component's Dockerfile (``artifact_uri``), and the
path inside the image goes in the message.
Spec: https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html
"""

from __future__ import annotations

import hashlib
from typing import Any

from dify_action import __version__
from dify_action.scan.policy import ALLOWED, FAIL, Finding, ScanReport, Verdict

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SECURITY_SEVERITY = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "3.0", "UNKNOWN": "0.0"}
_LINT_LEVEL = {"error": "error", "warning": "warning", "info": "note", "style": "note"}
_TOOLS = {
    "trivy": "https://github.com/aquasecurity/trivy",
    "hadolint": "https://github.com/hadolint/hadolint",
}


def to_sarif(report: ScanReport, *, artifact_uri: str = "Dockerfile") -> dict[str, Any]:
    """The SARIF log (a JSON-ready dict) of ``report``."""
    runs = []
    for scanner in sorted({v.finding.scanner for v in report.verdicts} | {"trivy"}):
        verdicts = [v for v in report.verdicts if v.finding.scanner == scanner]
        rules: dict[str, dict[str, Any]] = {}
        for verdict in verdicts:
            rules.setdefault(verdict.finding.id, _rule(verdict.finding))
        index = {rule_id: i for i, rule_id in enumerate(rules)}
        runs.append(
            {
                "tool": {
                    "driver": {
                        "name": scanner,
                        "informationUri": _TOOLS.get(scanner, "https://github.com/"),
                        "rules": list(rules.values()),
                        "properties": {"reportedBy": f"dify-action {__version__}"},
                    }
                },
                "results": [_result(v, index[v.finding.id], artifact_uri) for v in verdicts],
                "columnKind": "utf16CodeUnits",
            }
        )
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": runs}


def _rule(finding: Finding) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": finding.id,
        "name": _camel(finding.kind, finding.id),
        "shortDescription": {"text": finding.title or finding.id},
        "fullDescription": {"text": finding.title or finding.id},
        "defaultConfiguration": {"level": _level(finding)},
        "properties": {"tags": ["security", finding.kind], "precision": "very-high"},
    }
    if finding.kind != "lint":
        rule["properties"]["security-severity"] = _SECURITY_SEVERITY[finding.severity]
    if finding.url:
        rule["helpUri"] = finding.url
        rule["help"] = {
            "text": f"{finding.title}\n{finding.url}",
            "markdown": f"[{finding.id}]({finding.url})",
        }
    return rule


def _camel(kind: str, rule_id: str) -> str:
    words = [kind, *rule_id.replace("_", "-").split("-")]
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def _level(finding: Finding) -> str:
    if finding.kind == "lint":
        return _LINT_LEVEL.get(finding.severity, "warning")
    return {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning"}.get(finding.severity, "note")


def _result(verdict: Verdict, rule_index: int, artifact_uri: str) -> dict[str, Any]:
    finding = verdict.finding
    uri = _uri(finding.file or artifact_uri)
    region = {"startLine": finding.line if finding.line and finding.line > 0 else 1}
    message = _message(finding)
    if not finding.file:
        message += f" (in the image: {finding.target})"
    result: dict[str, Any] = {
        "ruleId": finding.id,
        "ruleIndex": rule_index,
        "level": _level(finding) if verdict.decision in (FAIL, ALLOWED) else "note",
        "message": {"text": message},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}],
        "partialFingerprints": {"difyActionFinding/v1": _fingerprint(finding)},
        "properties": {"decision": verdict.decision, "severity": finding.severity},
    }
    if verdict.allow is not None:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": verdict.allow.reason}]
    return result


def _message(finding: Finding) -> str:
    if finding.kind == "vulnerability":
        fixed = f", fixed in {finding.fixed}" if finding.fixed else ", no fix available"
        return f"{finding.id} in {finding.package} {finding.installed}{fixed}: {finding.title}".rstrip(": ")
    if finding.kind == "secret":
        return f"Secret found ({finding.title}); rotate it and remove it from the image or repository"
    return f"{finding.id}: {finding.title}"


def _uri(path: str) -> str:
    # SARIF URIs are relative references with forward slashes; no leading "./".
    text = path.replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    return text.replace(" ", "%20") or "Dockerfile"


def _fingerprint(finding: Finding) -> str:
    parts = [finding.kind, finding.id, finding.target, finding.package or "", finding.installed or ""]
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:32]
