"""The Dify migration guard of rollback, and the pure pieces of choosing what to roll back.

Dify's database schema moves with its versions (alembic) and there is no documented downgrade: an
api image rolled back across a Dify version meets a schema it does not know (``Can't locate
revision``). So a rollback is refused when the running image's Alembic graph holds revisions the
restored image's does not (named, with the backup/restore steps), unless the user says the
databases (``dify`` and ``dify_plugin``) and storage are restored and accepts the risk
(``--allow-schema-rollback``). Two versions with the same history pass. When an image's graph
cannot be read (dify/registryfacts.py), the ``io.dify.base-version`` labels decide, and the check says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from dify_action import refs
from dify_action.dify.facts import ImageFacts
from dify_action.dify.migrations import Revision, diff
from dify_action.dify.versions import label_verdict
from dify_action.errors import DifyActionError, GateFailed, RegistryError
from dify_action.markdown import escape

GUARD_HINT = (
    "Dify runs alembic migrations when its version changes and documents no downgrade: the older api "
    "image may not start on the newer schema. Back up both Postgres databases (dify and dify_plugin) and "
    "the storage volume, restore them together with the older image, or roll forward with a fix; to "
    "proceed anyway re-run with --allow-schema-rollback"
)
STRANDED_HINT = (
    "the database has been migrated past what the restored image knows and Dify has no downgrade: its api "
    "would fail with \"Can't locate revision\". To roll back safely: 1. stop the api, worker and beat; "
    "2. restore both Postgres databases (dify and dify_plugin) and the storage volume from the backup taken "
    "before these migrations ran; 3. merge the rollback with --allow-schema-rollback. Otherwise roll "
    "forward with a fix"
)
FactsFor = Callable[[refs.ImageRef], ImageFacts]


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
    """One image move and its verdict: ok | downgrade | unknown | upgrade. ``method`` graph: the
    images' own revision graphs decided (``stranded``: revisions the running image applied that the
    restored one lacks; ``forward``: what the restored one adds); label: the Dify versions did."""

    image: str
    current: str | None
    restored: str | None
    verdict: str
    method: str = "label"
    stranded: tuple[Revision, ...] = ()
    forward: tuple[Revision, ...] = ()
    heads: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def blocks(self) -> bool:
        return self.verdict in ("downgrade", "unknown")

    def describe(self) -> str:
        text = f"{self.image}: Dify {self.current or 'unknown'} -> {self.restored or 'unknown'} ({self.verdict})"
        if self.method == "label":
            return text + " by the io.dify.base-version labels (the migrations could not be read)"
        if self.stranded:
            return text + f": {len(self.stranded)} migration(s) of the running image are not in the restored " \
                "one: " + ", ".join(r.label() for r in self.stranded)
        if self.forward:
            return text + f": the restored image runs {len(self.forward)} migration(s) forward: " + \
                ", ".join(r.label() for r in self.forward)
        return text + f": the same migration history (head {', '.join(self.heads) or 'none'})"

    def markdown(self) -> str:
        """A Markdown list item (and sub-items) for the PR body and the step summary, escaped."""
        icon = {"ok": "✅", "upgrade": "⬆️", "downgrade": "⛔", "unknown": "⚠️"}.get(self.verdict, "")
        head = (f"- {icon} **{escape(self.image)}**: Dify {escape(self.current or 'unknown')} → "
                f"{escape(self.restored or 'unknown')}: **{escape(self.verdict)}**")
        if self.method == "label":
            return head + " (by the `io.dify.base-version` labels: the migrations could not be read)"
        lines = [head]
        if self.stranded:
            lines.append(f"  - {len(self.stranded)} migration(s) applied by the running image, unknown to the "
                         "restored one:")
            lines += [f"    - {escape(r.revision)} {escape(r.slug)}" for r in self.stranded]
        elif self.forward:
            lines.append(f"  - the restored image runs {len(self.forward)} migration(s):")
            lines += [f"    - {escape(r.revision)} {escape(r.slug)}" for r in self.forward]
        else:
            lines.append(f"  - the same migration history, head {escape(', '.join(self.heads) or 'none')}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {"image": self.image, "current": self.current, "restored": self.restored, "verdict": self.verdict,
                "method": self.method, "stranded": [r.as_dict() for r in self.stranded],
                "forward": [r.as_dict() for r in self.forward], "heads": list(self.heads),
                "notes": list(self.notes)}


def compare(image: str, current: ImageFacts, restored: ImageFacts) -> GuardCheck:
    """The exact verdict when both graphs were read, else the label heuristic (said in ``notes``)."""
    if current.graph is not None and restored.graph is not None:
        change = diff(current.graph, restored.graph)
        verdict = "downgrade" if change.only_old else "upgrade" if change.only_new else "ok"
        return GuardCheck(image, current.dify_version, restored.dify_version, verdict, "graph", change.only_old,
                          change.only_new, restored.graph.heads)
    notes = tuple(n for n in (*current.notes, *restored.notes) if n)
    return GuardCheck(image, current.dify_version, restored.dify_version,
                      label_verdict(current.dify_version, restored.dify_version), "label", notes=notes)


def guard_moves(moves: Sequence[ImageMove], facts_for: FactsFor | None, meta_versions: tuple[str | None, str | None],
                *, allow: bool, notes: list[str]) -> list[GuardCheck]:
    """Check every image move; GateFailed (no side effect) when one strands migrations or cannot be
    judged, unless ``allow`` (then noted). ``meta_versions`` (running, restored) come from the
    bump PR metadata, used only when the registry says nothing and one image moves."""
    checks: list[GuardCheck] = []
    seen: set[tuple[str, str]] = set()
    single = len({m.current.repository for m in moves}) == 1
    for move in moves:
        pair = (str(move.current), str(move.restored))
        if pair in seen:
            continue
        seen.add(pair)
        current = restored = ImageFacts("none")
        if facts_for is not None:
            try:
                current, restored = facts_for(move.current), facts_for(move.restored)
            except DifyActionError as error:  # unreadable facts: refuse, or note them under the override
                if not allow:
                    raise RegistryError(f"migration guard: cannot read the Dify facts of {move.current.name}: "
                                        f"{error.message}", hint=error.hint) from None
                notes.append(f"migration guard could not read {move.current.name}: {error.message}")
        if current.dify_version is None and restored.dify_version is None and not (current.exact and restored.exact) \
                and single and any(meta_versions):
            current, restored = ImageFacts("label", meta_versions[0]), ImageFacts("label", meta_versions[1])
        check = compare(move.current.name, current, restored)
        checks.append(check)
        notes += [f"migration guard: {n}" for n in check.notes]
    blocking = [c for c in checks if c.blocks]
    if blocking and not allow:
        stranded = any(c.stranded for c in blocking)
        raise GateFailed("rollback refused by the Dify migration guard: " + "; ".join(c.describe() for c in blocking),
                         hint=STRANDED_HINT if stranded else GUARD_HINT)
    if blocking:
        notes.append("Dify migration guard overridden (--allow-schema-rollback): "
                     + "; ".join(c.describe() for c in blocking))
    notes += [f"{c.describe()}: migrations run forward" for c in checks if c.verdict == "upgrade"]
    return checks


def guard_markdown(checks: Sequence[GuardCheck], *, allowed: bool = False) -> str:
    """The guard section of a rollback PR body or step summary."""
    if not checks:
        return ""
    lines = ["### Dify migration guard", ""]
    lines += [c.markdown() for c in checks]
    if any(c.blocks for c in checks):
        lines += ["", "> [!CAUTION]", "> " + escape(STRANDED_HINT if any(c.stranded for c in checks) else GUARD_HINT)]
        if allowed:
            lines.append("> Overridden with `--allow-schema-rollback`.")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Candidate:
    """A merged bump: ``key`` ("#12" or a commit sha) and what it rolled back, if it was a rollback."""

    key: str
    rollback_of: str | None = None


def choose_last(newest_first: Iterable[Candidate]) -> Candidate | None:
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
