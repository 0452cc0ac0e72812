"""``dify-action bump``: set an image's tag everywhere it is deployed in a GitOps tree."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dify_action.bump import Target

HELP = "Set an image's tag (and digest) everywhere it is deployed in a GitOps tree."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gitops-dir", metavar="DIR", help="local GitOps working tree to edit")
    parser.add_argument(
        "--image", metavar="REPO:TAG[@DIGEST]", action="append", required=True,
        help="image to set, e.g. registry.example.com/acme/dify-api:1.14.0 (repeatable: every image goes "
             "into one change, one commit, one PR); a single repository without tag takes --tag/--digest",
    )
    parser.add_argument("--tag", help="the tag to deploy (with a single --image REPOSITORY)")
    parser.add_argument("--digest", metavar="sha256:HEX", help="pin the digest too (with a single --image REPOSITORY)")
    parser.add_argument(
        "--env-file", metavar="PATH",
        help="compose env file (relative to the GitOps root) that sets a tag variable such as "
             "DIFY_VERSION; without it a tag written as ${VAR} is refused",
    )
    parser.add_argument(
        "--path", action="append", default=[], metavar="PATH",
        help="file or directory relative to the GitOps root (repeatable; default: all of it)",
    )
    parser.add_argument(
        "--helm-path", action="append", default=[], metavar="KEY.PATH",
        help="Helm values key path whose value is the tag, e.g. image.api.tag (repeatable)",
    )
    parser.add_argument(
        "--config", metavar="FILE",
        help="dify-action.yaml: with --environment, its paths, helm-paths, repository, branch, provider and "
             "mode are the defaults of the flags not given",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the unified diff, write nothing")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    from dify_action.commands.bump_remote import add_remote_arguments

    add_remote_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from dify_action.bump import apply_plan, plan_bump
    from dify_action.errors import EditRefused, InputError

    if args.config:
        apply_environment(args)
    if args.gitops_repo and args.gitops_dir:
        raise InputError("gitops-dir", args.gitops_dir, "give either --gitops-dir or --gitops-repo, not both")
    if args.gitops_repo:
        from dify_action.commands.bump_remote import run_remote

        return run_remote(args)
    if not args.gitops_dir:
        raise InputError(
            "gitops-dir", "", "give --gitops-dir DIR (a local working tree) or --gitops-repo URL (clone, commit, PR)"
        )
    try:
        plan = plan_bump(Path(args.gitops_dir), targets(args), args.path)
    except EditRefused as error:
        for warning in error.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        raise
    if not args.dry_run:
        apply_plan(plan)
    for skip in plan.skipped:
        print(f"warning: skipped {skip.file}: {skip.reason}", file=sys.stderr)
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        result = plan.as_dict() | {"dry_run": bool(args.dry_run), "nothing_to_do": plan.nothing_to_do}
        print(json.dumps(result, indent=2))
    elif args.dry_run:
        sys.stdout.write(plan.diff())
    if not args.json:
        _summary(plan, dry_run=args.dry_run)
    return 0


def targets(args: argparse.Namespace) -> list[Target]:
    """The images of ``--image`` (repeatable ``repo:tag[@digest]``; or one repository + ``--tag``).

    ``args.helm_paths_by_image`` (from --config) gives each image its own helm paths. A --helm-path
    names one tag key: with several images it applies to all of them, so they must share the tag
    (a chart's ``global.image.tag`` that api and web both fall back to)."""
    from dify_action.bump import Target
    from dify_action.errors import InputError

    images: list[str] = list(args.image)
    by_image: dict[str, list[str]] = getattr(args, "helm_paths_by_image", {}) or {}
    if len(images) > 1 and (args.tag or args.digest):
        raise InputError("tag", args.tag or args.digest, "with several --image, write each as repo:tag[@digest]")
    env_file = getattr(args, "env_file", None)
    if len(images) == 1 and args.tag:
        return [Target.from_inputs(images[0], args.tag, args.digest, args.helm_path or by_image.get(images[0], ()),
                                   env_file)]
    if len(images) == 1 and args.digest:
        raise InputError("digest", args.digest, "give --digest with --tag, or write --image repo:tag@sha256:...")
    found = [Target.from_reference(image, args.helm_path or by_image.get(image, ()), env_file) for image in images]
    if args.helm_path and len({(target.tag, target.digest) for target in found}) > 1:
        raise InputError(
            "helm-path", args.helm_path[0], "names one tag key: with several --image it sets all of them, so they "
            "must have the same tag and digest (bump images with different tags without --helm-path)",
        )
    return found


def _summary(plan: object, *, dry_run: bool) -> None:
    from dify_action.bump import BumpPlan

    assert isinstance(plan, BumpPlan)
    out = sys.stderr if dry_run else sys.stdout
    if plan.nothing_to_do:
        print("nothing to do: every matching reference is already at the target", file=out)
        return
    verb = "would change" if dry_run else "changed"
    print(f"{verb} {len(plan.changes)} value(s) in {len(plan.edits)} file(s):", file=out)
    for change in plan.changes:
        print(f"  {change.file}:{change.line}  {change.old} -> {change.new}  ({change.where})", file=out)


def apply_environment(args: argparse.Namespace) -> None:
    """Fill the flags the user did not give from the config's environment (explicit flags win)."""
    from dify_action import config, refs
    from dify_action.errors import InputError

    loaded = config.load(args.config)
    if not args.environment:
        raise InputError("environment", "", "give --environment with --config (the environment to bump)")
    env = loaded.environment(args.environment)
    args.path = args.path or list(env.paths)
    args.helm_paths_by_image = {}
    for given in args.image:
        image = refs.try_parse(given)
        component = next((c for c in loaded.components if image and c.image.same_repository(image)), None)
        if component is not None:
            args.helm_paths_by_image[given] = list(env.helm_paths.get(component.name, ()))
    args.provider = args.provider or env.provider
    args.push_mode = args.push_mode or ("direct" if env.mode == "direct" else "branch")
    args.base = args.base or env.branch
    repository = env.repository
    if repository and not args.gitops_repo and not args.gitops_dir:
        if "://" in repository or repository.startswith(("/", ".")):
            args.gitops_repo = repository
        elif args.github_api_url.rstrip("/") == "https://api.github.com":
            args.gitops_repo = f"https://github.com/{repository}.git"
    if repository and "://" not in repository and not repository.startswith(("/", ".")):
        args.github_repo = args.github_repo or repository
