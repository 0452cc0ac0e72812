"""The release-set policy of a run (issue 21): one precedence over the inputs and the config's ``dify:``
and environments' ``start-migrations``; a bad release is bad input naming where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from dify_action.errors import ConfigError, InputError
from dify_action.resolve import resolve
from dify_action.resolve.request import (
    BumpCommand,
    BumpInputs,
    GitOpsInputs,
    PipelineCommand,
    RunContext,
    Secrets,
)

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
    plan = resolve(PipelineCommand(config(tmp_path), bump=BumpInputs(environment="production"),
                                   gitops=GitOpsInputs(directory=str(tmp_path / "gitops")),
                                   context=RunContext(revision="a" * 40)), Secrets())
    policy = plan.dify_set
    assert (policy.release, policy.allow_skew, policy.start_migrations, policy.follow_api) == (
        "1.17.1", False, "refuse", True)
    assert dict(policy.customized) == {"registry.example/acme/dify-api": "api",
                                       "registry.example/acme/dify-sandbox": "sandbox"}
    assert plan.describe()["dify_set"]["release"] == "1.17.1"  # type: ignore[index]


def test_bump_moves_only_with_its_own_input_and_the_config_can_allow_skew(tmp_path: Path) -> None:
    gitops = GitOpsInputs(directory=str(tmp_path / "gitops"))
    plan = resolve(BumpCommand(config(tmp_path, "true"), BumpInputs(environment="staging",
                                                                   images=("langgenius/dify-web:1.17.1",)), gitops),
                   Secrets())
    assert plan.dify_set.release is None and plan.dify_set.allow_skew and plan.dify_set.start_migrations == "warn"
    # the input wins over the config, both ways
    plan = resolve(BumpCommand(config(tmp_path, "true"), BumpInputs(environment="staging",
                                                                   images=("langgenius/dify-web:1.17.1",)),
                               GitOpsInputs(directory=str(tmp_path / "gitops"), allow_version_skew=False)), Secrets())
    assert not plan.dify_set.allow_skew
    plan = resolve(BumpCommand(bump=BumpInputs(environment="staging", paths=(".",), dify_release="v1.16.1"),
                               gitops=gitops), Secrets())
    assert plan.dify_set.release == "1.16.1" and plan.bump == ()


def test_a_release_is_bad_input_wherever_it_comes_from(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"invalid dify-release '1\.17'"):
        resolve(BumpCommand(bump=BumpInputs(paths=(".",), dify_release="1.17"),
                            gitops=GitOpsInputs(directory=str(tmp_path))), Secrets())
    with pytest.raises(InputError, match="only with bump"):
        resolve(PipelineCommand(config(tmp_path), bump=BumpInputs(dify_release="1.17.1"),
                                context=RunContext(revision="a" * 40)), Secrets())
    with pytest.raises(ConfigError, match=r"dify\.release"):
        resolve(PipelineCommand(config(tmp_path, text=CONFIG.replace('"1.17.1"', "latest")),
                                context=RunContext(revision="a" * 40)), Secrets())
