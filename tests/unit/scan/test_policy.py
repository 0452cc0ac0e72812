"""The scan gate from hand-made Trivy reports (Trivy's real JSON schema): thresholds, unfixed,
allow-list with reasons and expiry, secrets, hadolint levels, Markdown summary, SARIF."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dify_action.config.load import AllowEntry, Scanners, ScanPolicy
from dify_action.errors import InputError
from dify_action.markdown import escape
from dify_action.scan import policy as scan
from dify_action.scan import report as scanreport
from dify_action.scan import sarif

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "trivy"
RAN = ("trivy report",)  # a report from a run that checked something
TODAY = dt.date(2026, 6, 15)


def _report(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return loaded


def _raw_entries(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The fixture's own entries by kind, read independently of the parser under test."""
    out: dict[str, list[dict[str, Any]]] = {"vulnerability": [], "misconfiguration": [], "secret": []}
    for result in report["Results"]:
        out["vulnerability"] += result.get("Vulnerabilities") or []
        out["misconfiguration"] += [m for m in result.get("Misconfigurations") or [] if m["Status"] == "FAIL"]
        out["secret"] += result.get("Secrets") or []
    return out


@pytest.fixture
def api_findings() -> list[scan.Finding]:
    return scan.parse_trivy(_report("dify-api-image.json"))


def _ids(verdicts: tuple[scan.Verdict, ...] | list[scan.Verdict], decision: str | None = None) -> set[str]:
    return {v.finding.id for v in verdicts if decision is None or v.decision == decision}


def _expected_blocking(raw: dict[str, list[dict[str, Any]]], threshold: str, ignore_unfixed: bool) -> set[str]:
    """An independent statement of the policy, applied to the raw fixture."""
    floor = scan.SEVERITIES.index(threshold)
    out = {s["RuleID"] for s in raw["secret"]}
    out |= {m["ID"] for m in raw["misconfiguration"] if scan.SEVERITIES.index(m["Severity"]) >= floor}
    for vuln in raw["vulnerability"]:
        if ignore_unfixed and not vuln.get("FixedVersion"):
            continue
        if scan.SEVERITIES.index(vuln["Severity"]) >= floor:
            out.add(vuln["VulnerabilityID"])
    return out


def test_parse_reads_every_entry_of_the_real_schema(api_findings: list[scan.Finding]) -> None:
    raw = _raw_entries(_report("dify-api-image.json"))
    by_kind = {kind: [f for f in api_findings if f.kind == kind] for kind in raw}
    assert {k: len(v) for k, v in by_kind.items()} == {k: len(v) for k, v in raw.items()}
    for finding, vuln in zip(by_kind["vulnerability"], raw["vulnerability"], strict=True):
        assert (
            finding.id,
            finding.package,
            finding.installed,
            finding.fixed,
            finding.status,
            finding.severity,
        ) == (
            vuln["VulnerabilityID"],
            vuln["PkgName"],
            vuln["InstalledVersion"],
            vuln.get("FixedVersion"),
            vuln["Status"],
            vuln["Severity"],
        )
    ds2 = next(f for f in by_kind["misconfiguration"] if f.id == "DS-0002")
    assert ds2.line == 5 and ds2.url and ds2.severity == "HIGH"
    secret = by_kind["secret"][0]
    assert (secret.id, secret.target, secret.line) == ("aws-access-key-id", "/app/api/.env", 3)
    # Nothing of the matched text is kept, even masked.
    assert "AWS_ACCESS_KEY_ID" not in json.dumps([f.as_dict() for f in api_findings])


@pytest.mark.parametrize("threshold", scan.SEVERITIES)
@pytest.mark.parametrize("ignore_unfixed", [False, True])
def test_threshold_and_ignore_unfixed(api_findings: list[scan.Finding], threshold: str, ignore_unfixed: bool) -> None:
    policy = ScanPolicy(severity=threshold, ignore_unfixed=ignore_unfixed)
    report = scan.evaluate(api_findings, policy, today=TODAY, ran=RAN)
    expected = _expected_blocking(_raw_entries(_report("dify-api-image.json")), threshold, ignore_unfixed)
    assert _ids(report.blocking) == expected
    assert report.passed is (not expected)
    assert len(report.verdicts) == len(api_findings)
    if ignore_unfixed:
        assert {"CVE-2023-45853", "CVE-2024-2511"} <= _ids(report.verdicts, scan.UNFIXED)


def test_secrets_fail_below_the_threshold() -> None:
    finding = scan.Finding("secret", "private-key", "HIGH", "Asymmetric Private Key", "trivy", "/root/.ssh/id_rsa")
    report = scan.evaluate([finding], ScanPolicy(severity="CRITICAL"), today=TODAY, ran=RAN)
    assert not report.passed and report.blocking[0].finding is finding


def test_allow_list_with_reason_package_and_expiry(api_findings: list[scan.Finding]) -> None:
    allow = (
        AllowEntry("cve-2024-6119", "libssl3 fix is in the next base image", TODAY),  # expires today: applies
        AllowEntry("CVE-2024-6345", "setuptools is build-only", TODAY - dt.timedelta(days=1)),  # expired
        AllowEntry("CVE-2024-35195", "not our requests", None, package="urllib3"),  # other package
        AllowEntry("aws-access-key-id", "a documented fake key for tests", None),
        AllowEntry("AVD-DS-0002", "unused alias form", None),
    )
    report = scan.evaluate(api_findings, ScanPolicy(allow=allow), today=TODAY, ran=RAN)
    allowed = {v.finding.id: v.allow for v in report.verdicts if v.decision == scan.ALLOWED}
    assert set(allowed) == {"CVE-2024-6119", "aws-access-key-id"}
    assert allowed["CVE-2024-6119"] == allow[0]
    assert "CVE-2024-6345" in _ids(report.blocking)  # the expired entry no longer applies
    assert report.expired == (allow[1],)
    assert scan.expired_matches(report) == {"CVE-2024-6345": 1}
    assert "CVE-2024-35195" not in allowed


def test_misconfig_allowed_by_its_avd_alias() -> None:
    finding = scan.parse_trivy(
        {
            "SchemaVersion": 2,
            "Results": [
                {
                    "Target": "Dockerfile",
                    "Class": "config",
                    "Misconfigurations": [
                        {
                            "ID": "DS002",
                            "AVDID": "AVD-DS-0002",
                            "Title": "root",
                            "Severity": "HIGH",
                            "Status": "FAIL",
                        }
                    ],
                }
            ],
        }
    )
    allow = (AllowEntry("AVD-DS-0002", "base needs root"),)
    report = scan.evaluate(finding, ScanPolicy(allow=allow), today=TODAY, ran=RAN)
    assert report.passed and report.verdicts[0].decision == scan.ALLOWED


def test_disabled_scanners_drop_their_findings_and_duplicates_count_once(
    api_findings: list[scan.Finding],
) -> None:
    policy = ScanPolicy(severity="LOW", scanners=Scanners(vuln=False, secret=False))
    report = scan.evaluate(api_findings + api_findings, policy, today=TODAY, ran=RAN)
    assert {v.finding.kind for v in report.verdicts} == {"misconfiguration"}
    assert len(report.verdicts) == len([f for f in api_findings if f.kind == "misconfiguration"])


def test_not_affected_never_blocks() -> None:
    finding = scan.Finding("vulnerability", "CVE-1", "CRITICAL", "t", "trivy", "x", "p", "1", None, "not_affected")
    assert scan.evaluate([finding], ScanPolicy(), today=TODAY, ran=RAN).verdicts[0].decision == scan.NOT_AFFECTED


@pytest.mark.parametrize("level", scan.HADOLINT_LEVELS)
def test_hadolint_levels(level: str) -> None:
    items = [
        {
            "code": "DL3006",
            "column": 1,
            "file": "Dockerfile",
            "level": "warning",
            "line": 1,
            "message": "tag",
        },
        {
            "code": "DL3015",
            "column": 1,
            "file": "Dockerfile",
            "level": "info",
            "line": 2,
            "message": "recommends",
        },
        {"code": "DL3000", "column": 1, "file": "Dockerfile", "level": "error", "line": 3, "message": "abs"},
        {
            "code": "SC2086",
            "column": 1,
            "file": "Dockerfile",
            "level": "style",
            "line": 4,
            "message": "quote",
        },
    ]
    findings = scan.parse_hadolint(items, file="api/Dockerfile")
    report = scan.evaluate(findings, ScanPolicy(hadolint_level=level), today=TODAY, ran=RAN)
    floor = scan.HADOLINT_LEVELS.index(level)
    assert _ids(report.blocking) == {i["code"] for i in items if scan.HADOLINT_LEVELS.index(i["level"]) >= floor}
    assert all(f.file == "api/Dockerfile" for f in findings)
    assert findings[0].url == "https://github.com/hadolint/hadolint/wiki/DL3006" and findings[3].url is None


@pytest.mark.parametrize("bad", [[], "x", {"Results": {}}, None])
def test_malformed_reports_are_bad_input(bad: object) -> None:
    with pytest.raises(InputError, match="Trivy JSON report"):
        scan.parse_trivy(bad, source="r.json")


def test_clean_report_passes_and_says_so() -> None:
    report = scan.evaluate(scan.parse_trivy(_report("dify-web-clean.json")), ScanPolicy(), today=TODAY, ran=RAN)
    assert report.passed and report.verdicts == ()
    text = scanreport.markdown(report)
    assert "Scan passed" in text and "No findings." in text


def test_markdown_summary(api_findings: list[scan.Finding]) -> None:
    noisy = dataclasses.replace(api_findings[0], title="pipes | and\nnewlines")
    policy = ScanPolicy(
        allow=(
            AllowEntry("CVE-2024-6119", "fix | next base", dt.date(2026, 7, 1)),
            AllowEntry("CVE-2024-6345", "old", dt.date(2026, 1, 1)),
        )
    )
    skipped = (scan.SkippedScanner("hadolint", "not installed (scan.missing-scanner: skip)"),)
    report = scan.evaluate([noisy, *api_findings[1:]], policy, today=TODAY, skipped=skipped, ran=("trivy report r",))
    text = scanreport.markdown(report)
    assert f"failed: {len(report.blocking)} blocking findings" in text
    for verdict in report.blocking:
        assert verdict.finding.id in text
    assert "pipes \\| and newlines" in text
    assert "| CVE-2024-6119 |" in text and "fix \\| next base | 2026-07-01 |" in text
    assert "<code>CVE-2024-6345</code> expired on 2026-01-01" in text and "matches 1 finding" in text
    assert "**hadolint** was skipped: not installed" in text
    table = [line for line in text.splitlines() if line.startswith("| Vulnerabilities |")]
    counts = report.counts()["vulnerability"]
    assert table == [
        "| Vulnerabilities | "
        + " | ".join(
            str(counts.get(d, 0)) for d in (scan.FAIL, scan.ALLOWED, scan.BELOW, scan.UNFIXED, scan.NOT_AFFECTED)
        )
        + " |"
    ]


def sarif_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((FIXTURES / "sarif-2.1.0-subset.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def check_sarif(log: dict[str, Any], report: scan.ScanReport) -> None:
    """Structural checks shared with the integration tests."""
    errors = [e.message for e in sarif_validator().iter_errors(log)]
    assert errors == []
    json.dumps(log)  # serialisable
    results = 0
    for run in log["runs"]:
        rules = run["tool"]["driver"]["rules"]
        ids = [rule["id"] for rule in rules]
        assert len(ids) == len(set(ids))
        for result in run["results"]:
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            results += 1
    assert results == len(report.verdicts)


def test_sarif(api_findings: list[scan.Finding]) -> None:
    lint = scan.parse_hadolint(
        [{"code": "DL3008", "level": "warning", "line": 2, "message": "Pin versions"}],
        file="./api/Dockerfile",
    )
    policy = ScanPolicy(allow=(AllowEntry("CVE-2024-6119", "next base image"),))
    report = scan.evaluate([*api_findings, *lint], policy, today=TODAY, ran=RAN)
    log = sarif.to_sarif(report, artifact_uri="api/Dockerfile")
    check_sarif(log, report)
    assert [run["tool"]["driver"]["name"] for run in log["runs"]] == ["hadolint", "trivy"]
    trivy = log["runs"][1]
    by_rule = {r["ruleId"]: r for r in trivy["results"]}
    assert by_rule["CVE-2024-6119"]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "next base image"}
    ]
    critical = next(rule for rule in trivy["tool"]["driver"]["rules"] if rule["id"] == "CVE-2023-45853")
    assert critical["properties"]["security-severity"] == "9.5"
    assert by_rule["CVE-2023-45853"]["level"] == "error"
    image_result = by_rule["aws-access-key-id"]
    assert image_result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "api/Dockerfile"
    assert "/app/api/.env" in image_result["message"]["text"]
    hadolint = log["runs"][0]["results"][0]
    assert hadolint["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "api/Dockerfile"},
        "region": {"startLine": 2},
    }
    # Stable fingerprints: the same report gives the same SARIF.
    assert sarif.to_sarif(report, artifact_uri="api/Dockerfile") == log


def test_sarif_of_an_empty_report_is_valid() -> None:
    report = scan.evaluate([], ScanPolicy(), today=TODAY, ran=RAN)
    log = sarif.to_sarif(report)
    check_sarif(log, report)
    assert log["runs"][0]["results"] == []


# -- issue 23: a gate that ran no check never passes ----------------------------------------------
@settings(max_examples=80, deadline=None)
@given(skipped=st.lists(st.sampled_from(["trivy", "hadolint"]), unique=True),
       ran=st.lists(st.sampled_from(["trivy image x (secret)", "trivy fs Dockerfile", "hadolint Dockerfile"]),
                    unique=True),
       missing=st.sampled_from(["not installed (scan.missing-scanner: skip)", "disabled"]))
def test_a_scan_passes_only_when_a_check_ran(skipped: list[str], ran: list[str], missing: str) -> None:
    skips = [scan.SkippedScanner(name, missing) for name in skipped]
    report = scan.evaluate([], ScanPolicy(), today=TODAY, skipped=skips, ran=ran)
    assert report.passed is bool(ran)
    text = scanreport.markdown(report)
    if ran:
        assert report.failure() is None and "### Scan passed" in text
        return
    failure = report.failure()
    assert failure is not None and "no check ran" in failure and "never passes" in failure
    assert all(f"{name} {missing}" in failure for name in skipped)
    assert f"### Scan failed: {escape(failure)}" in text
    assert report.as_dict()["passed"] is False
