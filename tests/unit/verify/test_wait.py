"""The wait's rules as properties over generated rounds of observations (a fake clock, scripted
sources): what ends the wait, when, and that the cause names what caused it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from dify_action.verify.model import ExpectedState, Observation, State, Timing
from dify_action.verify.wait import Clock, decide, judge, wait

STATES = list(State)


@dataclass
class FakeClock:
    t: float = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class Script:
    """A source answering the given rounds in turn (the last one stays)."""

    name = "script"

    def __init__(self, rounds: Sequence[Sequence[State]]) -> None:
        self.rounds = [list(r) for r in rounds]
        self.calls = 0

    def observe(self, expectations: object) -> list[Observation]:
        states = self.rounds[min(self.calls, len(self.rounds) - 1)]
        self.calls += 1
        return [Observation("script", f"s{i}", s, f"{s.value} #{i} in round {self.calls}")
                for i, s in enumerate(states)]

    def close(self) -> None:
        pass


class Expect:
    commit = "c" * 40
    current = ExpectedState("staging", "c" * 40, ())


def run(rounds: Sequence[Sequence[State]], timing: Timing) -> tuple[object, Script]:
    clock = FakeClock()
    script = Script(rounds)
    verdict = wait([script], Expect(), timing, clock=Clock(clock.now, clock.sleep))  # type: ignore[arg-type]
    return verdict, script


rounds_strategy = st.lists(st.lists(st.sampled_from(STATES), min_size=1, max_size=4), min_size=1, max_size=12)
TIMING = Timing(timeout=30.0, soak=0.0, degraded_grace=5.0, interval=1.0)


@settings(max_examples=300, deadline=None)
@given(rounds_strategy)
def test_a_verdict_always_comes_and_names_its_cause(rounds: list[list[State]]) -> None:
    verdict, script = run(rounds, TIMING)
    last = rounds[min(script.calls, len(rounds)) - 1]
    assert verdict.status in ("verified", "failed", "timeout")  # type: ignore[attr-defined]
    if verdict.status == "verified":  # type: ignore[attr-defined]
        assert all(s is State.OK for s in last)
    if verdict.status == "failed":  # type: ignore[attr-defined]
        culprits = [o for o in verdict.observations if o.state is not State.OK]  # type: ignore[attr-defined]
        assert culprits and all(o.detail in verdict.cause for o in culprits  # type: ignore[attr-defined]
                                if o.state in (State.FAILED,))
    assert verdict.decided_at <= TIMING.timeout + TIMING.interval  # type: ignore[attr-defined]


@given(rounds_strategy)
def test_failed_ends_the_wait_in_its_round(rounds: list[list[State]]) -> None:
    first = next((i for i, r in enumerate(rounds) if State.FAILED in r), None)
    verdict, script = run(rounds, TIMING)
    if first is not None and script.calls > first:
        assert verdict.status == "failed" and script.calls == first + 1  # type: ignore[attr-defined]


@given(st.lists(st.sampled_from([State.OK, State.MISMATCH]), min_size=1, max_size=4).filter(
    lambda r: State.MISMATCH in r))
def test_mismatch_with_everything_else_settled_is_final(states: list[State]) -> None:
    assert judge([Observation("s", str(i), s, "x") for i, s in enumerate(states)]) is not None


@given(st.lists(st.sampled_from([State.PENDING, State.DEGRADED]), min_size=1, max_size=3))
def test_mismatch_while_something_rolls_out_is_not_final(others: list[State]) -> None:
    observations = [Observation("s", "m", State.MISMATCH, "x"), *(Observation("s", "o", s, "y") for s in others)]
    assert judge(observations) is None


def test_degraded_fails_after_the_grace_not_before() -> None:
    verdict, script = run([[State.DEGRADED]], TIMING)
    assert verdict.status == "failed" and "Degraded for 5s (grace 5s)" in verdict.cause  # type: ignore[attr-defined]
    assert script.calls == 6


def test_degraded_then_recovered_resets_the_grace() -> None:
    rounds = [[State.DEGRADED]] * 4 + [[State.PENDING]] + [[State.DEGRADED]] * 4 + [[State.OK]]
    verdict, _ = run(rounds, TIMING)
    assert verdict.status == "verified"  # type: ignore[attr-defined]


def test_soak_holds_then_verifies_and_a_regression_fails_it() -> None:
    soaking = Timing(timeout=60, soak=3, degraded_grace=5, interval=1)
    verdict, script = run([[State.PENDING], [State.OK]], soaking)
    assert verdict.status == "verified" and script.calls == 5 and verdict.healthy_at == 1  # type: ignore[attr-defined]
    verdict, _ = run([[State.OK], [State.OK], [State.PENDING]], soaking)
    assert verdict.status == "failed" and "regressed during the soak" in verdict.cause  # type: ignore[attr-defined]


def test_timeout_names_what_is_pending() -> None:
    verdict, _ = run([[State.PENDING, State.OK]], Timing(timeout=3, degraded_grace=5, interval=1))
    assert verdict.status == "timeout"  # type: ignore[attr-defined]
    assert "timed out after 3s" in verdict.cause and "pending #0" in verdict.cause  # type: ignore[attr-defined]
    assert "live revision (none)" in verdict.cause  # type: ignore[attr-defined]


def test_decide_is_the_wait_in_one_round() -> None:
    from dify_action.verify.wait import _Track

    track = _Track()
    ok = [Observation("s", "a", State.OK, "fine")]
    assert decide(ok, 0.0, Timing(soak=0), track) == ("verified", "every source reports the expected state")
