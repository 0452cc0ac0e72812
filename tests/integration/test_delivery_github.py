"""Delivery through the GitHub provider against the emulator: fresh PR, rerun, update, close."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from emulator import GitHubEmulator
from emulator.scenario import API_IMAGE, STAGING, again, api_file, request

from dify_action.delivery import deliver, parse_metadata
from dify_action.markdown import code, row

pytestmark = pytest.mark.integration
BRANCH = "dify-action/staging/dify-api"


def test_fresh_pr_then_rerun(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    req = request(
        emulator,
        clone_dirs(),
        labels=("deploy", "staging"),
        reviewers=("alice", "acme/platform"),
        source_sha="a" * 40,
        source_repo="https://github.example/acme/dify-custom",
        run_url="https://github.example/acme/dify-custom/actions/runs/7",
        dify_version_old="1.13.3",
        dify_version_new="1.13.3",
    )
    result = deliver(req)
    assert result.operation == "created"
    assert len(emulator.records) == result.api_calls <= 4
    pull = emulator.pulls[result.pr_number or 0]
    assert result.pr_url == f"{emulator.urls.html}/acme/gitops/pull/{pull.number}"
    assert (pull.head, pull.base, pull.state) == (BRANCH, "main", "open")
    assert emulator.repo.sha(BRANCH) == result.commit  # the PR has its commit
    assert [label.name for label in pull.labels] == ["deploy", "staging"]
    assert (pull.reviewers, pull.teams) == (["alice"], ["platform"])
    assert pull.title == "deploy(staging): dify-api 1.13.3-acme.42"
    text = api_file(emulator, BRANCH)
    assert text.count("dify-api:1.13.3-acme.42") == 3 and "dify-api:1.13.3\n" not in text
    assert '"127.0.0.1:5000/acme/dify-api:1.13.3-acme.42"' in text  # quotes kept
    assert "# runs flask upgrade-db" in text
    assert api_file(emulator, "main") == api_file(emulator, "main")  # base untouched
    assert "1.13.3-acme.42" not in api_file(emulator, "main")
    assert row(code(f"{STAGING}/dify-api.yaml:14"), code(f"{API_IMAGE}:1.13.3"),
               code(f"{API_IMAGE}:1.13.3-acme.42")) in (pull.body or "")
    assert "actions/runs/7" in (pull.body or "") and "/commit/" + "a" * 40 in (pull.body or "")
    meta = parse_metadata(pull.body)
    assert meta is not None and meta.environment == "staging" and meta.source_sha == "a" * 40
    assert meta.images[0].before == (f"{API_IMAGE}:1.13.3",) and meta.images[0].after == f"{API_IMAGE}:1.13.3-acme.42"

    mark = len(emulator.records)
    rerun = deliver(again(req, clone_dirs()))
    assert rerun.operation == "unchanged"
    assert rerun.pr_number == result.pr_number and rerun.commit == result.commit
    assert len(emulator.records) - mark == rerun.api_calls <= 2
    assert len(emulator.open_pulls()) == 1 and emulator.repo.sha(BRANCH) == result.commit


def test_changed_tag_updates_the_same_pr(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    first = deliver(request(emulator, clone_dirs(), tag="1.13.3-acme.42"))
    mark = len(emulator.records)
    second = deliver(request(emulator, clone_dirs(), tag="1.13.3-acme.43"))
    assert second.operation == "updated" and second.pr_number == first.pr_number
    assert len(emulator.records) - mark <= 2
    assert second.commit != first.commit and emulator.repo.sha(BRANCH) == second.commit
    pull = emulator.pulls[first.pr_number or 0]
    assert pull.title.endswith("1.13.3-acme.43") and "1.13.3-acme.43" in (pull.body or "")
    assert "acme.42" not in (pull.body or "")
    assert api_file(emulator, BRANCH).count("1.13.3-acme.43") == 3
    # computed from base, never stacked on the old branch: one commit on top of main
    assert emulator.repo.log(BRANCH)[1:] == emulator.repo.log("main")
    assert len(emulator.open_pulls()) == 1


def test_base_moved_elsewhere_rebuilds_branch_on_new_base(
    emulator: GitHubEmulator, clone_dirs: Callable[[], Path]
) -> None:
    req = request(emulator, clone_dirs())
    first = deliver(req)
    emulator.repo.commit_files("main", {"environments/staging/extra.yaml": "kind: ConfigMap\n"}, "unrelated")
    rerun = deliver(again(req, clone_dirs()))
    assert rerun.operation == "updated" and rerun.pr_number == first.pr_number
    assert emulator.repo.log(BRANCH)[1:] == emulator.repo.log("main")


def test_branch_no_longer_differs_closes_stale_pr(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    req = request(emulator, clone_dirs())
    first = deliver(req)
    # someone lands the same change on main by hand
    emulator.repo.commit_files("main", {f"{STAGING}/dify-api.yaml": api_file(emulator, BRANCH)}, "manual bump")
    rerun = deliver(again(req, clone_dirs()))
    assert rerun.operation == "closed" and rerun.pr_number == first.pr_number
    assert emulator.pulls[first.pr_number or 0].state == "closed"
    assert emulator.repo.sha(BRANCH) is None  # no orphan branch left
    third = deliver(again(req, clone_dirs()))
    assert third.operation == "none" and third.api_calls == 0


def test_draft_title_template_and_group(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    req = request(
        emulator,
        clone_dirs(),
        draft=True,
        group="core",
        title_template="chore({environment}): roll {images} from {base}",
        message_template="bump {group} in {environment}\n\nsource {source_sha}",
        source_sha="b" * 40,
    )
    result = deliver(req)
    pull = emulator.pulls[result.pr_number or 0]
    assert pull.draft and pull.head == "dify-action/staging/core"
    assert pull.title == "chore(staging): roll dify-api 1.13.3-acme.42 from main"
    log = emulator.repo.log("dify-action/staging/core")[0]
    assert log.endswith("bump core in staging")


def test_production_paths_stay_untouched(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    result = deliver(request(emulator, clone_dirs()))
    assert {c.file for c in result.changes} == {f"{STAGING}/dify-api.yaml"}
    prod = emulator.repo.read(BRANCH, "environments/production/dify-api.yaml")
    assert prod == emulator.repo.read("main", "environments/production/dify-api.yaml")
    assert result.clone is not None and result.clone.strategy == "shallow+blobless+sparse"


def test_a_pr_section_that_fails_stops_the_bump_before_any_push(emulator: GitHubEmulator,
                                                                 clone_dirs: Callable[[], Path]) -> None:
    """Issue 22: everything the PR needs is computed before the first push, so an unreadable image
    (here: a section hook that raises) leaves no orphan branch behind."""
    from dify_action.untrusted import Unreadable

    def sections(root: Path, changes: object) -> list[str]:
        raise Unreadable("the recorded image facts are unreadable: nested deeper than 8 levels")

    with pytest.raises(Unreadable):
        deliver(request(emulator, clone_dirs(), sections=sections))
    assert emulator.repo.sha(BRANCH) is None and not emulator.open_pulls()
