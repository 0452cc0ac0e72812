"""The wait: read every source each round until a verdict, with progress, soak and timeout.

Rules (issue 18), per round over every source's observations:
- a FAILED observation (a hook or sync operation failed on the revision, a refused token, a
  container that exited non-zero) fails at once;
- a MISMATCH (image or version) fails once every other observation is OK or MISMATCH: synced and
  healthy, nothing is still rolling out;
- DEGRADED fails when it has lasted ``degraded_grace`` (or at the timeout, whichever first);
- all OK starts the soak: the verdict is ``verified`` once every round for ``soak`` seconds was all
  OK; any other round during the soak fails it (a regression);
- otherwise wait ``interval`` and read again, until ``timeout``: the timeout names what is still
  pending, the expected and the live revision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dify_action.verify.expected import Expectations
from dify_action.verify.model import Observation, State, Timing, Verdict, short_revision
from dify_action.verify.sources import Source


@dataclass
class Clock:
    """Time for the wait; tests and the benchmark pass their own."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = field(default=time.sleep)


def _join(observations: Sequence[Observation]) -> str:
    return "; ".join(o.describe() for o in observations)


def _live(observations: Sequence[Observation]) -> str | None:
    return next((o.revision for o in observations if o.revision), None)


def judge(observations: Sequence[Observation]) -> tuple[str, str] | None:
    """The final verdict a round forces on its own (status, cause), or None to keep waiting."""
    failed = [o for o in observations if o.state is State.FAILED]
    if failed:
        return "failed", _join(failed)
    mismatched = [o for o in observations if o.state is State.MISMATCH]
    if mismatched and all(o.state in (State.OK, State.MISMATCH) for o in observations):
        return "failed", _join(mismatched)
    return None


@dataclass
class _Track:
    healthy_at: float | None = None
    degraded_since: float | None = None


def decide(observations: Sequence[Observation], now: float, timing: Timing, track: _Track) -> tuple[str, str] | None:
    """One round's decision (status, cause), or None to read again; ``track`` carries the soak and
    the degraded grace from round to round."""
    forced = judge(observations)
    if forced is not None:
        status, cause = forced
        return status, (f"regressed during the soak: {cause}" if track.healthy_at is not None else cause)
    not_ok = [o for o in observations if o.state is not State.OK]
    if not not_ok:
        track.healthy_at = now if track.healthy_at is None else track.healthy_at
        if now - track.healthy_at >= timing.soak:
            soaked = f", and stayed so for {timing.soak:g}s" if timing.soak else ""
            return "verified", f"every source reports the expected state{soaked}"
        return None
    if track.healthy_at is not None:
        return "failed", f"regressed during the soak: {_join(not_ok)}"
    degraded = [o for o in observations if o.state is State.DEGRADED]
    track.degraded_since = (now if track.degraded_since is None else track.degraded_since) if degraded else None
    if track.degraded_since is not None and now - track.degraded_since >= timing.degraded_grace:
        return "failed", (f"Degraded for {now - track.degraded_since:.0f}s (grace {timing.degraded_grace:g}s): "
                          f"{_join(degraded)}")
    return None


def wait(sources: Sequence[Source], expectations: Expectations, timing: Timing, *, clock: Clock | None = None,
         progress: Callable[[str], None] = lambda line: None) -> Verdict:
    """Read ``sources`` until a verdict (see the module doc)."""
    clock = clock or Clock()
    start = clock.now()
    track = _Track()
    last_line = ""
    rounds = 0
    while True:
        rounds += 1
        observations = tuple(o for source in sources for o in source.observe(expectations))
        now = clock.now() - start
        live = _live(observations)
        line = _join([o for o in observations if o.state is not State.OK]) or "every source OK"
        if line != last_line:
            progress(f"[{now:6.1f}s] {line}")
            last_line = line
        decided = decide(observations, now, timing, track)
        if decided is None and now >= timing.timeout:
            pending = [o for o in observations if o.state is not State.OK]
            decided = ("timeout", f"timed out after {timing.timeout:g}s waiting for revision "
                       f"{short_revision(expectations.current.revision)} (live revision {short_revision(live)}): "
                       f"{_join(pending) or 'the soak had not ended'}")
        if decided is not None:
            return Verdict(decided[0], decided[1], observations, track.healthy_at, clock.now() - start, rounds, live)
        clock.sleep(max(0.0, min(timing.interval, timing.timeout - now)))
