"""Run the scanners (Trivy, hadolint) and feed their JSON to the gate in ``dify_action/scan/policy.py``.

Trivy runs offline-friendly: no check-bundle update, no version check, no telemetry (flags and
the TRIVY_* variables both). Its vulnerability database cannot always be downloaded (air-gapped
runners, this project's tests): a Trivy JSON report made elsewhere can be given instead.
The environment is injected (``Tools.environ``): this module never reads ``os.environ``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from dify_action import refs
from dify_action.config.load import ScanPolicy
from dify_action.errors import DifyActionError, InputError
from dify_action.registry import Credentials
from dify_action.scan import policy as scan

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

TRIVY_ENV = {
    "TRIVY_SKIP_CHECK_UPDATE": "true",
    "TRIVY_DISABLE_TELEMETRY": "true",
    "TRIVY_SKIP_VERSION_CHECK": "true",
}
_QUIET = ["--skip-check-update", "--skip-version-check", "--disable-telemetry", "--quiet", "--format", "json"]


@dataclass(frozen=True)
class Tools:
    """Where the scanners are (None: not installed) and the environment they run with."""

    trivy: str | None
    hadolint: str | None
    environ: Mapping[str, str] = field(default_factory=dict)
    cache_dir: str | None = None
    timeout: float = 900.0

    @classmethod
    def discover(cls, environ: Mapping[str, str], *, cache_dir: str | None = None) -> Tools:
        path = environ.get("PATH")
        return cls(shutil.which("trivy", path=path), shutil.which("hadolint", path=path), environ, cache_dir)


@dataclass(frozen=True)
class ScanRequest:
    """What to scan. ``image`` is a reference in the Docker daemon at ``docker_host``, pulled
    there first (by digest when it has one, with ``credentials``) when that engine lacks it: a
    GitHub scan job starts on a fresh machine. ``image_archive`` is a ``docker save`` tarball;
    ``trivy_reports`` JSON reports made elsewhere (their vulnerabilities replace an online
    vulnerability scan)."""

    image: str | None = None
    image_archive: Path | None = None
    dockerfiles: tuple[Path, ...] = ()
    trivy_reports: tuple[Path, ...] = ()
    docker_host: str | None = None
    offline: bool = False
    credentials: Credentials | None = field(default=None, repr=False)
    trivy_db: str | None = None  # issue 20: the vulnerability DB pinned by digest (scan/dbpin.py)


def run_scan(request: ScanRequest, policy: ScanPolicy, tools: Tools, *, today: dt.date) -> scan.ScanReport:
    """Run every enabled scanner the request needs, then gate. Bad input raises before any run."""
    for path in (*request.dockerfiles, *request.trivy_reports, *filter(None, [request.image_archive])):
        if not path.is_file():
            raise InputError("path", str(path), "an existing file")
    if request.trivy_db:  # issue 20: fetch and verify the pinned DB, then never let Trivy update it
        from dify_action.scan.dbpin import parse_pin

        pin = parse_pin(request.trivy_db)
        with tempfile.TemporaryDirectory(prefix="dify-action-trivy-") as temp:
            cache = Path(tools.cache_dir or temp)
            _pinned_db(pin, cache, request.credentials)
            return run_scan(replace(request, trivy_db=None, offline=True), policy,
                            replace(tools, cache_dir=str(cache)), today=today)
    findings: list[scan.Finding] = []
    for report in request.trivy_reports:
        findings += scan.parse_trivy(_read_json(report), source=str(report))
    on = policy.scanners
    image_scanners = [
        name for name, wanted in [("vuln", on.vuln and not request.trivy_reports), ("secret", on.secret)] if wanted
    ]
    has_image = request.image is not None or request.image_archive is not None
    trivy_needed = (has_image and (image_scanners or on.misconfig)) or (
        request.dockerfiles and (on.misconfig or on.secret)
    )
    skipped: list[scan.SkippedScanner] = []
    ran: list[str] = [f"trivy report {p}" for p in request.trivy_reports]
    trivy = _tool("trivy", tools.trivy, bool(trivy_needed), policy, skipped)
    hadolint = _tool("hadolint", tools.hadolint, bool(request.dockerfiles) and on.hadolint, policy, skipped)
    if trivy and has_image:
        if request.image is not None:
            _pull_if_missing(request.image, request.docker_host, request.credentials)
        findings += _trivy_image(trivy, request, image_scanners, policy, tools)
        ran.append(f"trivy image {request.image or request.image_archive} ({', '.join(image_scanners)})")
    for dockerfile in request.dockerfiles:
        if trivy and (on.misconfig or on.secret):
            findings += _trivy_dockerfile(trivy, dockerfile, policy, tools)
            ran.append(f"trivy fs {dockerfile}")
        if hadolint:
            findings += _hadolint(hadolint, dockerfile, tools)
            ran.append(f"hadolint {dockerfile}")
    return scan.evaluate(findings, policy, today=today, skipped=skipped, ran=ran)


def _pinned_db(pin: refs.ImageRef, cache: Path, credentials: Credentials | None) -> None:
    from dify_action.registry import RegistryClient
    from dify_action.scan.dbpin import ensure_db, refuse_unpinned

    assert pin.digest is not None
    ensure_db(RegistryClient(pin.registry, credentials), pin, cache)
    refuse_unpinned(cache, pin.digest)


def _pull_if_missing(image: str, docker_host: str | None, credentials: Credentials | None) -> None:
    from dify_action.engine.docker import DockerEngine
    from dify_action.engine.job import ensure_image

    engine = DockerEngine(docker_host or DEFAULT_DOCKER_HOST)
    try:
        ensure_image(engine.client, image, credentials)
    finally:
        engine.close()


def _tool(
    name: str, path: str | None, needed: bool, policy: ScanPolicy, skipped: list[scan.SkippedScanner]
) -> str | None:
    if not needed:
        return None
    if path is None:
        if policy.missing_scanner == "skip":
            skipped.append(scan.SkippedScanner(name, "not installed (scan.missing-scanner: skip)"))
            return None
        raise DifyActionError(
            f"{name} is not installed, and the scan policy needs it",
            hint=f"install {name} on the runner, disable it (scan.scanners), "
            "or set scan.missing-scanner: skip to run without it",
        )
    return path


def _env(tools: Tools, docker_host: str | None = None) -> dict[str, str]:
    env = {**tools.environ, **TRIVY_ENV}
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    return env


def _common(policy: ScanPolicy, tools: Tools, offline: bool) -> list[str]:
    args = [*_QUIET, "--timeout", f"{int(tools.timeout)}s"]
    if tools.cache_dir:
        args += ["--cache-dir", tools.cache_dir]
    if offline:
        args += ["--skip-db-update", "--skip-java-db-update", "--offline-scan"]
    return args


def _trivy_image(
    trivy: str, request: ScanRequest, scanners: Sequence[str], policy: ScanPolicy, tools: Tools
) -> list[scan.Finding]:
    args = [trivy, "image", *_common(policy, tools, request.offline)]
    args += ["--scanners", ",".join(scanners)]
    config_scanners = [n for n in ("misconfig", "secret") if getattr(policy.scanners, n)]
    if config_scanners:
        args += ["--image-config-scanners", ",".join(config_scanners)]
    if request.image_archive is not None:
        args += ["--input", str(request.image_archive)]
    else:
        args += ["--image-src", "docker"]
        if request.docker_host:
            args += ["--docker-host", request.docker_host]
        args.append(str(request.image))
    report = _run_json(args, _env(tools, request.docker_host), tools, "trivy image")
    return scan.parse_trivy(report, source="trivy image")


def _trivy_dockerfile(trivy: str, dockerfile: Path, policy: ScanPolicy, tools: Tools) -> list[scan.Finding]:
    scanners = [n for n in ("misconfig", "secret") if getattr(policy.scanners, n)]
    # Trivy finds Dockerfiles by name; the pattern makes any name (build.df) count as one.
    pattern = f"dockerfile:(^|/){re.escape(dockerfile.name)}$"
    args = [trivy, "fs", *_common(policy, tools, True), "--scanners", ",".join(scanners)]
    args += ["--file-patterns", pattern, str(dockerfile)]
    report = _run_json(args, _env(tools), tools, f"trivy fs {dockerfile}")
    return scan.parse_trivy(report, source=str(dockerfile), file=str(dockerfile))


def _hadolint(hadolint: str, dockerfile: Path, tools: Tools) -> list[scan.Finding]:
    args = [hadolint, "--no-color", "--no-fail", "--format", "json", str(dockerfile)]
    return scan.parse_hadolint(_run_json(args, dict(tools.environ), tools, "hadolint"), file=str(dockerfile))


def _run_json(args: list[str], env: dict[str, str], tools: Tools, what: str) -> object:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=tools.timeout, check=False)
    except subprocess.TimeoutExpired:
        raise DifyActionError(f"{what} did not finish in {tools.timeout:.0f}s") from None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        hint = None
        if "DB" in tail or "vulnerability DB" in tail:
            hint = (
                "the vulnerability database is not available: let Trivy download it, or scan elsewhere "
                "and pass the JSON report with --trivy-report, or disable scan.scanners.vuln"
            )
        raise DifyActionError(f"{what} failed (exit {done.returncode}): {tail}", hint=hint)
    try:
        return json.loads(done.stdout or "null")
    except json.JSONDecodeError:
        raise DifyActionError(f"{what} printed no JSON report", hint="check the scanner's version") from None


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError("trivy-report", str(path), f"a readable Trivy JSON report ({error})") from None
