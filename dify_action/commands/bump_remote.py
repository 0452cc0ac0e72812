"""``dify-action bump --gitops-repo URL ...``: deliver the bump as a PR, a branch or a direct push.

``commands/bump.py`` owns --image/--tag/--digest/--path/--helm-path/--dry-run/--json; these are the
remote flags and the rendering of a delivery. The token is read by the CLI layer
(``frontend.cli_secrets``: GITOPS_TOKEN, then GITHUB_TOKEN); the core never reads the environment.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dify_action.delivery import DeliveryResult


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


def report(result: DeliveryResult, *, as_json: bool) -> int:
    """Print what a delivery did (the CLI's rendering of ``DeliveryResult``)."""
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if result.clone and result.clone.reason:
        print(f"note: clone {result.clone.strategy}: {result.clone.reason}", file=sys.stderr)
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    where = f"PR #{result.pr_number} {result.pr_url}" if result.pr_number else f"branch {result.branch}"
    print(f"{result.operation}: {where} (commit {result.commit or '-'}, {len(result.changes)} value(s))")
    for change in result.changes:
        print(f"  {change.file}:{change.line}  {change.old} -> {change.new}")
    return 0
