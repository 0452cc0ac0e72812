"""``dify-action scan``: scan an image and its Dockerfiles, gate on the policy, write SARIF.

Exit 0 when the gate passes, 1 when it fails (the summary says why), 2 on bad input. The
policy comes from ``scan:`` in ``--config`` with flags on top; Dockerfiles come from the
config's components (paths relative to the config file) and from ``--dockerfile``.
"""

from __future__ import annotations

import argparse
import os

from dify_action.resolve.request import ScanCommand, ScanInputs

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
    parser.add_argument("--registry-username", metavar="USER", help="registry user to pull --image when the "
                        "engine lacks it (password from $DIFY_ACTION_REGISTRY_PASSWORD)")
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
    policy.add_argument("--offline", action=argparse.BooleanOptionalAction, default=None,
        help="never download Trivy's databases")
    policy.add_argument("--trivy-db", metavar="REPO@sha256:HEX",  # issue 20
                        help="use only this vulnerability DB, fetched by digest and verified (refuses any other)")
    policy.add_argument("--today", metavar="YYYY-MM-DD", help="date for allow-list expiry (default: today, UTC)")
    out = parser.add_argument_group("output")
    out.add_argument("--sarif", metavar="FILE", help="write SARIF 2.1.0 for code scanning")
    out.add_argument("--summary", metavar="FILE", help="append the Markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    out.add_argument("--json", action="store_true", help="print the report as JSON instead of Markdown")


def request(args: argparse.Namespace) -> ScanCommand:
    from dify_action.front.common import cli_access

    scan = ScanInputs(
        severity=args.severity, ignore_unfixed=None if args.ignore_unfixed is None else args.ignore_unfixed == "true",
        hadolint_level=args.hadolint_level, missing_scanner=args.missing_scanner, disable=tuple(args.disable),
        set=tuple(args.set), dockerfiles=tuple(args.dockerfile), trivy_reports=tuple(args.trivy_report),
        image_archive=args.image_archive, sarif_file=args.sarif, offline=args.offline, today=args.today,
        trivy_db=args.trivy_db)
    return ScanCommand(args.image, args.config, tuple(args.component),
                          cli_access(args.registry_username, args.docker_host, os.environ), scan)


def run(args: argparse.Namespace) -> int:
    from dify_action.front.common import cli_secrets, run_cli

    return run_cli(request(args), cli_secrets(os.environ), os.environ, as_json=args.json, summary=args.summary)
