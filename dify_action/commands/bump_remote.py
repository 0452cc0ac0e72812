"""``dify-action bump --gitops-repo URL ...``: deliver the bump as a PR, a branch or a direct push.

The lead's ``bump`` command owns --image/--tag/--digest/--path/--helm-path/--dry-run/--json and
dispatches here when --gitops-repo is given. The token is read here (the CLI layer) from
GITOPS_TOKEN, falling back to GITHUB_TOKEN; the core never reads the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

TOKEN_VARIABLES = ("GITOPS_TOKEN", "GITHUB_TOKEN")


def add_remote_arguments(parser: argparse.ArgumentParser) -> None:
    """Only the remote-mode flags; the shared ones come from ``commands/bump.py``."""
    group = parser.add_argument_group("remote GitOps repository (with --gitops-repo)")
    add = group.add_argument
    add("--gitops-repo", metavar="URL", help="https:// (or http://, file://, a path) URL of the GitOps repo")
    add("--base", metavar="BRANCH", help="branch to bump (default: the repository's default branch)")
    add("--environment", metavar="ENV", help="environment name, e.g. staging (names the branch and PR)")
    add("--provider", choices=("github", "git"),
        help="github: open a PR; git: push only (default: the --config environment's, else git)")
    add("--push-mode", choices=("branch", "direct"),
        help="branch: dify-action/<env>/<group> (+ PR); direct: commit on the base branch")
    add("--group", metavar="NAME", help="component group in the branch name (default: the image names)")
    add("--github-api-url", metavar="URL", default="https://api.github.com",
        help="GitHub API base URL (GitHub Enterprise: https://HOST/api/v3)")
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


def read_token(environ: dict[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    for name in TOKEN_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def run_remote(args: argparse.Namespace) -> int:
    from dify_action.commands.bump import targets
    from dify_action.delivery import DeliveryRequest, Identity, deliver
    from dify_action.delivery.model import DEFAULT_MESSAGE, DEFAULT_TITLE
    from dify_action.errors import EditRefused, InputError

    if not args.environment:
        raise InputError("environment", "", "give --environment (e.g. staging) with --gitops-repo")
    if getattr(args, "dry_run", False):
        raise InputError("dry-run", True, "not supported with --gitops-repo; use --gitops-dir on a clone")
    default = Identity()
    who = Identity(args.author_name or default.name, args.author_email or default.email)
    request = DeliveryRequest(
        repo_url=args.gitops_repo, environment=args.environment, targets=tuple(targets(args)), paths=tuple(args.path),
        base=args.base, provider=args.provider or "git", push_mode=args.push_mode or "branch", group=args.group,
        token=read_token(), github_api_url=args.github_api_url, github_repo=args.github_repo,
        labels=tuple(args.label), reviewers=tuple(args.reviewer), draft=args.draft,
        title_template=args.title_template or DEFAULT_TITLE,
        message_template=args.commit_message or DEFAULT_MESSAGE, author=who, committer=who,
        source_sha=args.source_sha, source_repo=args.source_repo, run_url=args.run_url,
        dify_version_old=args.dify_version_old, dify_version_new=args.dify_version_new,
        max_attempts=args.max_attempts,
    )
    try:
        result = deliver(request)
    except EditRefused as error:  # the skipped files explain a refusal: print them on this path too
        for warning in error.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        raise
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if result.clone and result.clone.reason:
        print(f"note: clone {result.clone.strategy}: {result.clone.reason}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    where = f"PR #{result.pr_number} {result.pr_url}" if result.pr_number else f"branch {result.branch}"
    print(f"{result.operation}: {where} (commit {result.commit or '-'}, {len(result.changes)} value(s))")
    for change in result.changes:
        print(f"  {change.file}:{change.line}  {change.old} -> {change.new}")
    return 0
