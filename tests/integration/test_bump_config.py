"""`bump --config --environment`: the config's environment supplies what the flags leave out."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from dify_action.front.cli import main

CONFIG = """\
version: 1
components:
  - name: api
    image: 127.0.0.1:5000/acme/dify-api
environments:
  staging:
    paths: [overlays/staging]
    helm-paths: {{api: [image.api.tag]}}
    provider: git
    push-mode: {mode}
    repository: {repository}
  production:
    paths: [overlays/production]
"""
OVERLAY = "images:\n  - name: langgenius/dify-api\n    newName: 127.0.0.1:5000/acme/dify-api\n    newTag: '1.0'\n"
VALUES = "image:\n  api:\n    tag: '1.0'\n"


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    for env in ("staging", "production"):
        (root / "overlays" / env).mkdir(parents=True)
        (root / "overlays" / env / "kustomization.yaml").write_text(OVERLAY)
        (root / "overlays" / env / "values.yaml").write_text(VALUES)
    return root


def test_local_bump_takes_paths_and_helm_paths_from_the_environment(tree: Path, tmp_path: Path) -> None:
    config = tmp_path / "dify-action.yaml"
    config.write_text(CONFIG.format(mode="branch", repository="acme/gitops"))
    assert main(["bump", "--gitops-dir", str(tree), "--config", str(config), "--environment", "staging",
                 "--image", "127.0.0.1:5000/acme/dify-api", "--tag", "2.0"]) == 0
    assert (tree / "overlays/staging/kustomization.yaml").read_text() == OVERLAY.replace("'1.0'", "'2.0'")
    assert (tree / "overlays/staging/values.yaml").read_text() == VALUES.replace("'1.0'", "'2.0'")
    assert (tree / "overlays/production/kustomization.yaml").read_text() == OVERLAY, "production untouched"
    assert (tree / "overlays/production/values.yaml").read_text() == VALUES


def test_undeclared_environment_is_bad_input(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "dify-action.yaml"
    config.write_text(CONFIG.format(mode="branch", repository="acme/gitops"))
    assert main(["bump", "--gitops-dir", str(tree), "--config", str(config), "--environment", "qa",
                 "--image", "127.0.0.1:5000/acme/dify-api", "--tag", "2.0"]) == 2
    assert "staging, production" in capsys.readouterr().err
    assert (tree / "overlays/staging/kustomization.yaml").read_text() == OVERLAY


def test_remote_bump_uses_the_environments_repository_provider_and_mode(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = tmp_path / "gitops.git"
    _git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    _git("init", "-q", "-b", "main", cwd=tree)
    _git("add", "-A", cwd=tree)
    _git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "seed", cwd=tree)
    _git("push", "-q", str(bare), "main", cwd=tree)
    config = tmp_path / "dify-action.yaml"
    config.write_text(CONFIG.format(mode="direct", repository=f"file://{bare}"))
    assert main(["bump", "--config", str(config), "--environment", "staging",
                 "--image", "127.0.0.1:5000/acme/dify-api", "--tag", "2.0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["bump"]
    assert result["operation"] == "pushed" and result["branch"] == "main", result
    staged = _git("show", "main:overlays/staging/kustomization.yaml", cwd=bare)
    assert staged == OVERLAY.replace("'1.0'", "'2.0'")
    assert _git("show", "main:overlays/production/values.yaml", cwd=bare) == VALUES
