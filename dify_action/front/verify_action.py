"""The container action's ``command: verify`` (verify/action.yml): inputs -> VerifyInputs, the stage,
outputs ``verified``, ``revision``, ``json`` and the step summary.

Secrets (``argocd-token``, ``kubeconfig``, ``token``, ``registry-password``) are masked before any
other line; the kubeconfig input is its content, written to a 0600 file that is removed when the
step ends, whatever happens. Like the CLI: the input, then ARGOCD_SERVER / ARGOCD_AUTH_TOKEN /
KUBECONFIG from the step's environment, then the config.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from dify_action.errors import DifyActionError
from dify_action.front import gha

SECRETS = ("argocd-token", "kubeconfig", "token", "registry-password")


@contextlib.contextmanager
def kubeconfig_file(content: str) -> Iterator[str | None]:
    """The kubeconfig input as a private file for the step's lifetime (None: not given)."""
    if not content:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="dify-action-kube-") as temp:
        path = Path(temp) / "config"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        yield str(path)


def run_verify(a: gha.Actions, env: Mapping[str, str]) -> int:
    """The whole step; exit 0 verified, 1 failed or timed out, 2 bad input."""
    from dify_action.config import load as config_module
    from dify_action.front.commands.verify import kubeconfig_path
    from dify_action.pipeline.stages import CoreStages
    from dify_action.registry import Credentials
    from dify_action.verify import VerifyInputs, markdown, resolve_request, text_lines

    for name in SECRETS:  # first of all, before any other line is printed
        a.mask(a.input(name))
    try:
        with kubeconfig_file(a.input("kubeconfig")) as written:
            config = a.input("config")
            inputs = VerifyInputs(
                environment=a.input("environment"), config=config_module.load(config) if config else None,
                gitops_repo=a.input("gitops-repo") or None, gitops_dir=a.input("gitops-dir") or None,
                base=a.input("base") or None, commit=a.input("commit") or None, timeout=a.input("timeout") or None,
                soak=a.input("soak") or None, interval=a.input("interval") or None,
                on_failure=a.choice("on-failure", ("none", "rollback")) if a.input("on-failure") else None,
                argocd_server=a.input("argocd-server") or None, argocd_server_env=env.get("ARGOCD_SERVER") or None,
                argocd_token=a.input("argocd-token") or env.get("ARGOCD_AUTH_TOKEN") or None,
                kubeconfig=written or kubeconfig_path(None, env), docker_host=a.input("docker-host")
                or env.get("DOCKER_HOST"), gitops_token=a.input("token") or None,
                registry_username=a.input("registry-username") or None,
                registry_password=a.input("registry-password") or None,
                github_api_url=a.input("github-api-url") or env.get("GITHUB_API_URL") or None,
                github_repo=a.input("github-repo") or None, labels=a.items("pr-labels"), environ=env)
            request = resolve_request(inputs)  # every check, before anything is contacted
            user = inputs.registry_username or (inputs.config.registry.username if inputs.config else None)
            credentials = Credentials(user, inputs.registry_password) if user and inputs.registry_password else None
            with a.group(f"dify-action verify: {request.environment}"):
                result = CoreStages({}).verify(request, credentials, a.info)
    except DifyActionError as error:
        a.error(error.message + (f" (hint: {error.hint})" if error.hint else ""), title="dify-action verify")
        a.set_output("verified", "false")
        return error.exit_code
    for line in text_lines(result):
        a.info(line)
    a.set_output("verified", str(result.verified).lower())
    a.set_output("revision", result.expected.revision)
    a.set_output("json", json.dumps(result.as_dict(), sort_keys=True))
    a.summary(markdown(result))
    if not result.verified:
        a.error(text_lines(result)[0], title="dify-action verify")
        return 1
    return 0
