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

if TYPE_CHECKING:
    from dify_action.config import Config
    from dify_action.promote import RegistryFor

HELP = "Promote the images of one environment (e.g. staging) to another (e.g. production)."
PASSWORD_ENV = "DIFY_ACTION_REGISTRY_PASSWORD"  # noqa: S105 - a variable name, not a secret
USERNAME_ENV = "DIFY_ACTION_REGISTRY_USERNAME"


def add_common(parser: argparse.ArgumentParser) -> None:
    """Flags promote and rollback share: GitOps repository, forge, registry, output."""
    add = parser.add_argument
    add("--gitops-repo", metavar="URL", required=True, help="https:// (or http://, file://, a path) GitOps repo")
    add("--config", metavar="FILE", help="dify-action.yaml with environments (paths) and components")
    add("--base", metavar="BRANCH", help="GitOps branch (default: the config's or the repository's default)")
    add("--provider", choices=("github", "git"), help="github: pull request; git: push a branch (default: "
        "the config's environment, else git)")
    add("--push-mode", choices=("branch", "direct"), default="branch",
        help="branch (default; + PR with github) or direct: commit on the base branch")
    add("--github-api-url", metavar="URL", default="https://api.github.com", help="GitHub API base URL")
    add("--github-repo", metavar="OWNER/NAME", help="repository for the API (default: from --gitops-repo)")
    add("--label", action="append", default=[], metavar="NAME", help="extra PR label (repeatable)")
    add("--registry-username", metavar="USER", help=f"registry user (password from ${PASSWORD_ENV})")
    add("--run-url", metavar="URL", help="workflow run URL for the PR body")
    add("--dry-run", action="store_true", help="check everything and print the plan; change nothing")
    add("--json", action="store_true", help="print the result as JSON")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--from", dest="source", metavar="ENV", required=True, help="environment to promote from, e.g. staging")
    add("--to", dest="target", metavar="ENV", required=True, help="environment to promote to, e.g. production")
    add("--path-from", action="append", default=[], metavar="PATH", help="GitOps path of --from (repeatable)")
    add("--path-to", action="append", default=[], metavar="PATH", help="GitOps path of --to (repeatable)")
    add("--image", action="append", default=[], metavar="REPOSITORY",
        help="promote only this repository (repeatable; default: the config's components, else every image "
             "of --from that differs in --to)")
    add("--helm-path", action="append", default=[], metavar="KEY.PATH", help="Helm key path in --to (repeatable)")
    add("--registry-tag", metavar="TAG", help="also tag the promoted digest in the registry (manifest copy)")
    add("--require-gates", action=argparse.BooleanOptionalAction, default=True,
        help="refuse images whose gate record is missing or failed (default); --no-require-gates overrides")
    add("--pin-digest", action=argparse.BooleanOptionalAction, default=None,
        help="write tag@digest in --to (default: as --from does, or the config's pin-digest)")
    add_common(parser)


def load_config(args: argparse.Namespace) -> Config | None:
    if not args.config:
        return None
    from dify_action import config

    return config.load(args.config)


def registry_for(args: argparse.Namespace, cfg: Config | None) -> RegistryFor:
    """Registry clients per host, created on first use, with the credentials of the CLI layer."""
    from dify_action.errors import InputError
    from dify_action.registry import Credentials, RegistryClient

    username = args.registry_username or os.environ.get(USERNAME_ENV) or (cfg.registry.username if cfg else None)
    password = os.environ.get(PASSWORD_ENV)
    if username and not password:
        raise InputError("registry-password", "", f"set {PASSWORD_ENV} for registry user {username!r}")
    creds = Credentials(username, password) if username and password else None
    clients: dict[str, RegistryClient] = {}

    def get(host: str) -> RegistryClient:
        if host not in clients:
            clients[host] = RegistryClient(host, creds)
        return clients[host]

    return get


def print_notes(notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from dify_action.commands.bump_remote import read_token
    from dify_action.delivery import Identity
    from dify_action.errors import InputError
    from dify_action.promote import PromoteRequest, promote

    cfg = load_config(args)
    source_paths, target_paths = tuple(args.path_from), tuple(args.path_to)
    provider, base, pin, helm = args.provider, args.base, args.pin_digest, args.helm_path
    ours: tuple[str, ...] = ()
    if cfg is not None:
        src = cfg.environment(args.source, input_name="from")
        dst = cfg.environment(args.target, input_name="to")
        source_paths = source_paths or src.paths
        target_paths = target_paths or dst.paths
        provider = provider or dst.provider
        base = base or dst.branch
        pin = dst.pin_digest if pin is None and dst.pin_digest else pin
        ours = tuple(c.image.name for c in cfg.components)
        helm = helm or [p for paths in dst.helm_paths.values() for p in paths]
    if not source_paths or not target_paths:
        raise InputError("path-from" if not source_paths else "path-to", "",
                         "give --path-from and --path-to, or --config with both environments")
    request = PromoteRequest(
        repo_url=args.gitops_repo, source=args.source, target=args.target, source_paths=source_paths,
        target_paths=target_paths, images=tuple(args.image), ours=ours, helm_paths=tuple(helm), base=base,
        provider=provider or "git", push_mode=args.push_mode, registry_tag=args.registry_tag,
        require_gates=args.require_gates, pin_digest=pin, dry_run=args.dry_run, token=read_token(),
        github_api_url=args.github_api_url, github_repo=args.github_repo, labels=tuple(args.label),
        author=Identity(), run_url=args.run_url,
    )
    request.validate()
    result = promote(request, registry_for(args, cfg))
    print_notes([*result.notes, *(result.delivery.notes if result.delivery else ())])
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
