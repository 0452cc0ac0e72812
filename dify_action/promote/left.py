"""What a promotion leaves behind: every image whose version differs between the two environments
and that promote did not move, with the reason (issue 23: staging ran the official web 1.13.4 beside
the customized api; promote moved only the api and production ended with a pair staging never ran).
A promotion never splits a release silently: these go to the result, the JSON document and the
summary, and the fix is named (``promote.official`` for upstream images, ``images`` to choose)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dify_action.bump import FoundImage


@dataclass(frozen=True)
class Left:
    """An image that differs between the environments and was not promoted."""

    image: str
    source: str | None  # what the source environment runs (None: not deployed there)
    target: str | None  # what the target environment runs
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"image": self.image, "from": self.source, "to": self.target, "reason": self.reason}

    def note(self, source: str, target: str) -> str:
        return (f"NOT promoted: {self.image} ({source}: {self.source or 'not deployed'}, {target}: "
                f"{self.target or 'not deployed'}): {self.reason}")


def _runs(items: Sequence[FoundImage] | None) -> str | None:
    if not items:
        return None
    return ", ".join(sorted({(i.ref.tag or "") + (f"@{i.ref.digest}" if i.ref.digest else "") for i in items}))


def _version(items: Sequence[FoundImage] | None) -> set[tuple[str | None, str | None]]:
    return {(i.ref.tag, i.ref.digest) for i in items or ()}


def left_behind(source: Mapping[str, Sequence[FoundImage]], target: Mapping[str, Sequence[FoundImage]],
                moved: set[str], *, asked: Sequence[str], ours: set[str], official: set[str], source_env: str,
                target_env: str) -> tuple[Left, ...]:
    """Every repository whose version differs between ``source`` and ``target`` and is not in ``moved``."""
    out: list[Left] = []
    for repo in sorted(set(source) | set(target)):
        if repo in moved or _version(source.get(repo)) == _version(target.get(repo)):
            continue
        if repo not in source:
            reason = f"deployed in {target_env} only: promote moves what {source_env} runs"
        elif repo not in target:
            reason = f"runs in {source_env} only: promote updates images {target_env} already deploys"
        elif asked:
            reason = "not among the images asked for (images / --image)"
        elif ours and repo not in ours and repo not in official:
            reason = ("not built here (not a component of the config) and not in promote.official: list it there "
                      "to move it with the release, or promote it with images (Dify's own images travel with "
                      "the release set)")
        else:
            reason = "not moved"
        out.append(Left(repo, _runs(source.get(repo)), _runs(target.get(repo)), reason))
    return tuple(out)
