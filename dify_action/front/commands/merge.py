"""``dify-action merge``: the last job of a platform matrix (issue 20). Reads the ``build
--push-by-digest --json`` documents of the platform jobs, writes one OCI image index per component
with the registry client and points the tags at it. The registry password is read here, from
DIFY_ACTION_REGISTRY_PASSWORD."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

HELP = "Merge per-platform builds (pushed by digest) into one image index and push its tags."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dify_action.choices import PASSWORD_ENV

    parser.add_argument("results", nargs="+", metavar="RESULT.json",
                        help="the --json document of each platform job's `build --push-by-digest`")
    parser.add_argument("--platforms", metavar="LIST",
                        help="the platforms the set must have, e.g. linux/amd64,linux/arm64 (a missing one fails)")
    parser.add_argument("--tag", action="append", default=[], help="tags to push (default: the jobs' tags)")
    parser.add_argument("--registry-username", metavar="USER", help=f"registry user (password from ${PASSWORD_ENV})")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    from dify_action.build.merge import describe, merge, parse_results
    from dify_action.choices import USERNAME_ENV
    from dify_action.errors import InputError
    from dify_action.front.common import cli_secrets
    from dify_action.registry import Credentials, clients_for

    documents = []
    for name in args.results:
        try:
            documents.append((name, json.loads(Path(name).read_text(encoding="utf-8"))))
        except (OSError, ValueError) as error:
            raise InputError("results", name, f"a readable JSON file ({type(error).__name__})") from None
    results = parse_results(documents)
    username = args.registry_username or os.environ.get(USERNAME_ENV)
    password = cli_secrets(os.environ).registry_password
    if bool(username) != bool(password):
        raise InputError("registry-password" if username else "registry-username", "",
                         "a registry user and its password (both or neither)")
    creds = Credentials(username, password) if username and password else None
    merged = merge(results, args.platforms, clients_for(creds), tuple(args.tag))
    if args.json:
        print(json.dumps(describe(merged), indent=2))
        return 0
    for m in merged:
        platforms = ", ".join(f"{p.platform} {p.digest}" for p in m.platforms)
        print(f"{m.component}: {m.image}:{','.join(m.tags)} index {m.digest} ({platforms})")
    return 0
