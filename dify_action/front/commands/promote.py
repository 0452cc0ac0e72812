"""``dify-action promote``: promote what runs in one environment of the GitOps repo to another.

Environments come from ``--config`` (dify-action.yaml) or from ``--path-from``/``--path-to``. The
secrets are read here, the CLI layer: the registry password from DIFY_ACTION_REGISTRY_PASSWORD, the
GitOps token from GITOPS_TOKEN (or GITHUB_TOKEN).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from dify_action.choices import PASSWORD_ENV, USERNAME_ENV
from dify_action.resolve.request import Settings

if TYPE_CHECKING:
    from dify_action.releaseset import SetCheck

HELP = "Promote the images of one environment (e.g. staging) to another (e.g. production)."


def add_common(parser: argparse.ArgumentParser) -> None:
    """Flags promote and rollback share: GitOps repository, forge, registry, output."""
    add = parser.add_argument
    add("--gitops-repo", metavar="URL", help="https:// (or http://, file://, a path) GitOps repo (default: the "
        "config environment's repository)")
    add("--config", metavar="FILE", help="dify-action.yaml with environments (paths) and components")
    add("--base", metavar="BRANCH", help="GitOps branch (default: the config's or the repository's default)")
    add("--provider", choices=("github", "git"), help="github: pull request; git: push a branch (default: "
        "the config's environment, else git)")
    add("--push-mode", choices=("branch", "direct"),
        help="branch (+ PR with github) or direct: commit on the base branch (default: the config "
             "environment's mode, else branch)")
    add("--github-api-url", metavar="URL", help="GitHub API base URL (default: https://api.github.com)")
    add("--github-repo", metavar="OWNER/NAME", help="repository for the API (default: from --gitops-repo)")
    add("--label", action="append", default=[], metavar="NAME", help="extra PR label (repeatable)")
    add("--registry-username", metavar="USER", help=f"registry user (password from ${PASSWORD_ENV})")
    add("--run-url", metavar="URL", help="workflow run URL for the PR body")
    add("--dry-run", action="store_true", help="check everything and print the plan; change nothing")
    add("--json", action="store_true", help="print the result as JSON")
    add("--allow-version-skew", action="store_true",  # issue 21
        help="warn (in the PR body) instead of refusing a mismatched Dify release set")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    from dify_action.front.cli import deprecated

    add("--from-environment", "--from", dest="source", metavar="ENV", required=True, **deprecated("--from"),
        help="environment to promote from, e.g. staging (--from: deprecated)")
    add("--to-environment", "--to", dest="target", metavar="ENV", required=True, **deprecated("--to"),
        help="environment to promote to, e.g. production (--to: deprecated)")
    add("--from-path", "--path-from", dest="path_from", default=[], metavar="PATH",
        **deprecated("--path-from", append=True), help="GitOps path of the from-environment (repeatable)")
    add("--to-path", "--path-to", dest="path_to", default=[], metavar="PATH",
        **deprecated("--path-to", append=True), help="GitOps path of the to-environment (repeatable)")
    add("--image", action="append", default=[], metavar="REPOSITORY",
        help="promote only this repository (repeatable; default: the config's components, else every image "
             "of --from that differs in --to)")
    add("--helm-path", action="append", default=[], metavar="KEY.PATH", help="Helm key path in --to (repeatable)")
    add("--registry-tag", metavar="TAG", help="also tag the promoted digest in the registry (manifest copy)")
    add("--require-gates", action=argparse.BooleanOptionalAction, default=True,
        help="refuse images whose gate record is missing or failed (default); --no-require-gates overrides")
    add("--require-sbom", action="store_true",
        help="refuse images without an SBOM attached in the registry (the pipeline attaches them)")
    add("--pin-digest", action=argparse.BooleanOptionalAction, default=None,
        help="write tag@digest in --to (default: as --from does, or the config's pin-digest)")
    add_common(parser)


def remote_settings(args: argparse.Namespace) -> dict[str, object]:
    """The Settings fields of the flags promote and rollback share (``add_common``)."""
    return dict(gitops_repo=args.gitops_repo, config=args.config, base=args.base, provider=args.provider or "",
                push_mode=args.push_mode or "", github_api_url=args.github_api_url, github_repo=args.github_repo,
                labels=tuple(args.label), registry_username=args.registry_username or os.environ.get(USERNAME_ENV),
                run_url=args.run_url, dry_run=args.dry_run, allow_version_skew=args.allow_version_skew)


def print_notes(notes: list[str], dify_set: SetCheck | None = None) -> None:
    for line in dify_set.lines() if dify_set is not None else ():  # issue 21: the Dify set before and after
        print(line, file=sys.stderr)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from dify_action.front.common import cli_secrets, tool_environ
    from dify_action.pipeline.stages import CoreStages
    from dify_action.resolve import resolve

    settings = Settings(command="promote", from_environment=args.source, to_environment=args.target,
                        from_paths=tuple(args.path_from), to_paths=tuple(args.path_to),
                        promote_images=tuple(args.image),
                        helm_paths=tuple(args.helm_path), registry_tag=args.registry_tag,
                        require_gates=args.require_gates, require_sbom=args.require_sbom,
                        pin_digest=bool(args.pin_digest),
                        **remote_settings(args))  # type: ignore[arg-type]  # typed by add_common
    result = CoreStages(tool_environ(os.environ)).promote(resolve(settings, cli_secrets(os.environ)))
    print_notes([*result.notes, *(result.delivery.notes if result.delivery else ())], result.dify_set)
    if args.json:
        print(json.dumps(result.as_dict() | {"dry_run": bool(args.dry_run)}, indent=2))
        return 0
    if result.operation == "none":
        print(f"none: {args.target} already runs what {args.source} runs")
        return 0
    for p in result.images:
        copy = f", tagged {args.registry_tag}" if p.tag_copy else ""
        print(f"  {p.ref.name}:{p.ref.tag} @ {p.digest}{copy}")
    if result.operation == "planned":
        sys.stdout.write(result.diff)
        return 0
    d = result.delivery
    where = f"PR #{d.pr_number} {d.pr_url}" if d and d.pr_number else f"branch {d.branch if d else '-'}"
    print(f"{result.operation}: {where} (commit {d.commit if d else '-'})")
    return 0
