"""``dify-action bump``: set images' tags everywhere they are deployed in a GitOps tree: a local
working tree (``--gitops-dir``), or a repository cloned, committed and pushed as a branch, a pull
request or a direct commit (``--gitops-repo``). The token is read by the CLI layer
(``front.common.cli_secrets``: GITOPS_TOKEN, then GITHUB_TOKEN); the core never reads the environment."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from dify_action.choices import PASSWORD_ENV, PROVIDERS, PUSH_MODES
from dify_action.resolve.request import BumpCommand, BumpInputs, GitOpsInputs

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
    add_release_arguments(parser.add_argument, bump=True)  # issue 21
    parser.add_argument("--registry-username", metavar="USER",
                        help=f"registry user to read the images' recorded Dify facts (password from ${PASSWORD_ENV}; "
                             "default: the config's registry.username)")
    parser.add_argument("--dry-run", action=argparse.BooleanOptionalAction, default=None,
        help="print the unified diff, write nothing")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    add_remote_arguments(parser)


def request(args: argparse.Namespace) -> BumpCommand:
    import os

    from dify_action.front.common import cli_access, cli_context

    bump = BumpInputs(environment=args.environment, images=tuple(args.image), tag=args.tag, digest=args.digest,
                      paths=tuple(args.path), helm_paths=tuple(args.helm_path), env_file=args.env_file,
                      dify_version_old=args.dify_version_old,
                      dify_version_new=args.dify_version_new, dify_release=args.dify_release)
    gitops = GitOpsInputs(
        repo=args.gitops_repo, directory=args.gitops_dir, base=args.base, provider=args.provider,
        push_mode=args.push_mode, github_api_url=args.github_api_url, github_repo=args.github_repo,
        pr_labels=tuple(args.label), reviewers=tuple(args.reviewer), draft=args.draft, dry_run=args.dry_run,
        author_name=args.author_name, author_email=args.author_email, title_template=args.title_template,
        commit_message=args.commit_message, group=args.group, max_attempts=args.max_attempts,
        sign_commits=args.sign_commits, allow_version_skew=args.allow_version_skew)
    context = cli_context(source=args.source_repo, revision=args.source_sha, run_url=args.run_url)
    return BumpCommand(args.config, bump, gitops, context, cli_access(args.registry_username, None, os.environ))


def run(args: argparse.Namespace) -> int:
    import os

    from dify_action.front.common import cli_secrets, run_cli

    return run_cli(request(args), cli_secrets(os.environ), os.environ, as_json=args.json)


def add_sign_commits(add: Callable[..., Any]) -> None:
    """``--sign-commits`` (issue 19), shared by bump, pipeline, promote and rollback."""
    add("--sign-commits", action=argparse.BooleanOptionalAction, default=None,
        help="commit through GitHub's API so GitHub signs the commit (verified with a GitHub App token or "
             "GITHUB_TOKEN; default: the config environment's sign-commits, else no)")


def add_release_arguments(add: Callable[..., Any], *, bump: bool = False) -> None:
    """The Dify release set's flags (issue 21): bump, pipeline, promote and rollback."""
    if bump:
        add("--dify-release", metavar="VERSION",
            help="move every official Dify image of the environment (api, web, agent images, sandbox, plugin-daemon) "
                 "to this release's pairing, in the same change")
    add("--allow-version-skew", action=argparse.BooleanOptionalAction, default=None,
        help="warn (in the PR body) instead of refusing a mismatched Dify release set (default: the config's "
             "dify.allow-version-skew, else no)")


def add_remote_arguments(parser: argparse.ArgumentParser) -> None:
    """Only the remote-mode flags; the shared ones come from ``commands/bump.py``."""
    group = parser.add_argument_group("remote GitOps repository (with --gitops-repo)")
    add = group.add_argument
    add("--gitops-repo", metavar="URL", help="https:// (or http://, file://, a path) URL of the GitOps repo")
    add("--base", metavar="BRANCH", help="branch to bump (default: the repository's default branch)")
    add("--environment", metavar="ENV", help="environment name, e.g. staging (names the branch and PR)")
    add("--provider", choices=PROVIDERS,
        help="github: open a PR; git: push only (default: the --config environment's, else github when the "
             "repository is on GitHub, else git)")
    add("--push-mode", choices=PUSH_MODES,
        help="branch: dify-action/<env>/<group> (+ PR); direct: commit on the base branch")
    add("--group", metavar="NAME", help="component group in the branch name (default: the image names)")
    add("--github-api-url", metavar="URL",
        help="GitHub API base URL (default https://api.github.com; GitHub Enterprise: https://HOST/api/v3)")
    add("--github-repo", metavar="OWNER/NAME", help="repository for the API (default: from --gitops-repo)")
    add("--label", action="append", default=[], metavar="NAME", help="label for the PR (repeatable)")
    add("--reviewer", action="append", default=[], metavar="LOGIN|ORG/TEAM", help="reviewer (repeatable)")
    add("--draft", action=argparse.BooleanOptionalAction, default=None,
        help="open the PR as a draft")
    add_sign_commits(add)
    add("--title-template", metavar="TEMPLATE", help="PR title, default 'deploy({environment}): {images}'")
    add("--commit-message", metavar="TEMPLATE", help="commit message template (same placeholders)")
    add("--author-name", metavar="NAME", help="commit author and committer name")
    add("--author-email", metavar="EMAIL", help="commit author and committer email")
    add("--source-sha", metavar="SHA", help="commit of the source repository that built the image")
    add("--source-repo", metavar="URL", help="source repository (URL or owner/name) for the PR body")
    add("--run-url", metavar="URL", help="workflow run URL for the PR body")
    add("--dify-version-old", metavar="VERSION", help="Dify base version deployed now (PR body)")
    add("--dify-version-new", metavar="VERSION", help="Dify base version of the new image (PR body)")
    add("--max-attempts", type=int, metavar="N", help="direct mode: push attempts when base moves")

