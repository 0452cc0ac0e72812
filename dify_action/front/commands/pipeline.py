"""``dify-action pipeline``: build -> test -> scan -> record gates -> bump, the action's pipeline.

The same core (``dify_action.pipeline.run``) the action's ``command: pipeline`` runs, with the run's
context as flags (--revision, --ref, --event, --run-number) instead of GITHUB_*. Secrets are read
here, the CLI layer: the registry password from DIFY_ACTION_REGISTRY_PASSWORD, the GitOps token
from GITOPS_TOKEN (or GITHUB_TOKEN). Progress goes to stderr; the result to stdout.
"""

from __future__ import annotations

import argparse
import os

from dify_action.choices import BUILDERS, PASSWORD_ENV, PROVIDERS, PUSH_MODES
from dify_action.front.commands.bump import add_release_arguments, add_sign_commits
from dify_action.resolve.request import BuildInputs, BumpInputs, GitOpsInputs, PipelineCommand, ScanInputs, SmokeInputs

HELP = "Run the whole pipeline: build, smoke-test, scan, record the gates, bump the GitOps repository."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--config", metavar="FILE", required=True, help="dify-action.yaml declaring the components")
    add("--component", action="append", default=[], metavar="NAME",
        help="only this component of the config (repeatable; default: all)")
    add("--registry-username", metavar="USER", help=f"registry user (password from ${PASSWORD_ENV})")
    add("--tag", action="append", default=[], help="tag to push (repeatable; default: the config's tag policy)")
    add("--build-arg", action="append", default=[], metavar="KEY=VALUE", help="build argument (repeatable)")
    add("--secret", action="append", default=[], metavar="id=ID,src=FILE|env=VAR",
        help="BuildKit secret (repeatable; see build --secret)")
    add("--builder", choices=BUILDERS, help="see `build --builder` (default: auto)")
    add("--push", action=argparse.BooleanOptionalAction, default=None,
        help="push the tags (default)")
    add("--docker-host", metavar="URL", help="Docker engine (default: $DOCKER_HOST)")
    meta = parser.add_argument_group("the run (labels and tag policy)")
    meta.add_argument("--source", metavar="URL", help="source repository URL")
    meta.add_argument("--revision", metavar="SHA", help="the commit built")
    meta.add_argument("--ref", help="git ref for the tag policy (default: refs/heads/main)")
    meta.add_argument("--event", help="event name for the tag policy (default: push)")
    meta.add_argument("--run-number", type=int, help="CI run number for the tag policy")
    meta.add_argument("--event-path", metavar="FILE", help="the event's JSON payload (see build --event-path)")
    meta.add_argument("--run-url", metavar="URL", help="workflow run URL for the PR body")
    scan = parser.add_argument_group("scan")
    scan.add_argument("--severity", choices=["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"])
    scan.add_argument("--sarif", metavar="FILE", help="write SARIF 2.1.0 for code scanning")
    scan.add_argument("--offline", action=argparse.BooleanOptionalAction, default=None,
        help="never download Trivy's databases")
    gitops = parser.add_argument_group("bump (without --gitops-repo/--gitops-dir the pipeline stops after the gates)")
    gitops.add_argument("--gitops-repo", metavar="URL", help="GitOps repository (https://, file://, a path)")
    gitops.add_argument("--gitops-dir", metavar="DIR", help="local GitOps working tree to edit instead")
    gitops.add_argument("--environment", metavar="ENV", help="environment name, e.g. staging")
    gitops.add_argument("--base", metavar="BRANCH", help="branch to bump (default: the repository's default)")
    gitops.add_argument("--provider", choices=PROVIDERS,
                        help="github: open a PR; git: push a branch only (default: the --config "
                             "environment's, else github as in the action)")
    gitops.add_argument("--push-mode", choices=PUSH_MODES,
                        help="default: the --config environment's mode, else branch")
    gitops.add_argument("--path", action="append", default=[], metavar="PATH",
                        help="GitOps file or directory to edit (repeatable; default: all)")
    gitops.add_argument("--helm-path", action="append", default=[], metavar="KEY.PATH",
                        help="Helm values key path whose value is the tag (repeatable)")
    gitops.add_argument("--pin-digest", action=argparse.BooleanOptionalAction, default=None,
                        help="write tag@digest (default: the config environment's pin-digest, else no)")
    gitops.add_argument("--github-api-url", metavar="URL", help="GitHub API base URL")
    gitops.add_argument("--github-repo", metavar="OWNER/NAME", help="repository for the API")
    gitops.add_argument("--label", action="append", default=[], metavar="NAME", help="PR label (repeatable)")
    gitops.add_argument("--reviewer", action="append", default=[], metavar="LOGIN", help="reviewer (repeatable)")
    gitops.add_argument("--draft", action=argparse.BooleanOptionalAction, default=None,
        help="open the PR as a draft")
    add_sign_commits(gitops.add_argument)
    add_release_arguments(gitops.add_argument)  # issue 21
    gitops.add_argument("--dry-run", action=argparse.BooleanOptionalAction, default=None,
                        help="with --gitops-dir: print the diff, write nothing")
    add("--summary", metavar="FILE", help="append the Markdown report (e.g. $GITHUB_STEP_SUMMARY)")
    add("--json", action="store_true", help="print the result as JSON")


def request(args: argparse.Namespace) -> PipelineCommand:
    from dify_action.front.common import cli_access, cli_context, secret_files

    build = BuildInputs(tags=tuple(args.tag), build_args=tuple(args.build_arg), push=args.push, builder=args.builder,
                        secret_files=secret_files(args.secret))
    scan = ScanInputs(severity=args.severity, sarif_file=args.sarif, offline=args.offline)
    bump = BumpInputs(environment=args.environment, paths=tuple(args.path), helm_paths=tuple(args.helm_path),
                      pin_digest=args.pin_digest)
    gitops = GitOpsInputs(repo=args.gitops_repo, directory=args.gitops_dir, base=args.base, provider=args.provider,
                          push_mode=args.push_mode, github_api_url=args.github_api_url, github_repo=args.github_repo,
                          pr_labels=tuple(args.label), reviewers=tuple(args.reviewer), draft=args.draft,
                          dry_run=args.dry_run, sign_commits=args.sign_commits,
                          allow_version_skew=args.allow_version_skew)
    context = cli_context(source=args.source, revision=args.revision, ref=args.ref, event=args.event,
                          run_number=args.run_number, run_url=args.run_url, event_path=args.event_path)
    return PipelineCommand(args.config, tuple(args.component),
                           cli_access(args.registry_username, args.docker_host, os.environ), build, SmokeInputs(),
                           scan, bump, gitops, context)


def run(args: argparse.Namespace) -> int:
    from dify_action.front.common import cli_secrets, run_cli

    return run_cli(request(args), cli_secrets(os.environ, args.secret), os.environ, as_json=args.json,
                   summary=args.summary)
