"""``dify-action bump``: set an image's tag everywhere it is deployed in a GitOps tree."""

from __future__ import annotations

import argparse
import json
import sys

from dify_action.settings import Settings

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


def settings(args: argparse.Namespace) -> Settings:
    return Settings(
        command="bump", gitops_dir=args.gitops_dir, gitops_repo=args.gitops_repo, images=tuple(args.image),
        tag=args.tag, env_file=args.env_file,
        digest=args.digest, paths=tuple(args.path), helm_paths=tuple(args.helm_path), config=args.config,
        environment=args.environment, dry_run=args.dry_run, base=args.base, provider=args.provider or "",
        push_mode=args.push_mode or "", group=args.group, github_api_url=args.github_api_url,
        github_repo=args.github_repo, labels=tuple(args.label), reviewers=tuple(args.reviewer), draft=args.draft,
        title_template=args.title_template, commit_message=args.commit_message, author_name=args.author_name,
        author_email=args.author_email, revision=args.source_sha, source=args.source_repo, run_url=args.run_url,
        dify_version_old=args.dify_version_old, dify_version_new=args.dify_version_new,
        max_attempts=args.max_attempts)


def run(args: argparse.Namespace) -> int:
    import os

    from dify_action.bump import BumpPlan
    from dify_action.errors import EditRefused
    from dify_action.frontend import cli_secrets, tool_environ
    from dify_action.resolve import resolve
    from dify_action.stages import CoreStages

    plan = resolve(settings(args), cli_secrets(os.environ))
    assert plan.gitops is not None
    try:
        outcome = CoreStages(tool_environ(os.environ)).bump(plan, plan.gitops, plan.bump)
    except EditRefused as error:  # the skipped files explain a refusal: print them beside it
        for warning in error.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        raise
    if not isinstance(outcome, BumpPlan):
        from dify_action.commands.bump_remote import report

        return report(outcome, as_json=args.json)
    for skip in outcome.skipped:
        print(f"warning: skipped {skip.file}: {skip.reason}", file=sys.stderr)
    for note in outcome.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        result = outcome.as_dict() | {"dry_run": bool(args.dry_run), "nothing_to_do": outcome.nothing_to_do}
        print(json.dumps(result, indent=2))
    elif args.dry_run:
        sys.stdout.write(outcome.diff())
    if not args.json:
        _summary(outcome, dry_run=args.dry_run)
    return 0


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
