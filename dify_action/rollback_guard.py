"""The Dify migration guard of rollback, and the pure pieces of choosing what to roll back.

Dify's database schema moves with its versions (alembic) and there is no documented downgrade: an
api image rolled back across a Dify version meets a schema it does not know (``Can't locate
revision``). So a rollback that takes any image back to an older ``io.dify.base-version`` is
refused unless the user says the databases (``dify`` and ``dify_plugin``) and storage are backed
up and accepts the risk (``--allow-schema-rollback``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dify_action import refs

GUARD_HINT = (
    "Dify runs alembic migrations when its version changes and documents no downgrade: the older api "
    "image may not start on the newer schema. Back up both Postgres databases (dify and dify_plugin) and "
    "the storage volume, restore them together with the older image, or roll forward with a fix; to "
    "proceed anyway re-run with --allow-schema-rollback"
)
_NUMBERS = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(.*)")


@dataclass(frozen=True)
class ImageMove:
    """One deployed reference the rollback changes: ``current`` (what runs) -> ``restored``."""

    file: str
    line: int
    where: str
    current: refs.ImageRef
    restored: refs.ImageRef

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "where": self.where, "current": str(self.current),
                "restored": str(self.restored)}


@dataclass(frozen=True)
class GuardCheck:
    """The Dify base versions of one image move and the verdict: ok | downgrade | unknown | upgrade."""

    image: str
    current: str | None
    restored: str | None
    verdict: str

    @property
    def blocks(self) -> bool:
        return self.verdict in ("downgrade", "unknown")

    def describe(self) -> str:
        return f"{self.image}: Dify {self.current or 'unknown'} -> {self.restored or 'unknown'} ({self.verdict})"

    def as_dict(self) -> dict[str, object]:
        return {"image": self.image, "current": self.current, "restored": self.restored, "verdict": self.verdict}


def version_key(version: str) -> tuple[tuple[int, ...], int, str] | None:
    """Sort key of a Dify version: 1.13.3 < 1.14.0-rc1 < 1.14.0 < 1.14.0-fix.1 (None: not a version)."""
    match = _NUMBERS.fullmatch(version.strip())
    if match is None:
        return None
    numbers = tuple(int(part or 0) for part in match.group(1, 2, 3))
    rest = match.group(4).lstrip("-+.")
    if not rest:
        return numbers, 1, ""
    # pre-releases (rc, beta, alpha) sort before the release; fixes/builds after it
    pre = re.match(r"(rc|beta|alpha|a|b)\d*", rest.lower())
    return numbers, 0 if pre else 2, rest


def verdict(current: str | None, restored: str | None) -> str:
    """``ok``: same version or no Dify image at all; ``upgrade``: the rollback goes to a newer
    version (migrations run forward, as on any upgrade); ``downgrade``: older; ``unknown``: only one
    side is known or the versions cannot be compared."""
    if current is None and restored is None:
        return "ok"
    if current is None or restored is None:
        return "unknown"
    if current.strip().lstrip("v") == restored.strip().lstrip("v"):
        return "ok"
    now, then = version_key(current), version_key(restored)
    if now is None or then is None:
        return "unknown"
    if then[0] == now[0] and then[1] >= 1 and now[1] >= 1:
        return "ok"  # 1.13.3 vs 1.13.3-fix.1: the same upstream release, the same schema
    return "downgrade" if then < now else "upgrade"


@dataclass(frozen=True)
class Candidate:
    """A merged bump: ``key`` ("#12" or a commit sha) and what it rolled back, if it was a rollback."""

    key: str
    rollback_of: str | None = None


def choose_last(newest_first: Sequence[Candidate]) -> Candidate | None:
    """The last bump still in effect: rollbacks are skipped, and so is every bump a later rollback
    undid, so rolling back twice goes two deployments back instead of flip-flopping."""
    undone: set[str] = set()
    for candidate in newest_first:
        if candidate.rollback_of:
            undone.add(candidate.rollback_of)
            continue
        if candidate.key not in undone:
            return candidate
    return None


TRAILER = "Dify-Action-Rollback-Of"
_TRAILER_RE = re.compile(rf"^{TRAILER}:\s*(\S+)\s*$", re.MULTILINE)
_REVERTS_RE = re.compile(r"^This reverts commit ([0-9a-f]{7,64})\b", re.MULTILINE)


def rolled_back(message: str) -> str | None:
    """What a commit message says it rolls back: our trailer, else git revert's own sentence."""
    match = _TRAILER_RE.search(message) or _REVERTS_RE.search(message)
    return match.group(1) if match else None
