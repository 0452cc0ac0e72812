"""Text from live systems is data: the summary (checked as GitHub renders it) and the CLI lines stay
inert whatever an app's message, a container's log or a /health body says."""

from __future__ import annotations

import cmarkgfm
from hypothesis import given
from hypothesis import strategies as st

from dify_action import refs
from dify_action.verify.model import ExpectedImage, ExpectedState, Observation, State, Verdict, VerifyResult
from dify_action.verify.record import Verification, refusal
from dify_action.verify.render import markdown, text_lines
from dify_action.verify.sources.docker import container_state

DIGEST = "sha256:" + "a" * 64
IMAGE = ExpectedImage(refs.parse("registry.example.com/acme/dify-api:1.13.3-acme.42"), DIGEST, "1.13.3")


def result(detail: str, status: str = "failed") -> VerifyResult:
    observation = Observation("argocd", "dify-staging", State.FAILED, detail)
    verdict = Verdict(status, f"argocd dify-staging: {detail}", (observation,), None, 1.0, 1, "b" * 40)
    return VerifyResult("staging", "b" * 40, ExpectedState("staging", "b" * 40, (IMAGE,)), verdict, ("argocd",))


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_hostile_details_stay_inert(detail: str) -> None:
    hostile = f"{detail}\n::error::pwned | <img src=x onerror=alert(1)> [x](javascript:alert(1))"
    html = cmarkgfm.github_flavored_markdown_to_html(markdown(result(hostile)))
    assert "<img" not in html and "href=" not in html  # text, never a tag or a link
    assert html.count("<tr>") == 4  # the two tables keep their rows: no cell broke out
    for line in text_lines(result(hostile)):
        assert not line.startswith("::") and "\n" not in line and "\x1b" not in line


def test_docker_container_states() -> None:
    running = {"Name": "/dify-api-1", "Image": "sha256:" + "f" * 64, "Config": {"Labels": {
        "com.docker.compose.service": "api"}, "Image": IMAGE.pinned}, "State": {"Status": "running",
                                                                                  "Health": {"Status": "healthy"}}}
    ok = container_state(running, [f"registry.example.com/acme/dify-api@{DIGEST}"], IMAGE)
    assert ok.state is State.OK and ok.subject == "api"
    other = container_state(running, ["registry.example.com/acme/dify-api@sha256:" + "b" * 64], IMAGE)
    assert other.state is State.MISMATCH and "@ sha256:bbbbbbbbbbbb, expected" in other.detail
    local = container_state(running, [], IMAGE)
    assert local.state is State.MISMATCH and "no registry digest" in local.detail
    crashed = {**running, "State": {"Status": "exited", "ExitCode": 1}}
    failed = container_state(crashed, [], IMAGE, lambda: "sqlalchemy.exc.OperationalError: boom")
    assert failed.state is State.FAILED and "exited with code 1: sqlalchemy" in failed.detail


def test_promote_refusal_reads_the_environment_entry() -> None:
    passed = Verification("staging", "passed", "c" * 40, "c" * 40, "2026-12-07T09:00:00Z", ("argocd",))
    assert refusal({"staging": passed}, "staging", "x") is None
    assert "never verified in staging" in (refusal({"qa": passed}, "staging", "x") or "")
    failed = Verification("staging", "failed", "d" * 40, "d" * 40, "2026-12-07T09:00:00Z", ("argocd",))
    assert "last verification in staging failed (commit dddddddddddd)" in (refusal({"staging": failed}, "staging",
                                                                                   "x") or "")
