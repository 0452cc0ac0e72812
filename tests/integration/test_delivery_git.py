"""The plain-git provider (branch and direct mode) over git smart-http with basic auth and over
file://, the race-safe direct mode, concurrency, and the CLI front of remote bumps."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from emulator import BareRepo, GitHubEmulator
from emulator.scenario import STAGING, Sleeps, again, api_file, request
from requestkit import delivery_request

from dify_action.delivery import DeliveryResult, deliver
from dify_action.errors import GitError
from dify_action.front.cli import main

pytestmark = pytest.mark.integration
NEW = "127.0.0.1:5000/acme/dify-api:1.13.3-acme.42"


def test_git_branch_mode_over_http_basic_auth(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    req = request(emulator, clone_dirs(), provider="git")
    result = deliver(req)
    assert (result.operation, result.branch, result.pr_number) == ("pushed", "dify-action/staging/dify-api", None)
    assert emulator.repo.sha("dify-action/staging/dify-api") == result.commit
    assert api_file(emulator, "dify-action/staging/dify-api").count(NEW) == 3
    assert not emulator.records  # no API call for the git provider
    rerun = deliver(again(req, clone_dirs()))
    assert rerun.operation == "unchanged" and rerun.commit == result.commit


def test_git_direct_mode_over_file_url(tmp_path: Path, clone_dirs: Callable[[], Path]) -> None:
    from gitopstree import gitops_files

    bare = BareRepo(tmp_path / "srv", "acme", "gitops")
    bare.commit_files("main", gitops_files(), "initial")
    before = bare.sha("main")
    for url in (bare.path.as_uri(), str(bare.path)):  # file:// and a plain path
        tag = "1.13.3-acme.42" if url.startswith("file:") else "1.13.3-acme.43"
        req = request_for(url, clone_dirs(), tag=tag)
        result = deliver(req)
        assert result.operation == "pushed" and bare.sha("main") == result.commit
        assert bare.read("main", f"{STAGING}/dify-api.yaml").decode().count(f"dify-api:{tag}") == 3  # type: ignore[union-attr]
        assert result.clone is not None and result.clone.strategy.startswith("shallow")
    assert bare.log("main")[2].startswith(before or "")


def request_for(url: str, workdir: Path, tag: str) -> object:
    from dify_action.bump import Target

    return delivery_request(
        repo_url=url,
        environment="staging",
        targets=(Target.from_inputs("127.0.0.1:5000/acme/dify-api", tag),),
        paths=(STAGING,),
        push_mode="direct",
        workdir=workdir,
        sleep=Sleeps(),
    )


def test_direct_mode_replans_when_base_moved(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    def someone_else_pushes() -> None:
        emulator.repo.commit_files(
            "main",
            {
                f"{STAGING}/dify-web.yaml": api_file(emulator, "main", f"{STAGING}/dify-web.yaml").replace(
                    "1.13.3", "1.13.4"
                )
            },
            "web bump",
        )

    emulator.git.before_receive_pack.append(someone_else_pushes)
    result = deliver(request(emulator, clone_dirs(), provider="git", push_mode="direct"))
    assert result.operation == "pushed" and result.attempts == 2
    assert emulator.repo.sha("main") == result.commit
    assert api_file(emulator, "main").count(NEW) == 3
    assert "dify-web:1.13.4" in api_file(emulator, "main", f"{STAGING}/dify-web.yaml")  # theirs kept
    assert emulator.repo.log("main")[1].endswith("web bump")


def test_direct_mode_real_conflict_is_a_clear_error(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    def someone_else_sets_another_tag() -> None:
        text = api_file(emulator, "main").replace("dify-api:1.13.3", "dify-api:1.13.9")
        emulator.repo.commit_files("main", {f"{STAGING}/dify-api.yaml": text}, "hotfix 1.13.9")

    emulator.git.before_receive_pack.append(someone_else_sets_another_tag)
    with pytest.raises(GitError, match="conflict") as caught:
        deliver(request(emulator, clone_dirs(), provider="git", push_mode="direct"))
    assert "1.13.9" in str(caught.value)
    assert "1.13.3-acme.42" not in api_file(emulator, "main")


def test_direct_mode_someone_already_did_it(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    def someone_else_does_the_same() -> None:
        text = api_file(emulator, "main").replace("dify-api:1.13.3", "dify-api:1.13.3-acme.42")
        emulator.repo.commit_files("main", {f"{STAGING}/dify-api.yaml": text}, "same bump")

    emulator.git.before_receive_pack.append(someone_else_does_the_same)
    result = deliver(request(emulator, clone_dirs(), provider="git", push_mode="direct"))
    assert result.operation == "none" and emulator.repo.log("main")[0].endswith("same bump")


def test_ten_parallel_direct_bumps_all_land(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    before = len(emulator.repo.log("main"))
    results: list[DeliveryResult | BaseException] = []
    dirs = [clone_dirs() for _ in range(10)]
    start = threading.Barrier(10)

    def one(i: int) -> None:
        req = request(
            emulator,
            dirs[i],
            image=f"127.0.0.1:5000/acme/svc-{i}",
            tag="2.0.0",
            provider="git",
            push_mode="direct",
            max_attempts=15,
            sleep=__import__("time").sleep,
        )
        start.wait()
        try:
            results.append(deliver(req))
        except BaseException as error:  # collected and asserted below
            results.append(error)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(r, DeliveryResult) and r.operation == "pushed" for r in results), results
    assert len(emulator.repo.log("main")) == before + 10
    for i in range(10):
        assert f"svc-{i}:2.0.0" in api_file(emulator, "main", f"{STAGING}/services/svc-{i}.yaml")
    assert sum(r.attempts for r in results if isinstance(r, DeliveryResult)) > 10  # they did race


def test_parallel_branch_bumps_make_one_pull_request(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    results: list[DeliveryResult | BaseException] = []
    dirs = [clone_dirs() for _ in range(5)]
    start = threading.Barrier(5)

    def one(i: int) -> None:
        req = request(emulator, dirs[i], sleep=__import__("time").sleep)
        start.wait()
        try:
            results.append(deliver(req))
        except BaseException as error:
            results.append(error)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(r, DeliveryResult) for r in results), results
    assert len(emulator.pulls) == 1 and len(emulator.open_pulls()) == 1
    numbers = {r.pr_number for r in results if isinstance(r, DeliveryResult)}
    assert numbers == {next(iter(emulator.pulls))}


def test_cli_remote_bump_json(
    emulator: GitHubEmulator, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITOPS_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", emulator.token)
    code = main(
        [
            "bump",
            "--gitops-repo",
            emulator.clone_url,
            "--environment",
            "staging",
            "--provider",
            "github",
            "--github-api-url",
            emulator.api_url,
            "--image",
            "127.0.0.1:5000/acme/dify-api",
            "--tag",
            "1.13.3-acme.7",
            "--path",
            STAGING,
            "--label",
            "deploy",
            "--json",
        ]
    )
    assert code == 0
    captured = capfd.readouterr()
    assert emulator.token not in captured.out + captured.err
    out = json.loads(captured.out)["bump"]
    assert out["operation"] == "created" and out["pr_number"] == 1 and len(out["changes"]) == 3
    assert emulator.pulls[1].labels[0].name == "deploy"


def test_cli_bad_input_has_no_side_effect(emulator: GitHubEmulator, monkeypatch: pytest.MonkeyPatch,
                                          capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITOPS_TOKEN", emulator.token)
    base = [
        "--gitops-repo",
        emulator.clone_url,
        "--provider",
        "github",
        "--github-api-url",
        emulator.api_url,
        "--image",
        "127.0.0.1:5000/acme/dify-api",
        "--tag",
        "1.13.3-acme.7",
    ]
    for extra, name in (
        (["--environment", "stag ing"], "environment"),
        (["--environment", "staging", "--path", "environments/staging", "--title-template", "{nope}"],
         "title-template"),
        (["--environment", "staging", "--path", "../outside"], None),
    ):
        assert main(["bump", *base, *extra]) == 2
        err = capfd.readouterr().err
        assert name is None or f"invalid --{name}" in err, err  # the CLI names its flag
    assert emulator.repo.branches() == ["main"] and not emulator.pulls and not emulator.records
