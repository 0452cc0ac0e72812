"""``dify-action build``: build, label, budget-check and push component images.

Components come from ``--config`` (``dify-action.yaml``; ``--component`` picks some) or from the
direct flags (``--dockerfile``/``--context``/``--repository``). The registry password is read here,
from DIFY_ACTION_REGISTRY_PASSWORD, and handed to the core as a value.
"""

from __future__ import annotations

import argparse
import os

from dify_action.choices import BUILDERS, PASSWORD_ENV
from dify_action.resolve.request import BuildCommand, BuildInputs

HELP = "Build component images, check their size budget, push their tags and report digests."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="dify-action.yaml declaring the components")
    parser.add_argument("--component", action="append", default=[], metavar="NAME",
                        help="build only this component of the config (repeatable; default: all)")
    direct = parser.add_argument_group("one component without a config file")
    direct.add_argument("--name", help="component name (default: the repository's last path part)")
    direct.add_argument("--dockerfile", metavar="FILE", help="Dockerfile (default: CONTEXT/Dockerfile)")
    direct.add_argument("--context", metavar="DIR", help="build context directory (default: .)")
    direct.add_argument("--repository", metavar="IMAGE", help="image repository without tag")
    direct.add_argument("--target", help="build stage to stop at")
    parser.add_argument("--tag", action="append", default=[], help="tag to push (repeatable); "
                        "without it the config's tag policy is applied to --revision/--ref/--event")
    parser.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="build argument (repeatable; wins over the config)")
    parser.add_argument("--secret", action="append", default=[], metavar="id=ID,src=FILE|env=VAR",
                        help="BuildKit secret for RUN --mount=type=secret,id=ID (repeatable; docker build's syntax)")
    parser.add_argument("--cache-from", action="append", default=[], metavar="IMAGE",
                        help="image to use as build cache (repeatable; pulled when missing)")
    # several platforms -> an OCI image index (issue 20); --push-by-digest for one platform of a matrix (then merge)
    parser.add_argument("--platforms", dest="platform", metavar="LIST",
                        help="target platform(s), e.g. linux/amd64 or linux/amd64,linux/arm64 (an image index)")
    parser.add_argument("--push-by-digest", action=argparse.BooleanOptionalAction, default=None,
                        help="push the one platform by digest only, no tag (a matrix job; `merge` writes the index)")
    parser.add_argument("--builder-id", metavar="URI", help="who builds, for the provenance (e.g. the workflow ref)")
    parser.add_argument("--run-url", metavar="URL", help="the CI run, for the provenance")
    parser.add_argument("--push", action=argparse.BooleanOptionalAction, default=None,
                        help="push the tags (default) or only build")
    parser.add_argument("--builder", choices=BUILDERS,
                        help="BuildKit via the docker CLI, the SDK's legacy builder, or auto (default)")
    parser.add_argument("--registry-username", metavar="USER",
                        help=f"registry user (password from ${PASSWORD_ENV})")
    parser.add_argument("--size-budget", metavar="SIZE", help="fail above this size, e.g. 2.5GB")
    parser.add_argument("--size-warn", metavar="SIZE", help="warn above this size, e.g. 2GB")
    meta = parser.add_argument_group("labels and tag policy")
    meta.add_argument("--source", metavar="URL", help="org.opencontainers.image.source")
    meta.add_argument("--revision", metavar="SHA", help="the commit (org.opencontainers.image.revision)")
    meta.add_argument("--version", dest="image_version", help="org.opencontainers.image.version")
    meta.add_argument("--ref", default="refs/heads/main", help="git ref for the tag policy")
    meta.add_argument("--event", default="push", help="event name for the tag policy")
    meta.add_argument("--run-number", type=int, help="CI run number for the tag policy")
    meta.add_argument("--event-path", metavar="FILE", help="the event's JSON payload (GITHUB_EVENT_PATH): PR "
                      "number, default branch, base ref and commit date for the tag policy")
    meta.add_argument("--pr-head-sha", action="store_true", help="tag a pull request build with its head commit")
    parser.add_argument("--docker-host", metavar="URL", help="Docker engine (default: $DOCKER_HOST)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def request(args: argparse.Namespace) -> BuildCommand:
    from dify_action.front.common import cli_access, cli_context, secret_files

    build = BuildInputs(
        repository=args.repository, name=args.name, file=args.dockerfile, context=args.context, target=args.target,
        tags=tuple(args.tag), build_args=tuple(args.build_arg), push=args.push, builder=args.builder,
        platforms=args.platform, size_budget=args.size_budget, size_warn=args.size_warn,
        secret_files=secret_files(args.secret), cache_from=tuple(args.cache_from), version=args.image_version,
        push_by_digest=args.push_by_digest, builder_id=args.builder_id)
    context = cli_context(source=args.source, revision=args.revision, ref=args.ref, event=args.event,
                          run_number=args.run_number, run_url=args.run_url, event_path=args.event_path,
                          pr_head_sha=args.pr_head_sha)
    return BuildCommand(args.config, tuple(args.component),
                        cli_access(args.registry_username, args.docker_host, os.environ), build, context)


def run(args: argparse.Namespace) -> int:
    from dify_action.front.common import cli_secrets, run_cli

    return run_cli(request(args), cli_secrets(os.environ, args.secret), os.environ, as_json=args.json)
