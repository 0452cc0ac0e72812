"""``dify-action bump``: set images' tags everywhere they are deployed in a GitOps tree: a local
working tree (``--gitops-dir``), or a repository cloned, committed and pushed as a branch, a pull
request or a direct commit (``--gitops-repo``). The token is read by the CLI layer
(``frontend.cli_secrets``: GITOPS_TOKEN, then GITHUB_TOKEN); the core never reads the environment."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from dify_action.resolve.request import Settings

if TYPE_CHECKING:
    from dify_action.delivery import DeliveryResult

HELP = "Set an image's tag (and digest) everywhere it is deployed in a GitOps tree."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gitops-dir", metavar="DIR", help="local GitOps working tree to edit")
    parser.add_argument(
        "--image", metavar="REPO:TAG[@DIGEST]", action="append", default=[],
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
    add_release_arguments(parser, bump=True)  # issue 21
    parser.add_argument("--dry-run", action="store_true", help="print the unified diff, write nothing")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
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
        max_attempts=args.max_attempts, dify_release=args.dify_release, allow_version_skew=args.allow_version_skew)


def run(args: argparse.Namespace) -> int:
    import os

    from dify_action.bump import BumpPlan
    from dify_action.errors import EditRefused, InputError
    from dify_action.front.common import cli_secrets, tool_environ
    from dify_action.pipeline.stages import CoreStages
    from dify_action.releaseset import enforce
    from dify_action.resolve import resolve

    if not args.image and not args.dify_release:
        raise InputError("image", "", "the image to deploy (--image REPO:TAG, repeatable), or --dify-release VERSION")
    plan = resolve(settings(args), cli_secrets(os.environ))
    assert plan.gitops is not None
    stages = CoreStages(tool_environ(os.environ))
    try:
        checked = stages.release_set(plan, plan.gitops, plan.bump)  # issue 21: refuses before any side effect
        for line in (*checked.lines(), *(f"warning: {w}" for w in enforce(checked))):
            print(line, file=sys.stderr)
        outcome = stages.bump(plan, plan.gitops, checked.targets)
    except EditRefused as error:  # the skipped files explain a refusal: print them beside it
        for warning in error.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        raise
    if not isinstance(outcome, BumpPlan):
        return report(outcome, as_json=args.json, extra={"dify_set": checked.as_dict()})
    for skip in outcome.skipped:
        print(f"warning: skipped {skip.file}: {skip.reason}", file=sys.stderr)
    for note in outcome.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        result = outcome.as_dict() | {"dry_run": bool(args.dry_run), "nothing_to_do": outcome.nothing_to_do,
                                      "dify_set": checked.as_dict()}
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


def add_remote_arguments(parser: argparse.ArgumentParser) -> None:
    """Only the remote-mode flags; the shared ones come from ``commands/bump.py``."""
    group = parser.add_argument_group("remote GitOps repository (with --gitops-repo)")
    add = group.add_argument
    add("--gitops-repo", metavar="URL", help="https:// (or http://, file://, a path) URL of the GitOps repo")
    add("--base", metavar="BRANCH", help="branch to bump (default: the repository's default branch)")
    add("--environment", metavar="ENV", help="environment name, e.g. staging (names the branch and PR)")
    add("--provider", choices=("github", "git"),
        help="github: open a PR; git: push only (default: the --config environment's, else github when the "
             "repository is on GitHub, else git)")
    add("--push-mode", choices=("branch", "direct"),
        help="branch: dify-action/<env>/<group> (+ PR); direct: commit on the base branch")
    add("--group", metavar="NAME", help="component group in the branch name (default: the image names)")
    add("--github-api-url", metavar="URL",
        help="GitHub API base URL (default https://api.github.com; GitHub Enterprise: https://HOST/api/v3)")
    add("--github-repo", metavar="OWNER/NAME", help="repository for the API (default: from --gitops-repo)")
    add("--label", action="append", default=[], metavar="NAME", help="label for the PR (repeatable)")
    add("--reviewer", action="append", default=[], metavar="LOGIN|ORG/TEAM", help="reviewer (repeatable)")
    add("--draft", action="store_true", help="open the PR as a draft")
    add("--title-template", metavar="TEMPLATE", help="PR title, default 'deploy({environment}): {images}'")
    add("--commit-message", metavar="TEMPLATE", help="commit message template (same placeholders)")
    add("--author-name", metavar="NAME", help="commit author and committer name")
    add("--author-email", metavar="EMAIL", help="commit author and committer email")
    add("--source-sha", metavar="SHA", help="commit of the source repository that built the image")
    add("--source-repo", metavar="URL", help="source repository (URL or owner/name) for the PR body")
    add("--run-url", metavar="URL", help="workflow run URL for the PR body")
    add("--dify-version-old", metavar="VERSION", help="Dify base version deployed now (PR body)")
    add("--dify-version-new", metavar="VERSION", help="Dify base version of the new image (PR body)")
    add("--max-attempts", type=int, default=8, metavar="N", help="direct mode: push attempts when base moves")


def add_release_arguments(parser: argparse.ArgumentParser, *, bump: bool = False) -> None:
    """Issue 21: the Dify release set's flags (bump, pipeline, promote, rollback, check)."""
    if bump:
        parser.add_argument("--dify-release", metavar="VERSION",
                            help="move every official Dify image of the environment (api, web, agent images, sandbox, "
                                 "plugin-daemon) to this release's pairing, in the same change")
    parser.add_argument("--allow-version-skew", action="store_true",
                        help="warn (in the PR body) instead of refusing a mismatched Dify release set")


def report(result: DeliveryResult, *, as_json: bool, extra: dict[str, object] | None = None) -> int:
    """Print what a delivery did (the CLI's rendering of ``DeliveryResult``)."""
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if result.clone and result.clone.reason:
        print(f"note: clone {result.clone.strategy}: {result.clone.reason}", file=sys.stderr)
    if as_json:
        print(json.dumps(result.as_dict() | (extra or {}), indent=2))
        return 0
    where = f"PR #{result.pr_number} {result.pr_url}" if result.pr_number else f"branch {result.branch}"
    print(f"{result.operation}: {where} (commit {result.commit or '-'}, {len(result.changes)} value(s))")
    for change in result.changes:
        print(f"  {change.file}:{change.line}  {change.old} -> {change.new}")
    return 0
