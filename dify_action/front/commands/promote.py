"""``dify-action promote``: promote what runs in one environment of the GitOps repo to another.

Environments come from ``--config`` (dify-action.yaml) or from ``--from-path``/``--to-path``. The
secrets are read here, the CLI layer: the registry password from DIFY_ACTION_REGISTRY_PASSWORD, the
GitOps token from GITOPS_TOKEN (or GITHUB_TOKEN).
"""

from __future__ import annotations

import argparse
import os

from dify_action.choices import PASSWORD_ENV, PROVIDERS, PUSH_MODES
from dify_action.front.commands.bump import add_release_arguments, add_sign_commits
from dify_action.resolve.request import GitOpsInputs, PromoteCommand

HELP = "Promote the images of one environment (e.g. staging) to another (e.g. production)."


def add_common(parser: argparse.ArgumentParser) -> None:
    """Flags promote and rollback share: GitOps repository, forge, registry, output."""
    add = parser.add_argument
    add("--gitops-repo", metavar="URL", help="https:// (or http://, file://, a path) GitOps repo (default: the "
        "config environment's repository)")
    add("--config", metavar="FILE", help="dify-action.yaml with environments (paths) and components")
    add("--base", metavar="BRANCH", help="GitOps branch (default: the config's or the repository's default)")
    add("--provider", choices=PROVIDERS, help="github: pull request; git: push a branch (default: "
        "the config's environment, else git)")
    add("--push-mode", choices=PUSH_MODES,
        help="branch (+ PR with github) or direct: commit on the base branch (default: the config "
             "environment's mode, else branch)")
    add("--github-api-url", metavar="URL", help="GitHub API base URL (default: https://api.github.com)")
    add("--github-repo", metavar="OWNER/NAME", help="repository for the API (default: from --gitops-repo)")
    add("--label", action="append", default=[], metavar="NAME", help="extra PR label (repeatable)")
    add_sign_commits(add)
    add("--registry-username", metavar="USER", help=f"registry user (password from ${PASSWORD_ENV})")
    add("--run-url", metavar="URL", help="workflow run URL for the PR body")
    add("--dry-run", action=argparse.BooleanOptionalAction, default=None,
        help="check everything and print the plan; change nothing")
    add("--json", action="store_true", help="print the result as JSON")
    add_release_arguments(add)  # issue 21


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--from-environment", dest="source", metavar="ENV", required=True,
        help="environment to promote from, e.g. staging")
    add("--to-environment", dest="target", metavar="ENV", required=True,
        help="environment to promote to, e.g. production")
    add("--from-path", dest="path_from", action="append", default=[], metavar="PATH",
        help="GitOps path of the from-environment (repeatable)")
    add("--to-path", dest="path_to", action="append", default=[], metavar="PATH",
        help="GitOps path of the to-environment (repeatable)")
    add("--image", action="append", default=[], metavar="REPOSITORY",
        help="promote only this repository (repeatable; default: the config's components, else every image "
             "of --from-environment that differs in --to-environment)")
    add("--helm-path", action="append", default=[], metavar="KEY.PATH",
        help="Helm key path in --to-environment (repeatable)")
    add("--registry-tag", metavar="TAG", help="also tag the promoted digest in the registry (manifest copy)")
    add("--require-gates", action=argparse.BooleanOptionalAction, default=None,
        help="refuse images whose gate record is missing or failed (default); --no-require-gates overrides")
    add("--require-verified", action=argparse.BooleanOptionalAction, default=None,
        help="refuse digests without a passed `dify-action verify` record from --from-environment (default); "
             "--no-require-verified overrides (said in the pull request)")
    add("--require-sbom", action=argparse.BooleanOptionalAction, default=None,
        help="refuse images without an SBOM attached in the registry (the pipeline attaches them)")
    add("--require-provenance", action=argparse.BooleanOptionalAction, default=None,  # issue 20
        help="refuse digests (every platform of an index) without SLSA provenance from --source-repository")
    add("--source-repository", metavar="URL",
        help="the source repository the provenance must name (with --require-provenance)")
    add("--pin-digest", action=argparse.BooleanOptionalAction, default=None,
        help="write tag@digest in --to-environment (default: as --from-environment does, or the config's "
             "pin-digest)")
    add_common(parser)


def gitops_inputs(args: argparse.Namespace) -> GitOpsInputs:
    """The destination flags promote and rollback share (``add_common``)."""
    return GitOpsInputs(repo=args.gitops_repo, base=args.base, provider=args.provider, push_mode=args.push_mode,
                        github_api_url=args.github_api_url, github_repo=args.github_repo, pr_labels=tuple(args.label),
                        dry_run=args.dry_run, sign_commits=args.sign_commits,
                        allow_version_skew=args.allow_version_skew)


def request(args: argparse.Namespace) -> PromoteCommand:
    from dify_action.front.common import cli_access, cli_context

    return PromoteCommand(
        from_environment=args.source, to_environment=args.target, config=args.config,
        from_paths=tuple(args.path_from), to_paths=tuple(args.path_to), images=tuple(args.image),
        helm_paths=tuple(args.helm_path), registry_tag=args.registry_tag, require_gates=args.require_gates,
        require_sbom=args.require_sbom, require_verified=args.require_verified, pin_digest=args.pin_digest,
        require_provenance=args.require_provenance, source_repository=args.source_repository,
        access=cli_access(args.registry_username, None, os.environ), gitops=gitops_inputs(args),
        context=cli_context(run_url=args.run_url))


def run(args: argparse.Namespace) -> int:
    from dify_action.front.common import cli_secrets, run_cli

    return run_cli(request(args), cli_secrets(os.environ), os.environ, as_json=args.json)
