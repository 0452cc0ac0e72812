"""``dify-action test``: smoke-test a built image (HEALTHCHECK / HTTP probe / commands).

Settings come from ``smoke.<component>`` in ``--config`` when ``--component`` is given; flags
win. Exit 0 when every check passes, 1 when one fails, 2 on bad input (nothing is started).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dify_action.config import SmokeSpec

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
        "--command",
        action="append",
        default=[],
        metavar="CMD",
        help="command run with sh -c inside the container (repeatable; replaces the config's)",
    )
    parser.add_argument("--no-healthcheck", action="store_true", help="do not wait for the image's HEALTHCHECK")
    parser.add_argument("--log-lines", type=int, metavar="N", help="container log lines shown on failure")
    parser.add_argument("--docker-host", metavar="URL", help="Docker engine (default: DOCKER_HOST)")
    parser.add_argument("--run-id", metavar="ID", help="label value io.dify-action.smoke=ID (default: random)")
    parser.add_argument("--summary", metavar="FILE", help="append the Markdown result (e.g. $GITHUB_STEP_SUMMARY)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from dify_action import config as config_module
    from dify_action import refs, smoke
    from dify_action.docker_engine import DockerEngine
    from dify_action.errors import InputError

    refs.parse(args.image, input_name="image")
    if args.component and not args.config:
        raise InputError("component", args.component, "--component needs --config FILE")
    spec = config_module.SmokeSpec()
    if args.config:
        cfg = config_module.load(args.config)
        if args.component:
            cfg.component(args.component)
            spec = cfg.smoke_for(args.component)
    spec = _apply_flags(spec, args)
    if args.run_id and not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}", args.run_id):
        raise InputError("run-id", args.run_id, "1-63 characters of [A-Za-z0-9_.-]")
    engine = DockerEngine(args.docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
    try:
        result = smoke.run_smoke(engine.client, args.image, spec, run_id=args.run_id)
    finally:
        engine.close()
    text = smoke.markdown(result)
    if args.summary:
        with Path(args.summary).open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(json.dumps(result.as_dict(), indent=2) if args.json else text)
    if not result.passed:
        failing = result.failing
        print(f"dify-action test: failed check: {failing.name if failing else '?'}", file=sys.stderr)
        return 1
    return 0


def _apply_flags(spec: SmokeSpec, args: argparse.Namespace) -> SmokeSpec:
    from dify_action import config as config_module
    from dify_action.errors import InputError

    changes: dict[str, object] = {}
    if args.env:
        env = dict(spec.env)
        for item in args.env:
            key, sep, value = item.partition("=")
            if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key):
                raise InputError("env", key if sep else item, "K=V with a variable name K, e.g. MODE=api")
            env[key] = value
        changes["env"] = MappingProxyType(env)
    timeout = spec.timeout
    if args.timeout is not None:
        try:
            timeout = config_module.parse_duration(args.timeout)
        except ValueError:
            timeout = 0
        if timeout <= 0:
            raise InputError("timeout", args.timeout, "a positive duration: seconds, or 90s, 5m, 1h")
        changes["timeout"] = timeout
    if args.expect_status is not None and not 100 <= args.expect_status <= 599:
        raise InputError("expect-status", args.expect_status, "an HTTP status 100-599")
    if args.http_probe or args.expect_status is not None:
        url = args.http_probe or (spec.http_probe.url if spec.http_probe else None)
        if not url or not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            raise InputError("http-probe", url or "", "an http:// or https:// URL, e.g. http://127.0.0.1:5001/health")
        status = args.expect_status or (spec.http_probe.status if spec.http_probe else 200)
        probe_timeout = timeout if args.timeout is not None or not spec.http_probe else spec.http_probe.timeout
        changes["http_probe"] = config_module.HttpProbe(url, status, probe_timeout)
    if args.command:
        if any(not c.strip() for c in args.command):
            raise InputError("command", "", "a non-empty shell command")
        changes["commands"] = tuple(args.command)
    if args.no_healthcheck:
        changes["healthcheck"] = False
    if args.log_lines is not None:
        if not 1 <= args.log_lines <= 1000:
            raise InputError("log-lines", args.log_lines, "1-1000")
        changes["log_lines"] = args.log_lines
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]  # values checked above
