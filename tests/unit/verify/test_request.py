"""verify's one resolution: every bad input is an InputError (exit 2) naming it, before anything is
contacted; the Argo CD server as a URL or host[:port]; flag > ARGOCD_SERVER > config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dify_action.config import load as config_module
from dify_action.errors import InputError
from dify_action.front.cli import main
from dify_action.verify import VerifyInputs, argocd_url, resolve_request

CONFIG = """version: 1
components:
  - {{name: api, image: registry.example.com/acme/dify-api, dockerfile: Dockerfile}}
environments:
  staging:
    repository: /nowhere/gitops.git
    paths: [overlays/staging]
    verify:
{verify}
  production:
    paths: [overlays/production]
"""
ARGO = "      argocd: {server: argocd.example.com, applications: [dify-staging]}\n      soak: 5m"


def config(tmp_path: Path, verify: str = ARGO) -> config_module.Config:
    path = tmp_path / "dify-action.yaml"
    path.write_text(CONFIG.format(verify=verify))
    return config_module.load(path)


def inputs(tmp_path: Path, verify: str = ARGO, **extra: Any) -> VerifyInputs:
    fields: dict[str, Any] = {"environment": "staging", "config": config(tmp_path, verify), "argocd_token": "t0k"}
    return VerifyInputs(**({"environ": os.environ} | fields | extra))


def test_defaults_and_precedence(tmp_path: Path) -> None:
    request = resolve_request(inputs(tmp_path))
    assert request.argocd is not None and request.argocd.server == "https://argocd.example.com"
    assert (request.timing.timeout, request.timing.soak, request.timing.degraded_grace) == (900, 300, 120)
    assert request.sources == ("argocd",) and request.ours == ("registry.example.com/acme/dify-api",)
    from_env = resolve_request(inputs(tmp_path, argocd_server_env="argo.internal:8443", soak="0"))
    assert from_env.argocd is not None and from_env.argocd.server == "https://argo.internal:8443"
    assert from_env.timing.soak == 0
    flag = resolve_request(inputs(tmp_path, argocd_server="http://127.0.0.1:8080", argocd_server_env="ignored"))
    assert flag.argocd is not None and flag.argocd.server == "http://127.0.0.1:8080"
    assert "t0k" not in repr(flag)


@pytest.mark.parametrize(("extra", "verify", "named"), [
    ({"environment": "qa"}, ARGO, "environment"),
    ({"environment": "production"}, ARGO, "environment"),
    ({"argocd_token": None}, ARGO, "argocd-token"),
    ({"argocd_server": "ftp://x"}, ARGO, "argocd-server"),
    ({"argocd_server": "https://user@host"}, ARGO, "argocd-server"),
    ({"commit": "HEAD~1"}, ARGO, "commit"),
    ({"timeout": "soon"}, ARGO, "timeout"),
    ({"soak": "-1"}, ARGO, "soak"),
    ({"on_failure": "panic"}, ARGO, "on-failure"),
    ({}, "      kubernetes: {namespace: dify, workloads: [deployment/dify-api]}", "kubeconfig"),
    ({"kubeconfig": "/no/such/file"}, "      flux: {kustomizations: [dify]}", "kubeconfig"),
    ({}, "      kubernetes: {workloads: [job/migrate]}", "kubernetes.workloads"),
    ({}, "      flux: {kustomizations: [Flux-System/Dify]}", "flux.kustomizations"),
    ({"gitops_dir": "/tmp", "gitops_repo": "/x"}, ARGO, "gitops-dir"),
])
def test_bad_input_is_named(tmp_path: Path, extra: dict[str, Any], verify: str, named: str) -> None:
    with pytest.raises(InputError) as caught:
        resolve_request(inputs(tmp_path, verify, **extra))
    assert caught.value.name == named and caught.value.exit_code == 2


def test_no_config_and_no_verify_section(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="with a verify section"):
        resolve_request(VerifyInputs(environment="production", config=config(tmp_path)))
    with pytest.raises(InputError) as caught:
        resolve_request(VerifyInputs(environment="staging"))
    assert caught.value.name == "config"


def test_the_schema_refuses_an_unknown_source(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="verify"):
        config(tmp_path, "      nomad: {job: dify}")


@given(st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,2}(:[1-9][0-9]{0,4})?", fullmatch=True))
def test_host_port_means_https(server: str) -> None:
    assert argocd_url(server) == f"https://{server}"
    assert argocd_url(f"https://{server}/") == f"https://{server}"


def test_cli_stops_with_2_before_contacting_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    config(tmp_path)
    monkeypatch.delenv("ARGOCD_AUTH_TOKEN", raising=False)
    code = main(["verify", "--config", str(tmp_path / "dify-action.yaml"), "--environment", "staging"])
    err = capsys.readouterr().err
    assert code == 2 and "invalid argocd-token ''" in err and "ARGOCD_AUTH_TOKEN" in err
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", "t0k")
    code = main(["verify", "--config", str(tmp_path / "dify-action.yaml"), "--environment", "staging",
                 "--on-failure", "rollback", "--gitops-dir", str(tmp_path)])
    assert code == 2 and "gitops-dir" in capsys.readouterr().err
