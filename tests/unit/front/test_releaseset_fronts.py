"""The Dify release set on the front ends (issue 21): the CLI's bump and check and the action refuse a
mismatched set before writing anything, warn with allow-version-skew, move the whole set with
--dify-release / dify-release in one change, and show the set (text, --json, outputs, step summary)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dify_action.front import action as entrypoint
from dify_action.front.cli import main

COMPOSE = Path(__file__).resolve().parents[2] / "fixtures" / "dify-compose"


def tree(tmp_path: Path, release: str = "1.13.2") -> tuple[Path, dict[str, bytes]]:
    root = tmp_path / "gitops"
    shutil.copytree(COMPOSE / release, root)
    return root, files(root)


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_bump_of_half_the_set_is_refused_and_nothing_is_written(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    root, before = tree(tmp_path)
    assert main(["bump", "--gitops-dir", str(root), "--image", "langgenius/dify-api:1.13.3"]) == 1
    err = capsys.readouterr().err
    assert "would leave a mismatched Dify set: web runs Dify 1.13.2 but the set's api runs 1.13.3" in err
    assert "sandbox 0.2.12 is not what Dify 1.13.3 pairs: 0.2.14" in err and "--dify-release" in err
    assert files(root) == before


def test_allow_version_skew_ships_it_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, before = tree(tmp_path)
    assert main(["bump", "--gitops-dir", str(root), "--image", "langgenius/dify-api:1.13.3", "--allow-version-skew",
                 "--json"]) == 0
    out, err = capsys.readouterr()
    assert "warning: Dify set check overridden (allow-version-skew)" in err
    doc = json.loads(out)["deliveries"][-1]  # the one document: the bump's delivery holds the set
    assert doc["dify_set"]["allowed"] is True and doc["dify_set"]["refused"] is False
    assert {f["kind"] for f in doc["dify_set"]["findings"]} >= {"skew", "unpaired"}
    assert files(root) != before


def test_dify_release_moves_the_whole_set_in_one_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = tree(tmp_path, "1.10.1-fix.1")
    assert main(["bump", "--gitops-dir", str(root), "--dify-release", "1.13.2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["deliveries"][-1]
    assert sorted({c["new"].split(":")[-1] for c in doc["changes"]}) == ["0.5.4-local", "1.13.2"]  # sandbox stays
    assert files(root) == {"docker-compose.yaml": (COMPOSE / "1.13.2" / "docker-compose.yaml").read_bytes().replace(
        b"Dify 1.13.2", b"Dify 1.10.1-fix.1")}  # byte for byte the release's own compose, the comment aside
    assert doc["dify_set"]["release"] == {"before": "1.10.1-fix.1", "after": "1.13.2"}
    assert [f["kind"] for f in doc["dify_set"]["findings"]] == ["start-migrations"]  # a warning by default


def test_the_1_13_3_downgrade_of_upstream_itself_is_refused_saying_so(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    root, before = tree(tmp_path)
    assert main(["bump", "--gitops-dir", str(root), "--dify-release", "1.13.3"]) == 1
    err = capsys.readouterr().err
    assert "plugin-daemon moves back from 0.5.4-local to 0.5.3-local (0.5.3-local is Dify 1.13.3's own pairing" in err
    assert "dify_plugin" in err and files(root) == before


def test_a_release_newer_than_the_table_moves_what_is_known(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = tree(tmp_path, "1.16.1")
    assert main(["bump", "--gitops-dir", str(root), "--dify-release", "1.19.0"]) == 0
    err = capsys.readouterr().err
    assert "the pairing table ends at 1.17.1" in err and "sandbox stays at 0.2.15" in err
    assert "langgenius/dify-agent-backend:1.19.0" in (root / "docker-compose.yaml").read_text()


@pytest.mark.parametrize("bad", ["latest", "1.17", "1.17.1-acme.7"])
def test_a_bad_release_is_bad_input(tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    root, before = tree(tmp_path)
    assert main(["bump", "--gitops-dir", str(root), "--dify-release", bad]) == 2
    assert f"invalid --dify-release {bad!r}" in capsys.readouterr().err and files(root) == before


def test_check_reports_the_set_of_an_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, _ = tree(tmp_path)
    config = tmp_path / "dify-action.yaml"
    (tmp_path / "Dockerfile").write_text("FROM langgenius/dify-api:1.13.2\n")
    config.write_text("version: 1\ncomponents:\n  - {name: api, image: registry.example/acme/dify-api, dockerfile: "
                      "Dockerfile}\nenvironments:\n  staging: {paths: ['.'], start-migrations: refuse}\n")
    args = ["check", "--config", str(config), "--environment", "staging", "--gitops-dir", str(root)]
    assert main(args) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["dify_set"]["release"]["after"] == "1.13.2"
    assert main([*args, "--dify-release", "1.13.3"]) == 1  # the upgrade: api, worker and beat migrate at start
    assert "3 containers migrate at start" in capsys.readouterr().err


def test_the_action_refuses_before_any_side_effect_and_shows_the_set(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    root, before = tree(tmp_path)
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "out"),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"), "INPUT_COMMAND": "bump", "INPUT_GITOPS-DIR": str(root),
           "INPUT_IMAGE": "langgenius/dify-web:1.13.3", "INPUT_ENVIRONMENT": "staging", "INPUT_PATHS": "."}
    assert entrypoint.main(env) == 1
    assert "::error title=dify-action bump::the change to staging would leave a mismatched Dify set" in \
        capsys.readouterr().out
    assert files(root) == before
    env |= {"INPUT_DIFY-RELEASE": "1.13.2", "INPUT_IMAGE": "", "INPUT_ALLOW-VERSION-SKEW": "true"}
    assert entrypoint.main(env) == 0
    summary = (tmp_path / "summary").read_text()
    assert "### Dify release set" in summary and "| Component | From | To | Paired? |" in summary
    outputs = (tmp_path / "out").read_text()
    assert "\ndify-set=" in outputs and '"release": {"after": "1.13.2"' in outputs


def test_check_of_a_repository_it_cannot_read_warns_and_changes_nothing(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """check asks for no token: a GitOps repository it cannot clone leaves the set unchecked, said as a
    warning; the inputs and the config are still checked (exit 0)."""
    config = tmp_path / "dify-action.yaml"
    (tmp_path / "Dockerfile").write_text("FROM langgenius/dify-api:1.13.2\n")
    config.write_text("version: 1\ncomponents:\n  - {name: api, image: registry.example/acme/dify-api, dockerfile: "
                      "Dockerfile}\nenvironments:\n  staging: {repository: 'http://127.0.0.1:9/acme/gitops.git', "
                      "paths: [staging], provider: git}\n")
    assert main(["check", "--config", str(config), "--environment", "staging"]) == 0
    err = capsys.readouterr().err
    assert "the Dify release set of staging was not checked" in err
