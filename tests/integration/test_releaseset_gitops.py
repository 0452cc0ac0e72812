"""The Dify release set through real bare git repositories (issue 21): a remote bump of half a set is
refused before any branch exists; --dify-release moves the set in one commit on one branch; promote
carries the official members with ours and refuses a mismatched source; rollback restores the whole set
and refuses the plugin-daemon downgrade unless allow-version-skew. The CLI, as users run it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from emulator import BareRepo

from dify_action.front.cli import main

COMPOSE = Path(__file__).resolve().parents[1] / "fixtures" / "dify-compose"
# an official image path behind a local registry nobody listens on: the migration guard's registry read
# fails at once (no network), and the set check reads the tag as upstream's
HOST = "127.0.0.1:9/"


def compose(release: str, host: str = "") -> str:
    return (COMPOSE / release / "docker-compose.yaml").read_text().replace("langgenius/", host + "langgenius/")


def repo(tmp_path: Path, staging: str, production: str, host: str = "") -> BareRepo:
    bare = BareRepo(tmp_path / "srv", "acme", "gitops")
    bare.commit_files("main", {"staging/docker-compose.yaml": compose(staging, host),
                               "production/docker-compose.yaml": compose(production, host)}, "initial")
    return bare


def bump(bare: BareRepo, *args: str) -> int:
    return main(["bump", "--gitops-repo", bare.path.as_uri(), "--provider", "git", "--environment", "staging",
                 "--path", "staging", *args])


def test_a_remote_bump_of_half_the_set_leaves_no_branch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bare = repo(tmp_path, "1.13.2", "1.13.2")
    assert bump(bare, "--image", "langgenius/dify-web:1.13.3") == 1
    assert "web runs Dify 1.13.3 but the set's api runs 1.13.2" in capsys.readouterr().err
    assert bare.branches() == ["main"]
    assert bump(bare, "--image", "langgenius/dify-web:1.13.3", "--push-mode", "direct") == 1
    assert len(bare.log("main")) == 1


def test_dify_release_is_one_commit_on_one_branch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bare = repo(tmp_path, "1.10.1-fix.1", "1.10.1-fix.1")
    assert bump(bare, "--dify-release", "1.13.2") == 0
    err = capsys.readouterr().err
    assert "Dify release set: 1.10.1-fix.1 -> 1.13.2" in err
    branch = next(b for b in bare.branches() if b != "main")
    assert len(bare.log(branch)) == 2
    assert (bare.read(branch, "staging/docker-compose.yaml") or b"").decode() == compose("1.13.2").replace(
        "Dify 1.13.2", "Dify 1.10.1-fix.1")
    assert bare.read(branch, "production/docker-compose.yaml") == bare.read("main", "production/docker-compose.yaml")


def promote(bare: BareRepo, *args: str) -> int:
    return main(["promote", "--gitops-repo", bare.path.as_uri(), "--provider", "git", "--from-environment", "staging",
                 "--to-environment", "production", "--from-path", "staging", "--to-path", "production", *args])


def test_promote_carries_the_set_and_refuses_a_mismatched_one(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    bare = repo(tmp_path, "1.13.2", "1.10.1-fix.1")
    # --registry-tag moves tags of our digests only: upstream's carried images are never tagged (no registry
    # call to docker.io, which this machine cannot reach: a call would fail the promotion)
    assert promote(bare, "--registry-tag", "production") == 0
    err = capsys.readouterr().err
    assert "an official Dify image, carried with the release set (not gated" in err
    assert "registry tag production not moved: only upstream's Dify images were promoted" in err
    branch = next(b for b in bare.branches() if b != "main")
    assert (bare.read(branch, "production/docker-compose.yaml") or b"").decode() == compose("1.13.2").replace(
        "Dify 1.13.2", "Dify 1.10.1-fix.1")
    half = repo(tmp_path / "half", "1.13.2", "1.10.1-fix.1")
    half.commit_files("main", {"staging/docker-compose.yaml": compose("1.13.2").replace(
        "dify-web:1.13.2", "dify-web:1.13.1")}, "web drifts")
    assert promote(half) == 1
    assert "web runs Dify 1.13.1 but the set's api runs 1.13.2" in capsys.readouterr().err
    assert half.branches() == ["main"]


def test_rollback_restores_the_set_and_guards_the_plugin_daemon(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    bare = repo(tmp_path, "1.10.1-fix.1", "1.10.1-fix.1", HOST)
    moved = bare.commit_files("main", {"staging/docker-compose.yaml": compose("1.13.2", HOST)}, "deploy 1.13.2")
    args = ["rollback", "--gitops-repo", bare.path.as_uri(), "--provider", "git", "--commit", moved,
            "--environment", "staging", "--path", "staging", "--allow-schema-rollback"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "plugin-daemon moves back from 0.5.4-local to 0.4.1-local" in err and "dify_plugin" in err
    assert bare.branches() == ["main"]
    assert main([*args, "--allow-version-skew"]) == 0
    branch = next(b for b in bare.branches() if b != "main")
    assert bare.read(branch, "staging/docker-compose.yaml") == compose("1.10.1-fix.1", HOST).encode()


def test_the_pull_request_shows_the_set_and_a_refusal_opens_none(emulator: Any, clone_dirs: Any) -> None:
    """Through the GitHub emulator: the delivery's re-check on the base it cloned puts the set table in
    the PR body; a refusal there happens before the commit: no branch, no pull request."""
    from emulator.scenario import request

    from dify_action.bump import Target
    from dify_action.delivery import deliver
    from dify_action.releaseset import SetPolicy, SetRefused
    from dify_action.releaseset.hooks import precheck

    emulator.repo.commit_files("main", {"dify/docker-compose.yaml": compose("1.13.2")}, "the official set")
    moved = tuple(Target.from_reference(f"langgenius/dify-{role}:1.13.3") for role in ("api", "web"))
    hook = precheck(moved, ("dify",), SetPolicy(allow_skew=True), lambda ref: None, "staging")
    result = deliver(request(emulator, clone_dirs(), targets=moved, paths=("dify",), precheck=hook))
    body = emulator.pulls[result.pr_number or 0].body or ""
    assert "### Dify release set" in body and "| Component | From | To | Paired? |" in body
    assert "Release: <code>1.13.2</code> → <code>1.13.3</code>" in body and "Overridden with" in body
    before = (sorted(emulator.repo.branches()), len(emulator.open_pulls()))
    strict = precheck(moved[:1], ("dify",), SetPolicy(), lambda ref: None, "staging")
    with pytest.raises(SetRefused, match=r"web runs Dify 1\.13\.2 but the set.s api runs 1\.13\.3"):
        deliver(request(emulator, clone_dirs(), targets=moved[:1], paths=("dify",), group="api-only",
                        precheck=strict))
    assert (sorted(emulator.repo.branches()), len(emulator.open_pulls())) == before
