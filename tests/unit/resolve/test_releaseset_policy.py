"""The release-set policy of a run (issue 21): one precedence over the inputs and the config's ``dify:``
and environments' ``start-migrations``; a bad release is bad input naming where it came from."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dify_action.errors import ConfigError, InputError
from dify_action.resolve import resolve
from dify_action.resolve.request import Secrets, Settings

CONFIG = """version: 1
components:
  - {name: api, image: registry.example/acme/dify-api, dockerfile: Dockerfile}
  - {name: sandbox-custom, image: registry.example/acme/dify-sandbox, dockerfile: Dockerfile}
dify: {release: "1.17.1", allow-version-skew: DIFYSKEW}
environments:
  staging: {paths: [staging]}
  production: {paths: [production], start-migrations: refuse}
"""


def config(tmp_path: Path, skew: str = "false", text: str = CONFIG) -> str:
    (tmp_path / "Dockerfile").write_text("FROM langgenius/dify-api:1.17.1\n")
    (tmp_path / "gitops").mkdir(exist_ok=True)
    path = tmp_path / "dify-action.yaml"
    path.write_text(text.replace("DIFYSKEW", skew))
    return str(path)


def test_the_pipeline_takes_the_configs_release_and_the_environments_migration_rule(tmp_path: Path) -> None:
    plan = resolve(Settings(command="pipeline", config=config(tmp_path), environment="production",
                            gitops_dir=str(tmp_path / "gitops"), revision="a" * 40), Secrets())
    policy = plan.dify_set
    assert (policy.release, policy.allow_skew, policy.start_migrations, policy.follow_api) == (
        "1.17.1", False, "refuse", True)
    assert dict(policy.customized) == {"registry.example/acme/dify-api": "api",
                                       "registry.example/acme/dify-sandbox": "sandbox"}
    assert plan.describe()["dify_set"]["release"] == "1.17.1"  # type: ignore[index]


def test_bump_moves_only_with_its_own_input_and_the_config_can_allow_skew(tmp_path: Path) -> None:
    plan = resolve(Settings(command="bump", config=config(tmp_path, "true"), environment="staging",
                            gitops_dir=str(tmp_path / "gitops"), image="langgenius/dify-web:1.17.1"), Secrets())
    assert plan.dify_set.release is None and plan.dify_set.allow_skew and plan.dify_set.start_migrations == "warn"
    plan = resolve(Settings(command="bump", environment="staging", gitops_dir=str(tmp_path / "gitops"),
                            dify_release="v1.16.1"), Secrets())
    assert plan.dify_set.release == "1.16.1" and plan.bump == ()


def test_a_release_is_bad_input_wherever_it_comes_from(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"invalid dify-release '1\.17'"):
        resolve(Settings(command="bump", gitops_dir=str(tmp_path), dify_release="1.17"), Secrets())
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "g.git")], check=True)
    with pytest.raises(InputError, match="only with bump"):
        resolve(Settings(command="promote", from_environment="a", to_environment="b", from_paths=("a",),
                         to_paths=("b",), gitops_repo=str(tmp_path / "g.git"), dify_release="1.17.1"), Secrets())
    with pytest.raises(ConfigError, match=r"dify\.release"):
        resolve(Settings(command="pipeline", config=config(tmp_path, text=CONFIG.replace('"1.17.1"', "latest")),
                         revision="a" * 40), Secrets())
