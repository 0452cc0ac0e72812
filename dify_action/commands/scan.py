"""``dify-action scan``: scan an image and its Dockerfiles, gate on the policy, write SARIF.

Exit 0 when the gate passes, 1 when it fails (the summary says why), 2 on bad input. The
policy comes from ``scan:`` in ``--config`` with flags on top; Dockerfiles come from the
config's components (paths relative to the config file) and from ``--dockerfile``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

HELP = "Scan an image and Dockerfiles (Trivy, hadolint), gate on the policy, write SARIF and a summary."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="dify-action.yaml with the scan policy and components")
    parser.add_argument(
        "--component",
        action="append",
        default=[],
        metavar="NAME",
        help="scan this component's Dockerfile (repeatable; default with --config: all)",
    )
    parser.add_argument("--image", metavar="REF", help="image in the Docker daemon to scan")
    parser.add_argument("--image-archive", metavar="TAR", help="image saved with 'docker save' (instead of --image)")
    parser.add_argument(
        "--docker-host", metavar="URL", help="Docker daemon to read --image from (default: DOCKER_HOST)"
    )
    parser.add_argument("--dockerfile", action="append", default=[], metavar="PATH", help="Dockerfile (repeatable)")
    parser.add_argument(
        "--trivy-report",
        action="append",
        default=[],
        metavar="FILE",
        help="Trivy JSON report made elsewhere; its vulnerabilities replace an online DB scan (repeatable)",
    )
    policy = parser.add_argument_group("policy (overrides scan: in the config)")
    policy.add_argument("--severity", choices=["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"])
    policy.add_argument("--ignore-unfixed", choices=["true", "false"])
    policy.add_argument("--hadolint-level", choices=["error", "warning", "info", "style"])
    policy.add_argument("--missing-scanner", choices=["fail", "skip"])
    policy.add_argument(
        "--disable",
        action="append",
        default=[],
        choices=["vuln", "misconfig", "secret", "hadolint"],
        help="turn a scanner off (repeatable)",
    )
    policy.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any config key")
    policy.add_argument("--offline", action="store_true", help="never download Trivy's databases")
    policy.add_argument("--today", metavar="YYYY-MM-DD", help="date for allow-list expiry (default: today, UTC)")
    out = parser.add_argument_group("output")
    out.add_argument("--sarif", metavar="FILE", help="write SARIF 2.1.0 for code scanning")
    out.add_argument("--summary", metavar="FILE", help="append the Markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    out.add_argument("--json", action="store_true", help="print the report as JSON instead of Markdown")


def run(args: argparse.Namespace) -> int:
    from dify_action import config as config_module
    from dify_action import sarif, scanreport
    from dify_action.errors import InputError
    from dify_action.scanners import ScanRequest, Tools, run_scan

    overrides = [config_module.parse_set(text) for text in args.set]
    for flag, key in [
        ("severity", "severity"),
        ("hadolint_level", "hadolint-level"),
        ("missing_scanner", "missing-scanner"),
    ]:
        if getattr(args, flag):
            overrides.append(config_module.Override(("scan", key), getattr(args, flag), f"--{key}"))
    if args.ignore_unfixed:
        overrides.append(
            config_module.Override(("scan", "ignore-unfixed"), args.ignore_unfixed == "true", "--ignore-unfixed")
        )
    overrides += [config_module.Override(("scan", "scanners", name), False, "--disable") for name in args.disable]
    cfg = config_module.load(args.config, overrides)
    if args.component and not args.config:
        raise InputError("component", args.component[0], "--component needs --config FILE")
    root = Path(args.config).resolve().parent if args.config else Path.cwd()
    names = args.component or ([c.name for c in cfg.components] if args.config else [])
    dockerfiles = [_relative(root / cfg.component(name).dockerfile) for name in names]
    dockerfiles += [_relative(Path(p)) for p in args.dockerfile]
    if args.image and args.image_archive:
        raise InputError("image-archive", args.image_archive, "either --image or --image-archive, not both")
    if args.image:
        from dify_action import refs

        refs.parse(args.image, input_name="image")
    today = _today(args.today)
    if not (args.image or args.image_archive or dockerfiles or args.trivy_report):
        raise InputError(
            "image",
            "",
            "something to scan: --image, --image-archive, --dockerfile, --trivy-report or --config with components",
        )
    request = ScanRequest(
        image=args.image,
        image_archive=Path(args.image_archive) if args.image_archive else None,
        dockerfiles=tuple(dict.fromkeys(dockerfiles)),
        trivy_reports=tuple(Path(p) for p in args.trivy_report),
        docker_host=args.docker_host or os.environ.get("DOCKER_HOST"),
        offline=args.offline,
    )
    report = run_scan(request, cfg.scan, Tools.discover(os.environ), today=today)
    summary = scanreport.markdown(report)
    if args.sarif:
        log = sarif.to_sarif(report, artifact_uri=str(dockerfiles[0]) if dockerfiles else "Dockerfile")
        Path(args.sarif).write_text(json.dumps(log, indent=2) + "\n", encoding="utf-8")
    if args.summary:
        with Path(args.summary).open("a", encoding="utf-8") as handle:
            handle.write(summary + "\n")
    print(json.dumps(report.as_dict(), indent=2) if args.json else summary)
    if not report.passed:
        print(f"dify-action scan: {len(report.blocking)} blocking finding(s): the gate failed", file=sys.stderr)
        return 1
    return 0


def _relative(path: Path) -> Path:
    """Repository-relative when under the working directory (SARIF wants relative URIs)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _today(text: str | None) -> dt.date:
    from dify_action.errors import InputError

    if not text:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError("today", text, "a date YYYY-MM-DD") from None
