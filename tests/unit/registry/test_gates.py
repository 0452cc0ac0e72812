"""Gate records fail closed (issue 22, class 4): only the exact statuses this code writes pass."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dify_action.errors import InputError
from dify_action.registry.gates import GateRecord, refusal, validate_results

IMAGE = "r.example/acme/api@sha256:" + "a" * 64


@given(st.text(max_size=12).filter(lambda s: s not in ("passed", "skipped")))
def test_any_status_but_passed_or_skipped_refuses_on_read(status: str) -> None:
    record = GateRecord("sha256:" + "a" * 64, {"smoke": "passed", "scan": status})
    why = refusal(record, IMAGE)
    assert why is not None and "scan" in why


@pytest.mark.parametrize("status", ["FAILED", "error", "pending", "failed ", "Passed", "passed\n", ""])
def test_the_reviewed_examples_refuse_on_read_and_write(status: str) -> None:
    assert refusal(GateRecord("sha256:" + "a" * 64, {"smoke": "passed", "scan": status}), IMAGE)
    with pytest.raises(InputError):
        validate_results({"smoke": "passed", "scan": status})


def test_exact_passing_statuses_pass() -> None:
    assert refusal(GateRecord("sha256:" + "a" * 64, {"smoke": "passed", "scan": "skipped"}), IMAGE) is None
