"""``dify-action apps check``: check exported Dify app DSL files against the api image shipped.

The files come from the arguments or the config's ``apps:`` globs; the DSL version to check
against from ``--dsl-version``, or the image (``--image``: its recorded facts or layers in the
registry; with ``--engine``, through the Docker engine). Exit 1 when an app would not import
(pending, failed) or breaks a rule, 2 on bad input. The registry password comes from
DIFY_ACTION_REGISTRY_PASSWORD, read here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dify_action.config.load import Config

HELP = "Check app DSL files (kind, mode, DSL version verdict, graph, secrets, plugins) against the image."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dify_action.choices import PASSWORD_ENV

    add = parser.add_argument
    add("action", choices=("check",), help="check the DSL files")
    add("files", nargs="*", metavar="FILE", help="DSL files, right after check (default: the config's apps: globs)")
    add("--config", metavar="FILE", help="dify-action.yaml with apps: (paths or globs)")
    add("--root", metavar="DIR", default=".", help="repository root the apps: globs are relative to (default: .)")
    add("--dsl-version", metavar="VERSION", help="the CURRENT_APP_DSL_VERSION to check against, e.g. 0.6.0")
    add("--image", metavar="REF", help="the api image shipped: its DSL version is read from it")
    add("--engine", action="store_true", help="read --image through the Docker engine instead of the registry")
    add("--docker-host", metavar="URL", help="Docker engine for --engine (default: DOCKER_HOST)")
    add("--registry-username", metavar="USER", help=f"registry user (password from ${PASSWORD_ENV})")
    add("--summary", metavar="FILE", help="append the Markdown result (e.g. $GITHUB_STEP_SUMMARY)")
    add("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from dify_action.config import load as config_module
    from dify_action.dify.dsl import expand
    from dify_action.dify.dslreport import check_apps, gate
    from dify_action.errors import InputError

    root = Path(args.root)
    if not root.is_dir():
        raise InputError("root", args.root, "an existing directory (the repository root)")
    cfg = config_module.load(args.config) if args.config else None
    if args.files:
        for name in args.files:
            if not Path(name).is_file():
                raise InputError("file", name, "an existing DSL file")
        files = tuple(Path(name) for name in args.files)
    elif cfg is not None and cfg.apps:
        files = expand([a.pattern for a in cfg.apps], root, source=cfg.source, lines=[a.line for a in cfg.apps])
    else:
        raise InputError("files", "", "DSL files as arguments, or --config with an apps: list")
    current = args.dsl_version or _image_dsl_version(args, cfg)
    report = check_apps(files, current, root, image=args.image)
    text = report.markdown()
    if args.summary:
        with Path(args.summary).open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for check in report.checks:
            print(f"{check.file}: {check.mode or '?'} app {check.name or '?'} (DSL {check.version or '?'}): "
                  f"{check.verdict}{' (blocked)' if check.blocks else ''}")
            for finding in check.findings:
                print(f"  {finding.severity}: {finding.text}" + (f" (line {finding.line})" if finding.line else ""))
    for finding in report.findings("warning"):
        print(f"warning: {finding.file}:{finding.line or '-'}: {finding.text}", file=sys.stderr)
    gate(report)
    return 0


def _image_dsl_version(args: argparse.Namespace, cfg: Config | None) -> str:
    from dify_action import refs
    from dify_action.errors import InputError

    if not args.image:
        raise InputError("dsl-version", "", "give --dsl-version VERSION or --image REF (the api image shipped)")
    ref = refs.parse(args.image, input_name="image")
    if args.engine:
        from dify_action.dify.facts import read_engine
        from dify_action.engine.docker import DockerEngine

        engine = DockerEngine(args.docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
        try:
            facts = read_engine(engine.client, args.image)
        finally:
            engine.close()
    else:
        from dify_action.choices import USERNAME_ENV
        from dify_action.dify.registryfacts import image_facts
        from dify_action.front.common import cli_secrets
        from dify_action.registry import Credentials, RegistryClient

        username = args.registry_username or os.environ.get(USERNAME_ENV) or (cfg.registry.username if cfg else None)
        password = cli_secrets(os.environ).registry_password
        if username and not password:
            raise InputError("registry-password", "", f"the password of registry user {username!r} (environment)")
        client = RegistryClient(ref.registry, Credentials(username, password) if username and password else None)
        facts = image_facts(client, ref)
    if facts.dsl_version is None:
        raise InputError("image", args.image, "an api image with /app/api/constants/dsl_version.py ("
                         + "; ".join(facts.notes) + "); or give --dsl-version")
    return facts.dsl_version
