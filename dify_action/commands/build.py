"""``dify-action build``: build, label, budget-check and push component images.

Components come from ``--config`` (``dify-action.yaml``; ``--component`` picks some) or from the
direct flags (``--dockerfile``/``--context``/``--repository``). The registry password is read here,
from DIFY_ACTION_REGISTRY_PASSWORD, and handed to the core as a value.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dify_action.build import BuildSpec, SizeBudget
    from dify_action.config import Config

HELP = "Build component images, check their size budget, push their tags and report digests."
PASSWORD_ENV = "DIFY_ACTION_REGISTRY_PASSWORD"  # noqa: S105 - a variable name, not a secret
USERNAME_ENV = "DIFY_ACTION_REGISTRY_USERNAME"


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
    parser.add_argument("--cache-from", action="append", default=[], metavar="IMAGE",
                        help="image to use as build cache (repeatable; pulled when missing)")
    parser.add_argument("--platform", help="target platform, e.g. linux/amd64")
    parser.add_argument("--push", action=argparse.BooleanOptionalAction, default=True,
                        help="push the tags (default) or only build")
    parser.add_argument("--builder", choices=("auto", "buildkit", "legacy"), default="auto",
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
    parser.add_argument("--docker-host", metavar="URL", help="Docker engine (default: $DOCKER_HOST)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def run(args: argparse.Namespace) -> int:
    from dify_action.build import BuildMetadata, build_component
    from dify_action.docker_engine import DockerEngine
    from dify_action.errors import InputError
    from dify_action.registry import Credentials

    specs = _specs(args)
    username = args.registry_username or os.environ.get(USERNAME_ENV) or _config_username(args)
    password = os.environ.get(PASSWORD_ENV)
    if username and not password and args.push:
        raise InputError("registry-password", "", f"set {PASSWORD_ENV} for user {username!r}")
    creds = Credentials(username, password) if username and password else None
    meta = BuildMetadata(args.source, args.revision, args.image_version)
    engine = DockerEngine(args.docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
    results = []
    try:
        for spec in specs:
            result = build_component(spec, engine, creds, push=args.push, builder=args.builder, meta=meta,
                                     progress=lambda line: print(line, file=sys.stderr, flush=True))
            results.append(result)
            for warning in result.warnings:
                print(f"warning: {warning}", file=sys.stderr)
    finally:
        engine.close()
    if args.json:
        print(json.dumps({"components": [r.as_dict() for r in results]}, indent=2))
    else:
        for r in results:
            where = f"digest {r.digest}" if r.digest else "not pushed"
            size = f"{r.size / 1e6:.1f} MB" + (f", {r.compressed_size / 1e6:.1f} MB compressed"
                                                if r.compressed_size is not None else "")
            print(f"{r.name}: {r.image}:{','.join(r.tags)} {where} ({size}, {r.builder}, {r.seconds:.1f}s)")
    return 0


def _specs(args: argparse.Namespace) -> list[BuildSpec]:
    from dify_action import refs
    from dify_action.build import BuildSpec
    from dify_action.errors import InputError

    build_args = dict(_pair(item) for item in args.build_arg)
    budget = _budget(args)
    if args.config:
        from dify_action import config as config_module

        config = config_module.load(args.config)
        root = Path(args.config).resolve().parent
        names = args.component or [c.name for c in config.components]
        specs = []
        for name in names:
            component = config.component(name)
            merged = {**component.build_args, **build_args}
            cbudget = budget or _config_budget(component.size_budget)
            specs.append(BuildSpec(
                component.name, root / (args.dockerfile or component.dockerfile),
                root / (args.context or component.context), component.image,
                _tags(args, config, root / component.dockerfile, merged), args.target or component.target,
                merged, {}, tuple(args.cache_from), args.platform, cbudget,
            ))
        return specs
    if args.component:
        raise InputError("component", args.component[0], "--component needs --config FILE")
    if not args.repository:
        raise InputError("repository", "", "give --repository IMAGE (or --config FILE)")
    repository = refs.parse_repository(args.repository, input_name="repository")
    context = Path(args.context or ".")
    dockerfile = Path(args.dockerfile) if args.dockerfile else context / "Dockerfile"
    tags = _tags(args, None, dockerfile, build_args)
    name = args.name or repository.path.rsplit("/", 1)[-1]
    return [BuildSpec(name, dockerfile, context, repository, tags, args.target, build_args, {},
                      tuple(args.cache_from), args.platform, budget)]


def _tags(args: argparse.Namespace, config: Config | None, dockerfile: Path,
          build_args: dict[str, str]) -> tuple[str, ...]:
    from dify_action import tags as tag_policy
    from dify_action.build import dify_base_version
    from dify_action.errors import InputError

    if args.tag:
        return tuple(args.tag)
    if not args.revision:
        raise InputError("tag", "", "give --tag (repeatable), or --revision SHA so the tag policy applies")
    version = None
    if dockerfile.is_file():
        version = dify_base_version(dockerfile.read_text(encoding="utf-8", errors="replace"), build_args)
    context = tag_policy.GitContext(sha=args.revision, ref=args.ref, event=args.event,
                                    run_number=args.run_number, dify_version=version)
    rules = config.tags.rules if config else None
    flavor = config.tags.flavor if config else None
    computed = tag_policy.compute_tags(rules, context, flavor).tags
    if not computed:
        raise InputError("tag", "", "the tag policy produced no tag for this ref/event; give --tag")
    return computed


def _pair(text: str) -> tuple[str, str]:
    from dify_action.errors import InputError

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InputError("build-arg", text, "KEY=VALUE")
    return key, value


def _budget(args: argparse.Namespace) -> SizeBudget | None:
    from dify_action.build import SizeBudget
    from dify_action.config import parse_size
    from dify_action.errors import InputError

    values: dict[str, int | None] = {"fail": None, "warn": None}
    for key, flag, text in (("fail", "size-budget", args.size_budget), ("warn", "size-warn", args.size_warn)):
        if text:
            try:
                values[key] = parse_size(text)
            except ValueError:
                raise InputError(flag, text, "a size like 2GB, 800MB, 1.5GiB or bytes") from None
    return SizeBudget(values["warn"], values["fail"]) if any(values.values()) else None


def _config_budget(budget: object) -> SizeBudget | None:
    from dify_action.build import SizeBudget

    if budget is None:
        return None
    return SizeBudget(getattr(budget, "warn", None), getattr(budget, "fail", None))


def _config_username(args: argparse.Namespace) -> str | None:
    if not args.config:
        return None
    from dify_action import config as config_module

    return config_module.load(args.config).registry.username

