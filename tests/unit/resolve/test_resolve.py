"""The resolver: one precedence (explicit input > the config's environment > built-in default), the
provider rule, the real event payload for the tag policy. Pure: a config file and a bare repository
on disk, nothing run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dify_action.errors import InputError
from dify_action.resolve import resolve
from dify_action.resolve.request import (
    Access,
    BuildCommand,
    BumpCommand,
    BumpInputs,
    CheckCommand,
    GitOpsInputs,
    PipelineCommand,
    RunContext,
    Secrets,
)

CONFIG = """version: 1
components:
  - {name: api, image: ghcr.io/acme/dify-api, dockerfile: Dockerfile}
tags: {rules: ["type=ref,event=pr", "type=sha"]}
environments:
  staging: {repository: acme/gitops, paths: [overlays/staging], branch: deploy, provider: git, push-mode: direct}
  production: {repository: "file://BARE", paths: [overlays/production]}
"""


@pytest.fixture
def config(tmp_path: Path) -> str:
    bare = tmp_path / "gitops.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    path = tmp_path / "dify-action.yaml"
    path.write_text(CONFIG.replace("BARE", str(bare)))
    return str(path)


def _bump(config: str, environment: str = "staging", **gitops: str | None) -> BumpCommand:
    return BumpCommand(config, BumpInputs(environment=environment, images=("ghcr.io/acme/dify-api:2.0",)),
                       GitOpsInputs(**gitops))  # type: ignore[arg-type]


def test_the_environment_fills_what_the_inputs_leave_out(config: str) -> None:
    plan = resolve(_bump(config), Secrets(token="t"))
    d = plan.gitops.delivery if plan.gitops else None
    assert d is not None
    dest = d.destination
    assert (dest.repo_url, dest.github_repo, dest.base, dest.provider, dest.push_mode, d.paths) == (
        "https://github.com/acme/gitops.git", "acme/gitops", "deploy", "git", "direct", ("overlays/staging",))


@settings(max_examples=30, deadline=None)
@given(provider=st.sampled_from([None, "github", "git"]), mode=st.sampled_from([None, "branch", "direct"]),
       base=st.sampled_from([None, "main", "release-1"]))
def test_explicit_inputs_always_win(tmp_path_factory: pytest.TempPathFactory, provider: str | None,
                                    mode: str | None, base: str | None) -> None:
    root = tmp_path_factory.mktemp("cfg")
    (root / "Dockerfile").write_text("FROM scratch\n")
    path = root / "dify-action.yaml"
    path.write_text(CONFIG.replace("file://BARE", "acme/prod"))
    plan = resolve(_bump(str(path), provider=provider, push_mode=mode, base=base), Secrets(token="t"))
    d = plan.gitops.delivery if plan.gitops else None
    assert d is not None
    dest = d.destination
    assert dest.provider == (provider or "git") and dest.push_mode == (mode or "direct")
    assert dest.base == (base or "deploy")


def test_the_built_in_provider_follows_where_the_repository_is(config: str, tmp_path: Path) -> None:
    def provider(url: str, api_url: str | None = None) -> str:
        s = BumpCommand(None, BumpInputs(environment="staging", images=("r.example/a:1",), paths=(".",)),
                        GitOpsInputs(repo=url),
                        RunContext(api_url=api_url))
        plan = resolve(s, Secrets(token="t"))
        assert plan.gitops is not None and plan.gitops.delivery is not None
        return plan.gitops.delivery.destination.provider

    bare = str(tmp_path / "gitops.git")
    assert provider(f"file://{bare}") == "git"
    assert provider("https://github.com/acme/gitops.git") == "github"
    assert provider("https://gitlab.example/acme/gitops.git") == "git"
    assert provider("https://ghe.example/acme/gitops.git", api_url="https://ghe.example/api/v3") == "github"


def test_an_undeclared_environment_is_never_every_path(config: str) -> None:
    for name in ("stagin", "Staging", "production "):
        with pytest.raises(InputError, match="invalid environment"):
            resolve(_bump(config, environment=name), Secrets())


def test_a_pull_request_target_build_gets_its_pr_tag_from_the_payload(config: str) -> None:
    payload = {"number": 7, "pull_request": {"number": 7, "head": {"sha": "b" * 40}, "base": {"ref": "trunk"}},
               "repository": {"default_branch": "trunk"}}
    context = RunContext(revision="a" * 40, ref="refs/heads/trunk", event="pull_request_target",
                         event_payload=payload, run_number="3")
    tags = resolve(BuildCommand(config, context=context), Secrets()).build.specs[0].tags  # type: ignore[union-attr]
    assert "pr-7" in tags and "sha-aaaaaaa" in tags
    head_context = RunContext(**{**context.__dict__, "pr_head_sha": True})
    head = resolve(BuildCommand(config, context=head_context), Secrets()).build.specs[0].tags  # type: ignore[union-attr]
    assert "sha-bbbbbbb" in head


def test_check_describes_the_plan_without_secrets(config: str) -> None:
    checked = PipelineCommand(config, access=Access("ci"), bump=BumpInputs(environment="production"))
    plan = resolve(CheckCommand(checked), Secrets("pw-1", "tok-1"))
    text = repr(plan.describe()) + repr(plan)
    assert "pw-1" not in text and "tok-1" not in text
    assert plan.describe()["bump"]["provider"] == "github"  # type: ignore[index]
