"""Verification records read fail-closed (issue 22's rule for our own records): anything but an exact
``passed`` refuses promote, whatever the record says instead or however it is spelled."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dify_action.verify.record import Verification, refusal


def _record(status: str) -> Verification:
    return Verification.from_dict("staging", {"status": status, "commit": "a" * 40, "revision": "a" * 40,
                                              "time": "2026-12-07T00:00:00Z", "sources": ["docker"], "soak": 0})


def test_only_an_exact_passed_lets_promote_through() -> None:
    assert refusal({"staging": _record("passed")}, "staging", "api") is None
    for status in ("PASSED", "passed ", " passed", "Passed", "failed", "error", "pending", "", "None"):
        assert refusal({"staging": _record(status)}, "staging", "api") is not None, status


@given(st.text(max_size=12).filter(lambda s: s != "passed"))
def test_every_other_status_refuses(status: str) -> None:
    reason = refusal({"staging": _record(status)}, "staging", "api")
    assert reason is not None and reason.startswith("api: its last verification in staging")


def test_another_environments_pass_is_no_pass_here() -> None:
    assert refusal({"production": _record("passed")}, "staging", "api") == (
        "api: never verified in staging (no sha256-<hex>.verify record names it)")
