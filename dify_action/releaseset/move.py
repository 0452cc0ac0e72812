"""Move a whole set to one Dify release: the targets that set every official member to its pairing.

api, web (and from 1.16 the agent images) take the release tag; sandbox and plugin-daemon take what
the table pairs with the release, and stay where they are (said in a note) when the pairing is not
known. Customized components are not moved here: they take their built digests, and the checks
then compare their recorded Dify version with the release.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dify_action.bump import Target
from dify_action.errors import InputError
from dify_action.releaseset.members import AGENT, AGENT_SANDBOX, RELEASE_TAGGED
from dify_action.releaseset.table import PairingTable
from dify_action.releaseset.view import ReleaseSet

_RELEASE_RE = re.compile(r"\d+\.\d+\.\d+(?:-(?:rc|beta|alpha)\.?\d+|-fix\.?\d+)?")


def check_release(release: str, input_name: str = "dify-release") -> str:
    """A Dify release version as upstream tags it (1.17.1, 1.16.0-rc1, 1.10.1-fix.1); InputError otherwise."""
    value = release.strip().removeprefix("v")
    if not _RELEASE_RE.fullmatch(value):
        raise InputError(input_name, release, "a Dify release version as upstream tags it, e.g. 1.17.1, "
                         "1.16.0-rc1 or 1.10.1-fix.1")
    return value


@dataclass(frozen=True)
class ReleaseMove:
    """The targets that move the official members, and what stays (with why)."""

    release: str
    targets: tuple[Target, ...]
    notes: tuple[str, ...] = ()


def release_targets(current: ReleaseSet, release: str, table: PairingTable) -> ReleaseMove:
    """One target per official repository deployed in ``current`` whose tag the release says."""
    lookup = table.lookup(release)
    pairing = lookup.pairing
    agents = table.runs_agents(release)
    targets: dict[str, Target] = {}
    notes: list[str] = [] if pairing else [lookup.explain(table)]
    for member in current.members:
        if not member.official:
            continue
        if member.role in RELEASE_TAGGED:
            tag: str | None = release if member.role not in (AGENT, AGENT_SANDBOX) or agents else None
        else:
            tag = pairing.expected(member.role) if pairing else None
        if tag is None:
            notes.append(f"{member.role} stays at {member.ref.tag or member.ref.digest} ({member.place}): "
                         f"its tag in Dify {release} is not known")
            continue
        key = member.ref.with_version(None).match_key
        targets.setdefault(key, Target(member.ref.with_version(None), tag))
    return ReleaseMove(release, tuple(targets.values()), tuple(dict.fromkeys(notes)))


def merge_targets(explicit: Sequence[Target], move: ReleaseMove) -> tuple[Target, ...]:
    """The explicit images and the release's; an explicit image of an official member that disagrees
    with the release is a doubt, and doubts stop the run (InputError, before any side effect)."""
    out = list(explicit)
    for target in move.targets:
        same = next((t for t in explicit if t.image.same_repository(target.image)), None)
        if same is None:
            out.append(target)
        elif same.tag != target.tag:
            raise InputError("image", f"{same.image.name}:{same.tag}", f"the tag Dify {move.release} pairs "
                             f"({target.tag}), or no image for it: --dify-release sets the official images")
    return tuple(out)
