"""``dify-action test``: smoke-test a built image (HEALTHCHECK / HTTP probe / commands).

Settings come from ``smoke.<component>`` in ``--config`` when ``--component`` is given; flags
win. Exit 0 when every check passes, 1 when one fails, 2 on bad input (nothing is started).
"""

from __future__ import annotations

import argparse
import os

from dify_action.resolve.request import SmokeInputs, TestCommand

HELP = "Smoke-test a built image: run it, wait for its HEALTHCHECK or an HTTP probe, run commands."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image", metavar="REF", required=True, help="the image to test (in the Docker engine)")
    parser.add_argument("--config", metavar="FILE", help="dify-action.yaml with smoke settings")
    parser.add_argument("--component", metavar="NAME", help="use smoke.<NAME> from the config")
    parser.add_argument("--env", action="append", default=[], metavar="K=V", help="container env (repeatable)")
    parser.add_argument("--http-probe", metavar="URL", help="URL that must answer --expect-status")
    parser.add_argument("--expect-status", type=int, metavar="CODE", help="expected HTTP status (default 200)")
    parser.add_argument("--timeout", metavar="DURATION", help="readiness and per-command timeout (e.g. 90s, 5m)")
    parser.add_argument(
        "--smoke-command", dest="command", action="append", default=[], metavar="CMD",
        help="command run with sh -c inside the container (repeatable; replaces the config's)",
    )
    parser.add_argument("--healthcheck", action=argparse.BooleanOptionalAction, default=None,
                        help="wait for the image's HEALTHCHECK (default: the config's smoke.<component>.healthcheck, "
                             "else yes)")
    parser.add_argument("--log-lines", type=int, metavar="N", help="container log lines shown on failure")
    parser.add_argument("--docker-host", metavar="URL", help="Docker engine (default: DOCKER_HOST)")
    parser.add_argument("--registry-username", metavar="USER", help="registry user to pull the image when the engine "
                        "lacks it (password from $DIFY_ACTION_REGISTRY_PASSWORD)")
    parser.add_argument("--run-id", metavar="ID", help="label value io.dify-action.smoke=ID (default: random)")
    parser.add_argument("--summary", metavar="FILE", help="append the Markdown result (e.g. $GITHUB_STEP_SUMMARY)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def request(args: argparse.Namespace) -> TestCommand:
    from dify_action.front.common import cli_access

    smoke = SmokeInputs(http_probe=args.http_probe, expect_status=args.expect_status, commands=tuple(args.command),
                        timeout=args.timeout, env=tuple(args.env), healthcheck=args.healthcheck,
                        log_lines=args.log_lines, run_id=args.run_id)
    return TestCommand(args.image, args.config, (args.component,) if args.component else (),
                       cli_access(args.registry_username, args.docker_host, os.environ), smoke)


def run(args: argparse.Namespace) -> int:
    from dify_action.front.common import cli_secrets, run_cli

    return run_cli(request(args), cli_secrets(os.environ), os.environ, as_json=args.json, summary=args.summary)
