"""The values of a verification: what is expected, what a live source saw, the verdict.

An environment is *verified* when every configured live source reports that it runs exactly the
images its GitOps branch declares (by digest), healthy, its migration hook succeeded, and Dify's own
``/health`` answers with the image's Dify version. Sources report ``Observation``s; the wait loop
(wait.py) turns a sequence of rounds of them into one ``Verdict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from dify_action import refs

SHORT_DIGEST = 12  # messages show at least 12 hex digits of a digest and 7 of a revision (issue 18)
SHORT_REVISION = 7


def short_digest(digest: str | None) -> str:
    if not digest:
        return "(no digest)"
    algorithm, _, hex_part = digest.partition(":")
    return f"{algorithm}:{hex_part[:SHORT_DIGEST]}" if hex_part else digest[:SHORT_DIGEST]


def short_revision(revision: str | None) -> str:
    return revision[:12] if revision else "(none)"


class State(StrEnum):
    """One source's reading. FAILED ends the wait at once; MISMATCH (an image or version differs)
    ends it once every other source is OK or MISMATCH too (synced and healthy: nothing left to roll
    out); DEGRADED ends it after the degraded grace; PENDING waits."""

    OK = "ok"
    PENDING = "pending"
    DEGRADED = "degraded"
    MISMATCH = "mismatch"
    FAILED = "failed"


@dataclass(frozen=True)
class ExpectedImage:
    """One image the environment must run: the GitOps files' reference, the digest they pin (or the
    registry resolved for the tag), and the Dify facts recorded for that digest."""

    ref: refs.ImageRef
    digest: str
    dify_version: str | None = None
    heads: tuple[str, ...] = ()
    file: str | None = None

    @property
    def pinned(self) -> str:
        return f"{self.ref.name}:{self.ref.tag}@{self.digest}" if self.ref.tag else f"{self.ref.name}@{self.digest}"

    def matches_repository(self, image: str) -> bool:
        other = refs.try_parse(image.strip())
        return other is not None and other.same_repository(self.ref)

    def as_dict(self) -> dict[str, object]:
        return {"image": self.ref.name, "tag": self.ref.tag, "digest": self.digest,
                "dify_version": self.dify_version, "heads": list(self.heads), "file": self.file}


@dataclass(frozen=True)
class ExpectedState:
    """What revision ``revision`` of the environment declares."""

    environment: str
    revision: str
    images: tuple[ExpectedImage, ...]

    @property
    def dify_versions(self) -> tuple[str, ...]:
        return tuple(sorted({i.dify_version for i in self.images if i.dify_version}))

    def image_for(self, reference: str) -> ExpectedImage | None:
        return next((i for i in self.images if i.matches_repository(reference)), None)


@dataclass(frozen=True)
class Observation:
    """What one live source saw in one round. ``subject`` names the app, workload, container or URL;
    ``detail`` the cause, with expected vs actual digests or versions when they differ."""

    source: str
    subject: str
    state: State
    detail: str
    revision: str | None = None  # the live revision the source reports (Argo CD, Flux), if any

    def describe(self) -> str:
        return f"{self.source} {self.subject}: {self.detail}"

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "subject": self.subject, "state": self.state.value, "detail": self.detail,
                "revision": self.revision}


@dataclass(frozen=True)
class Timing:
    """How long to wait: ``timeout`` for a verdict, ``soak`` of continuous health after the first
    success, ``degraded_grace`` before Degraded is final, ``interval`` between rounds (seconds)."""

    timeout: float = 900.0
    soak: float = 0.0
    degraded_grace: float = 120.0
    interval: float = 5.0


@dataclass(frozen=True)
class Verdict:
    """``status``: verified | failed | timeout. ``cause`` names what failed (or why it timed out);
    ``healthy_at``/``decided_at`` are seconds since the wait started (the latency benchmark reads them)."""

    status: str
    cause: str
    observations: tuple[Observation, ...] = ()
    healthy_at: float | None = None
    decided_at: float = 0.0
    rounds: int = 0
    live_revision: str | None = None

    @property
    def verified(self) -> bool:
        return self.status == "verified"

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, "verified": self.verified, "cause": self.cause,
                "observations": [o.as_dict() for o in self.observations], "healthy_after": self.healthy_at,
                "decided_after": round(self.decided_at, 3), "rounds": self.rounds, "live_revision": self.live_revision}


@dataclass(frozen=True)
class VerifyResult:
    """A verification of ``environment``: the expected state (at ``revision``, which may be past the
    commit asked for), the verdict, the registry records written and, on failure with
    ``on-failure: rollback``, the rollback's outcome (a dict, or a refusal message)."""

    environment: str
    commit: str
    expected: ExpectedState
    verdict: Verdict
    sources: tuple[str, ...]
    recorded: tuple[str, ...] = ()
    rollback: Mapping[str, object] | None = None
    rollback_refused: str | None = None
    notes: tuple[str, ...] = field(default=())
    merge_to_healthy: float | None = None

    @property
    def verified(self) -> bool:
        return self.verdict.verified

    def as_dict(self) -> dict[str, object]:
        return {"environment": self.environment, "commit": self.commit, "revision": self.expected.revision,
                "verified": self.verified, "verdict": self.verdict.as_dict(),
                "images": [i.as_dict() for i in self.expected.images], "sources": list(self.sources),
                "recorded": list(self.recorded), "rollback": dict(self.rollback) if self.rollback else None,
                "rollback_refused": self.rollback_refused, "notes": list(self.notes),
                "merge_to_healthy": self.merge_to_healthy}
