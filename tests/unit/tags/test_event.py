"""GitContext from the event payload: real recorded payloads (npm @octokit/webhooks-examples) and the tags they give.

The payloads come from GitHub (recorded deliveries); the GITHUB_* values are what the runner sets
for that event (https://docs.github.com/en/actions/writing-workflows/choosing-when-your-workflow-runs/events-that-trigger-workflows):
GITHUB_SHA is ``after`` on a push, the merge commit on pull_request, the base branch head on
pull_request_target; GITHUB_REF is ``refs/pull/N/merge`` on pull_request and the base branch on
pull_request_target. A ``schedule`` payload holds only the cron line.
"""

from __future__ import annotations

import copy
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dify_action.errors import InputError
from dify_action.tags import compute_tags, context_from_event, load_event, parse_flavor, parse_rules

ROOT = Path(__file__).resolve().parents[3]
MERGE_SHA = "a9c8c5828b91be19d9728548b24759e352367ef1"
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _examples() -> dict[str, list[dict[str, Any]]]:
    candidates = [Path(os.environ["OCTOKIT_NODE_MODULES"])] if os.environ.get("OCTOKIT_NODE_MODULES") else []
    candidates += [ROOT / ".cache" / "npm" / "node_modules", Path("/opt/octokit/node_modules")]
    for root in candidates:
        index = root / "@octokit" / "webhooks-examples" / "api.github.com" / "index.json"
        if index.is_file():
            return {entry["name"]: entry["examples"] for entry in json.loads(index.read_text())}
    pytest.fail("npm @octokit/webhooks-examples is missing: scripts/bootstrap installs it (scripts/test runs it)")


@pytest.fixture(scope="module")
def examples() -> dict[str, list[dict[str, Any]]]:
    return _examples()


def _first(examples: dict[str, list[dict[str, Any]]], event: str, **match: Any) -> dict[str, Any]:
    for payload in examples[event]:
        if all(payload.get(key) == value for key, value in match.items()):
            return copy.deepcopy(payload)
    raise AssertionError(f"no {event} example with {match}")


def _tags(context: Any, rules: str, flavor: str = "") -> tuple[str, ...]:
    return compute_tags(parse_rules(rules), context, parse_flavor(flavor)).tags


def test_branch_push(examples: dict[str, list[dict[str, Any]]]) -> None:
    payload = _first(examples, "push", ref="refs/heads/master")
    env = {"GITHUB_SHA": payload["after"], "GITHUB_REF": payload["ref"], "GITHUB_RUN_NUMBER": "42"}
    context = context_from_event("push", payload, env, now=NOW)
    assert (context.sha, context.default_branch, context.run_number, context.pr_number, context.base_ref) == (
        payload["after"], "master", 42, None, None)
    assert context.commit_date == datetime(2019, 5, 15, 15, 19, 25, tzinfo=UTC)
    assert _tags(context, "type=ref,event=branch\ntype=edge\ntype=raw,value=defbranch,enable={{is_default_branch}}\n"
                 "type=raw,value=cd-{{commit_date 'YYYYMMDD'}}\ntype=sha") == (
        "master", "edge", "defbranch", "cd-20190515", "sha-6113728")


def test_tag_push(examples: dict[str, list[dict[str, Any]]]) -> None:
    payload = _first(examples, "push", ref="refs/tags/simple-tag")
    payload["base_ref"] = "refs/heads/master"  # GitHub sets it when the tagged commit is a branch head
    env = {"GITHUB_SHA": payload["after"], "GITHUB_REF": payload["ref"]}
    context = context_from_event("push", payload, env, now=NOW)
    assert (context.tag, context.base_ref, context.on_default_branch) == ("simple-tag", "master", False)
    assert _tags(context, "type=ref,event=tag\ntype=raw,value=from-{{base_ref}}\ntype=edge") == (
        "simple-tag", "from-master", "latest")


def test_pull_request(examples: dict[str, list[dict[str, Any]]]) -> None:
    payload = _first(examples, "pull_request", action="opened")
    number = payload["number"]
    env = {"GITHUB_SHA": MERGE_SHA, "GITHUB_REF": f"refs/pull/{number}/merge", "GITHUB_BASE_REF": "master"}
    context = context_from_event("pull_request", payload, env, now=NOW)
    assert (context.sha, context.pr_number, context.base_ref, context.default_branch) == (
        MERGE_SHA, number, payload["pull_request"]["base"]["ref"], "master")
    assert context.commit_date is None  # a PR payload carries no commit date
    assert _tags(context, "type=ref,event=pr\ntype=ref,event=branch\ntype=sha\ntype=raw,value=to-{{base_ref}}") == (
        f"pr-{number}", "sha-a9c8c58", "to-master")
    head = context_from_event("pull_request", payload, env, pr_head_sha=True)
    assert head.sha == payload["pull_request"]["head"]["sha"]
    assert _tags(head, "type=sha") == ("sha-" + payload["pull_request"]["head"]["sha"][:7],)


def test_pull_request_target_has_the_number_although_the_ref_is_the_base(
        examples: dict[str, list[dict[str, Any]]]) -> None:
    payload = _first(examples, "pull_request", action="opened")  # the same payload as pull_request
    base = payload["pull_request"]["base"]
    env = {"GITHUB_SHA": base["sha"], "GITHUB_REF": f"refs/heads/{base['ref']}"}
    context = context_from_event("pull_request_target", payload, env)
    assert (context.pr_number, context.branch, context.on_default_branch) == (payload["number"], None, False)
    assert _tags(context, "type=ref,event=pr\ntype=ref,event=branch\ntype=edge\ntype=latest",
                 "latest=auto") == (f"pr-{payload['number']}",)
    assert context_from_event("pull_request_target", payload, env, pr_head_sha=True).sha == \
        payload["pull_request"]["head"]["sha"]


def test_workflow_dispatch_default_branch_is_not_assumed_main(examples: dict[str, list[dict[str, Any]]]) -> None:
    payload = _first(examples, "workflow_dispatch", ref="refs/heads/master")
    env = {"GITHUB_SHA": MERGE_SHA, "GITHUB_REF": payload["ref"]}
    context = context_from_event("workflow_dispatch", payload, env)
    assert (context.default_branch, context.on_default_branch) == ("master", True)
    assert _tags(context, "type=latest\ntype=edge") == ("latest", "edge")
    other = _first(examples, "workflow_dispatch", ref="refs/heads/main")
    other["repository"]["default_branch"] = "trunk"
    assert not context_from_event("workflow_dispatch", other, {**env, "GITHUB_REF": other["ref"]}).on_default_branch


def test_schedule_runs_on_the_default_branch() -> None:
    env = {"GITHUB_SHA": MERGE_SHA, "GITHUB_REF": "refs/heads/trunk", "GITHUB_RUN_NUMBER": "7"}
    context = context_from_event("schedule", {"schedule": "0 3 * * *"}, env, now=NOW,
                                 commit_date=datetime(2026, 11, 30, 22, 0, tzinfo=UTC))
    assert (context.default_branch, context.on_default_branch) == ("trunk", True)
    assert _tags(context, "type=schedule\ntype=schedule,pattern={{date 'YYYYMMDD'}}-{{run_number}}\n"
                 "type=raw,value=src-{{commit_date 'YYYY-MM-DD'}}") == ("nightly", "20261201-7", "src-2026-11-30")


def test_a_payload_without_repository_knows_no_default_branch() -> None:
    context = context_from_event("push", {}, {"GITHUB_SHA": MERGE_SHA, "GITHUB_REF": "refs/heads/main"})
    assert context.default_branch is None and not context.on_default_branch
    assert _tags(context, "type=latest\ntype=edge\ntype=sha", "latest=auto") == ("sha-a9c8c58",)


@pytest.mark.parametrize(
    ("env", "payload", "name"),
    [
        ({"GITHUB_REF": "refs/heads/main"}, {}, "GITHUB_SHA"),
        ({"GITHUB_SHA": MERGE_SHA, "GITHUB_REF": "main"}, {}, "GITHUB_REF"),
        ({"GITHUB_SHA": MERGE_SHA, "GITHUB_REF": "refs/heads/main", "GITHUB_RUN_NUMBER": "x"}, {},
         "GITHUB_RUN_NUMBER"),
        ({"GITHUB_SHA": "abc", "GITHUB_REF": "refs/heads/main"}, {}, "sha"),
        ({"GITHUB_SHA": MERGE_SHA, "GITHUB_REF": "refs/heads/main"},
         {"head_commit": {"id": MERGE_SHA, "timestamp": "yesterday"}}, "commit timestamp in the event payload"),
    ],
)
def test_bad_context_is_a_named_input_error(env: dict[str, str], payload: dict[str, Any], name: str) -> None:
    with pytest.raises(InputError) as info:
        context_from_event("push", payload, env)
    assert info.value.name == name and info.value.exit_code == 2


def test_bad_pr_number_is_a_named_input_error() -> None:
    with pytest.raises(InputError, match="pull request number"):
        context_from_event("pull_request", {"number": "two"},
                           {"GITHUB_SHA": MERGE_SHA, "GITHUB_REF": "refs/pull/2/merge"})


def test_load_event(tmp_path: Path) -> None:
    good = tmp_path / "event.json"
    good.write_text(json.dumps({"schedule": "0 3 * * *"}))
    assert load_event(good) == {"schedule": "0 3 * * *"}
    for name, text in (("bad.json", "{"), ("list.json", "[]")):
        (tmp_path / name).write_text(text)
        with pytest.raises(InputError) as info:
            load_event(tmp_path / name)
        assert info.value.name == "GITHUB_EVENT_PATH" and info.value.exit_code == 2
    with pytest.raises(InputError, match="readable JSON"):
        load_event(tmp_path / "missing.json")
