"""``dify-action verify``: does an environment run exactly what its GitOps branch declares, healthy?

Waits (progress on stderr) until verified (exit 0), a definite failure or the timeout (exit 1, the
message names the cause); bad input is exit 2 before anything is contacted. The CLI reads, here
and only here, the variables the tools themselves read: ARGOCD_SERVER and ARGOCD_AUTH_TOKEN (the
argocd CLI's), KUBECONFIG (every kubeconfig client's), DOCKER_HOST, the GitOps token
(GITOPS_TOKEN, GITHUB_TOKEN) and the registry password (DIFY_ACTION_REGISTRY_PASSWORD): the
verdict is recorded next to each digest, so verify needs push access to the image repositories.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dify_action.verify import VerifyInputs

HELP = "Verify that an environment runs what its GitOps branch declares (Argo CD, Flux, Kubernetes, compose, Dify)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dify_action.choices import PASSWORD_ENV

    add = parser.add_argument
    add("--config", metavar="FILE", required=True, help="dify-action.yaml whose environment has a verify section")
    add("--environment", metavar="ENV", required=True, help="the environment to verify, e.g. staging")
    add("--commit", metavar="SHA", help="the GitOps commit to verify (default: the head of the environment's branch)")
    add("--timeout", metavar="DURATION", help="give up after this long, e.g. 15m (default: the config's, else 15m)")
    add("--soak", metavar="DURATION", help="stay verified this long after the first success (default: 0)")
    add("--interval", metavar="DURATION", help="time between readings (default: the config's, else 5s)")
    add("--on-failure", choices=("none", "rollback"), help="rollback: open the revert of the environment's last "
        "bump on a definite failure (migration guard included)")
    add("--argocd-server", metavar="URL", help="Argo CD API server, a URL or HOST[:PORT] (default: $ARGOCD_SERVER, "
        "then the config); the token comes from $ARGOCD_AUTH_TOKEN")
    add("--kubeconfig", metavar="FILE", help="kubeconfig for the flux/kubernetes sources (default: $KUBECONFIG, "
        "then ~/.kube/config)")
    add("--gitops-repo", metavar="URL", help="the GitOps repository (default: the environment's repository)")
    add("--gitops-dir", metavar="DIR", help="a local clone of the GitOps repository (with its history)")
    add("--base", metavar="BRANCH", help="the environment's branch (default: the config's)")
    add("--docker-host", metavar="URL", help="Docker engine of the docker source (default: $DOCKER_HOST)")
    add("--registry-username", metavar="USER", help=f"registry user (password from ${PASSWORD_ENV})")
    add("--github-api-url", metavar="URL", help="GitHub API for on-failure rollback (default: https://api.github.com)")
    add("--github-repo", metavar="OWNER/NAME", help="repository for the API (default: from the config)")
    add("--provider", choices=("github", "git"), help="how a rollback is delivered (default: the environment's)")
    add("--label", action="append", default=[], metavar="NAME", help="extra rollback PR label (repeatable)")
    add("--summary", metavar="FILE", help="append the Markdown summary to FILE")
    add("--json", action="store_true", help="print the result as JSON")


def kubeconfig_path(flag: str | None, environ: Mapping[str, str]) -> str | None:
    """As kubeconfig clients find it: the flag, the first existing file of KUBECONFIG, ~/.kube/config."""
    if flag:
        return flag
    for item in environ.get("KUBECONFIG", "").split(os.pathsep):
        if item and Path(item).is_file():
            return item
    home = Path(environ.get("HOME") or "~").expanduser() / ".kube" / "config"
    return str(home) if home.is_file() else None


def inputs_from(args: argparse.Namespace, environ: Mapping[str, str]) -> VerifyInputs:
    from dify_action.choices import USERNAME_ENV
    from dify_action.config import load as config_module
    from dify_action.front.common import cli_secrets
    from dify_action.verify import VerifyInputs

    cfg = config_module.load(args.config)
    secrets = cli_secrets(environ)
    return VerifyInputs(
        environment=args.environment, config=cfg, gitops_repo=args.gitops_repo, gitops_dir=args.gitops_dir,
        base=args.base, commit=args.commit, timeout=args.timeout, soak=args.soak, interval=args.interval,
        on_failure=args.on_failure, argocd_server=args.argocd_server,
        argocd_server_env=environ.get("ARGOCD_SERVER") or None,
        argocd_token=environ.get("ARGOCD_AUTH_TOKEN") or None,
        kubeconfig=kubeconfig_path(args.kubeconfig, environ),
        docker_host=args.docker_host or environ.get("DOCKER_HOST"),
        gitops_token=secrets.token, registry_username=args.registry_username or environ.get(USERNAME_ENV)
        or cfg.registry.username, registry_password=secrets.registry_password, github_api_url=args.github_api_url,
        github_repo=args.github_repo, provider=args.provider, labels=tuple(args.label), environ=environ)


def run(args: argparse.Namespace) -> int:
    from dify_action.front.common import append_summary, tool_environ
    from dify_action.pipeline.stages import CoreStages
    from dify_action.registry import Credentials
    from dify_action.verify import markdown, resolve_request, text_lines

    inputs = inputs_from(args, os.environ)
    request = resolve_request(inputs)
    credentials = Credentials(inputs.registry_username, inputs.registry_password) \
        if inputs.registry_username and inputs.registry_password else None
    result = CoreStages(tool_environ(os.environ)).verify(
        request, credentials, lambda line: print(line, file=sys.stderr, flush=True))
    append_summary(args.summary, markdown(result))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print("\n".join(text_lines(result)))
    if not result.verified:
        print(f"dify-action verify: {text_lines(result)[0]}", file=sys.stderr)
    return 0 if result.verified else 1
