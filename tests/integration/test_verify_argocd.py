"""verify's Argo CD source against the API emulator, every response validated against Argo CD's own
OpenAPI description (../shared/specs/argocd-swagger.json): each scenario of issue 18 ends in the
right verdict with a message naming the cause."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from emulator.argocd import ArgoCdEmulator, ArgoCdSchema, Fault, application, migration_hook
from emulator.history import API, DIGESTS, commit_line, expectations, image

from dify_action.verify.model import Timing, Verdict
from dify_action.verify.request import ArgoCd
from dify_action.verify.sources.argocd import ArgoCdSource
from dify_action.verify.wait import wait

FAST = Timing(timeout=3.0, soak=0.0, degraded_grace=0.3, interval=0.02)
NEW = f"{API}:1.13.3-acme.42@{DIGESTS['new']}"
OLD = f"{API}:1.13.3-acme.41@{DIGESTS['old']}"


@pytest.fixture(scope="module")
def schema() -> ArgoCdSchema:
    return ArgoCdSchema()


@pytest.fixture
def argo(schema: ArgoCdSchema) -> Iterator[ArgoCdEmulator]:
    em = ArgoCdEmulator("argocd-" + secrets.token_hex(8)).start()
    try:
        yield em
    finally:
        em.stop()
    problems = em.problems(schema)
    assert not problems, "responses that do not match Argo CD's OpenAPI description:\n" + "\n".join(problems[:20])


@pytest.fixture
def line(tmp_path: Path) -> list[str]:
    return commit_line(tmp_path / "gitops", 4)


def run(tmp_path: Path, argo: ArgoCdEmulator, commit: str, apps: tuple[str, ...] = ("dify-staging",),
        token: str | None = None, timing: Timing = FAST, states: dict[str, tuple] | None = None,
        server: str | None = None) -> tuple[Verdict, list[str]]:
    lines: list[str] = []
    states = states or {commit: (image("1.13.3-acme.42", DIGESTS["new"]),)}
    source = ArgoCdSource(ArgoCd(server or argo.url, apps, token or argo.token))
    try:
        verdict = wait([source], expectations(tmp_path / "gitops", commit, states), timing, progress=lines.append)
    finally:
        source.close()
    return verdict, lines


def test_healthy_at_the_commit_is_verified_and_asks_for_a_refresh(tmp_path: Path, argo: ArgoCdEmulator,
                                                                   line: list[str]) -> None:
    argo.set_app("dify-staging", application("dify-staging", revision=line[2], images=[NEW],
                                             hooks=[migration_hook("Succeeded")]))
    verdict, _ = run(tmp_path, argo, line[2])
    assert verdict.status == "verified", verdict.cause
    assert argo.requests[0]["query"].get("refresh") == ["normal"]


def test_synced_to_an_older_revision_then_catching_up(tmp_path: Path, argo: ArgoCdEmulator, line: list[str]) -> None:
    older = application("dify-staging", revision=line[1], images=[OLD])
    argo.set_app("dify-staging", older, older, application("dify-staging", revision=line[2], images=[NEW]))
    verdict, progress = run(tmp_path, argo, line[2])
    assert verdict.status == "verified", verdict.cause
    assert any(f"synced to {line[1][:12]}, an ancestor of {line[2][:12]}" in p for p in progress), progress
    assert sum(1 for r in argo.requests if r["query"].get("refresh")) >= 2  # asked again while behind


def test_progressing_then_healthy(tmp_path: Path, argo: ArgoCdEmulator, line: list[str]) -> None:
    argo.set_app("dify-staging", application("dify-staging", revision=line[2], health="Progressing", images=[NEW],
                                             phase="Running", hooks=[migration_hook("Running")]),
                 application("dify-staging", revision=line[2], images=[NEW], hooks=[migration_hook("Succeeded")]))
    verdict, progress = run(tmp_path, argo, line[2])
    assert verdict.status == "verified" and verdict.rounds >= 2
    assert any("Progressing" in p for p in progress)


def test_degraded_fails_after_the_grace(tmp_path: Path, argo: ArgoCdEmulator, line: list[str]) -> None:
    argo.set_app("dify-staging", application("dify-staging", revision=line[2], health="Degraded", images=[NEW],
                                             message="Deployment dify-api exceeded its progress deadline"))
    verdict, _ = run(tmp_path, argo, line[2])
    assert verdict.status == "failed"
    assert "Degraded for" in verdict.cause and "exceeded its progress deadline" in verdict.cause
    assert verdict.decided_at >= FAST.degraded_grace


def test_failed_migration_hook_is_final_at_once(tmp_path: Path, argo: ArgoCdEmulator, line: list[str]) -> None:
    argo.set_app("dify-staging", application(
        "dify-staging", revision=line[2], health="Progressing", phase="Failed", images=[NEW],
        message="one or more synchronization tasks completed unsuccessfully",
        hooks=[migration_hook("Failed", "Job has reached the specified backoff limit")]))
    verdict, _ = run(tmp_path, argo, line[2])
    assert verdict.status == "failed" and verdict.rounds == 1
    assert "PreSync Job/dify-migrate Failed: Job has reached the specified backoff limit" in verdict.cause
    assert line[2][:12] in verdict.cause


def test_healthy_with_the_old_digest_is_a_mismatch(tmp_path: Path, argo: ArgoCdEmulator, line: list[str]) -> None:
    argo.set_app("dify-staging", application("dify-staging", revision=line[2], images=[OLD]))
    verdict, _ = run(tmp_path, argo, line[2])
    assert verdict.status == "failed" and verdict.rounds == 1
    assert f"summary.images has {OLD}" in verdict.cause
    assert "sha256:aaaaaaaaaaaa" in verdict.cause  # the expected digest, 12 hex digits at least


def test_a_live_revision_past_the_commit_is_expected_instead(tmp_path: Path, argo: ArgoCdEmulator,
                                                             line: list[str]) -> None:
    newer = f"{API}:1.13.3-acme.43@{DIGESTS['newer']}"
    argo.set_app("dify-staging", application("dify-staging", revision=line[3], images=[newer]))
    states = {line[2]: (image("1.13.3-acme.42", DIGESTS["new"]),),
              line[3]: (image("1.13.3-acme.43", DIGESTS["newer"]),)}
    lines: list[str] = []
    source = ArgoCdSource(ArgoCd(argo.url, ("dify-staging",), argo.token))
    found = expectations(tmp_path / "gitops", line[2], states)
    verdict = wait([source], found, FAST, progress=lines.append)
    assert verdict.status == "verified", verdict.cause
    assert found.current.revision == line[3]
    assert any("supersedes" in n and "1.13.3-acme.42" in n for n in found.notes), found.notes


def test_several_applications_must_cover_the_images_together(tmp_path: Path, argo: ArgoCdEmulator,
                                                               line: list[str]) -> None:
    web = f"127.0.0.1:5000/acme/dify-web:1.13.3@{DIGESTS['web']}"
    states = {line[2]: (image("1.13.3-acme.42", DIGESTS["new"]),
                        image("1.13.3", DIGESTS["web"], None, "127.0.0.1:5000/acme/dify-web"))}
    argo.set_app("dify-api", application("dify-api", revision=line[2], images=[NEW]))
    argo.set_app("dify-web", application("dify-web", revision=line[2], images=[web]))
    verdict, _ = run(tmp_path, argo, line[2], apps=("dify-api", "dify-web"), states=states)
    assert verdict.status == "verified", verdict.cause
    argo.set_app("dify-web", application("dify-web", revision=line[2], images=[]))
    verdict, _ = run(tmp_path, argo, line[2], apps=("dify-api", "dify-web"), states=states)
    assert verdict.status == "failed" and "no application's summary.images holds" in verdict.cause
    assert "acme/dify-web:1.13.3" in verdict.cause


def test_unauthorized_is_final(tmp_path: Path, argo: ArgoCdEmulator, line: list[str]) -> None:
    argo.set_app("dify-staging", application("dify-staging", revision=line[2], images=[NEW]))
    verdict, _ = run(tmp_path, argo, line[2], token="wrong")
    assert verdict.status == "failed" and verdict.rounds == 1
    assert "401: the credential was refused" in verdict.cause and "wrong" not in verdict.cause


def test_5xx_is_retried(tmp_path: Path, argo: ArgoCdEmulator, line: list[str]) -> None:
    argo.set_app("dify-staging", application("dify-staging", revision=line[2], images=[NEW]))
    argo.faults.append(Fault(503, times=3))
    verdict, progress = run(tmp_path, argo, line[2])
    assert verdict.status == "verified" and verdict.rounds == 4
    assert any("answered 503" in p and "retrying" in p for p in progress)


def test_unreachable_server_times_out_naming_both_revisions(tmp_path: Path, argo: ArgoCdEmulator,
                                                            line: list[str]) -> None:
    timing = Timing(timeout=0.3, degraded_grace=1, interval=0.05)
    verdict, _ = run(tmp_path, argo, line[2], timing=timing, server="http://127.0.0.1:9")
    assert verdict.status == "timeout"
    assert "unreachable" in verdict.cause and line[2][:12] in verdict.cause and "live revision (none)" in verdict.cause


def test_timeout_while_behind_names_the_live_revision(tmp_path: Path, argo: ArgoCdEmulator, line: list[str]) -> None:
    argo.set_app("dify-staging", application("dify-staging", revision=line[0], images=[OLD]))
    verdict, _ = run(tmp_path, argo, line[2], timing=Timing(timeout=0.3, degraded_grace=1, interval=0.05))
    assert verdict.status == "timeout"
    assert f"waiting for revision {line[2][:12]} (live revision {line[0][:12]})" in verdict.cause
