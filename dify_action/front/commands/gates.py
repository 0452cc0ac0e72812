"""``dify-action gates record|show``: write or read the gate record of an image in the registry.

The pipeline records the smoke and scan verdicts after those stages; ``promote`` reads them back
(tag ``sha256-<hex>.gates`` next to the image). The registry password comes from
DIFY_ACTION_REGISTRY_PASSWORD, read here.
"""

from __future__ import annotations

import argparse
import json
import os

HELP = "Record (or show) the smoke/scan gate results of an image digest in the registry."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dify_action.choices import PASSWORD_ENV

    parser.add_argument("action", choices=("record", "show"), help="record results, or show the record")
    parser.add_argument("--image", metavar="REPOSITORY", required=True,
                        help="image repository, e.g. registry.example.com/acme/dify-api")
    parser.add_argument("--digest", metavar="sha256:HEX", required=True, help="the image digest")
    parser.add_argument("--result", action="append", default=[], metavar="GATE=STATUS",
                        help="e.g. smoke=passed, scan=failed (passed|failed|skipped; repeatable)")
    parser.add_argument("--registry-username", metavar="USER", help=f"registry user (password from ${PASSWORD_ENV})")
    parser.add_argument("--json", action="store_true", help="print the record as JSON")


def run(args: argparse.Namespace) -> int:
    from dify_action import refs
    from dify_action.choices import USERNAME_ENV
    from dify_action.errors import InputError
    from dify_action.front.common import cli_secrets
    from dify_action.registry import Credentials, RegistryClient
    from dify_action.registry.gates import parse_results, read_gates, record_gates

    image = refs.parse_repository(args.image, input_name="image")
    digest = refs.validate_digest(args.digest, input_name="digest")
    username = args.registry_username or os.environ.get(USERNAME_ENV)
    password = cli_secrets(os.environ).registry_password
    if bool(username) != bool(password):
        raise InputError("registry-password" if username else "registry-username", "",
                         "a registry user and its password (both or neither)")
    client = RegistryClient(image.registry, Credentials(username, password) if username and password else None)
    if args.action == "record":
        results = parse_results(args.result)
        record = record_gates(client, image.remote_path, digest, results)
    else:
        if args.result:
            raise InputError("result", args.result[0], "only with 'record'")
        found = read_gates(client, image.remote_path, digest)
        if found is None:
            print(json.dumps(None) if args.json else f"no gate record for {image.name}@{digest}")
            return 1
        record = found
    if args.json:
        print(json.dumps(record.as_dict(), indent=2))
    else:
        verdicts = ", ".join(f"{k}={v}" for k, v in record.results.items())
        print(f"{image.name}@{digest}: {verdicts} (recorded {record.created})")
    return 0
