"""The action's ``command: verify`` (verify/action.yml) in-process: masks first, every input checked
before anything is contacted (exit 2, ::error, verified=false), the kubeconfig input never left on
disk. No network."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dify_action.front import action as entrypoint
from dify_action.front.verify_action import kubeconfig_file

CONFIG = """version: 1
components: [{name: api, image: registry.example.com/acme/dify-api, dockerfile: Dockerfile}]
environments:
  staging:
    repository: /nowhere/gitops.git
    paths: [overlays/staging]
    verify:
      argocd: {applications: [dify-staging]}
      kubernetes: {namespace: dify, workloads: [deployment/dify-api]}
"""


def step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **inputs: str) -> tuple[int, str]:
    (tmp_path / "dify-action.yaml").write_text(CONFIG)
    output = tmp_path / "out"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output),
           "INPUT_CONFIG": str(tmp_path / "dify-action.yaml"), "INPUT_ENVIRONMENT": "staging",
           **{f"INPUT_{k.upper()}": v for k, v in inputs.items()}}
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    code = entrypoint.main(env, ["verify"])  # verify/action.yml passes its command as the argument
    return code, out.getvalue() + (output.read_text() if output.exists() else "")


def test_secrets_are_masked_first_and_bad_input_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kube = "apiVersion: v1\nusers:\n- user: {token: kube-secret-1234}\n"
    code, text = step(tmp_path, monkeypatch, **{"ARGOCD-TOKEN": "argo-secret-1234", "KUBECONFIG": kube,
                                                "ARGOCD-SERVER": "ftp://nowhere"})
    lines = text.splitlines()
    assert code == 2
    assert lines[0] == "::add-mask::argo-secret-1234" and any("kube-secret-1234" in line for line in lines[:4])
    assert any(line.startswith("::error title=dify-action verify::invalid argocd-server") for line in lines), text
    assert "verified=false" in text
    assert "argo-secret-1234" not in "\n".join(line for line in lines if not line.startswith("::add-mask::"))


def test_missing_token_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARGOCD_AUTH_TOKEN", raising=False)
    code, text = step(tmp_path, monkeypatch, **{"ARGOCD-SERVER": "argocd.example.com"})
    assert code == 2 and "invalid argocd-token" in text


def test_kubeconfig_input_lives_only_for_the_step() -> None:
    with kubeconfig_file("apiVersion: v1\n") as path:
        assert path is not None and Path(path).stat().st_mode & 0o777 == 0o600
    assert not Path(path).exists()
    with kubeconfig_file("") as none:
        assert none is None
