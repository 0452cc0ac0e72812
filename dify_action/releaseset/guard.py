"""The one check every front end runs before a change to an environment: the set before and after it.

``check_change`` reads the set under the environment's paths, adds the release's targets (``release``:
``--dify-release`` or the config's ``dify.release``), computes the set after the targets, evaluates
it, reads the environment's migration shape when the api's version changes, and ``enforce`` refuses
(``SetRefused``, nothing written yet) unless ``allow_skew`` turns the refusal into a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from dify_action.bump import BumpPlan, Skipped, Target, find_images, plan_bump
from dify_action.bump.tree import SourceFile
from dify_action.errors import DifyActionError, GateFailed
from dify_action.releaseset import checks
from dify_action.releaseset.members import API, named_role, needles, official_role
from dify_action.releaseset.policy import SetPolicy
from dify_action.releaseset.view import ReleaseSet, Versions, after_plan, after_targets, build_set, known_versions

if TYPE_CHECKING:  # loaded where used: a bump whose tree holds no other member needs none of them
    from dify_action.releaseset.table import PairingTable
    from dify_action.releaseset.upgrade import MigrationMode

START_MIGRATIONS = ("warn", "refuse")
Collected = tuple[list[SourceFile], list[Skipped]]  # what bump.tree.collect read: files, and those skipped
HINT = ("move the whole set together (bump --dify-release VERSION, or dify: {release: VERSION} in the config), "
        "or re-run with allow-version-skew to ship it with a warning in the pull request")


class SetRefused(GateFailed):
    """The change would leave the environment running a mismatched Dify set (exit 1, nothing changed)."""


@dataclass(frozen=True)
class SetCheck:
    """What ``check_change`` found: the targets to apply (the release's added), the report, the
    environment's migration shape (when the api's Dify version changes) and notes."""

    targets: tuple[Target, ...]
    report: checks.SetReport
    migrations: MigrationMode | None = None
    allowed: bool = False
    notes: tuple[str, ...] = ()
    # the bump engine's plan of ``targets`` on the tree checked: a bump of that same tree reuses it
    # instead of walking and parsing it again (None: nothing planned, or another clone was checked)
    plan: BumpPlan | None = field(default=None, repr=False, compare=False)

    @property
    def refused(self) -> bool:
        return bool(self.report.blocking) and not self.allowed

    def markdown(self) -> str:
        from dify_action.releaseset import render

        return render.markdown(self.report, allowed=self.allowed, migrations=self.migrations)

    def lines(self) -> list[str]:
        from dify_action.releaseset import render

        return [*render.text(self.report), *(f"  note: {n}" for n in (*self.report.notes, *self.notes))]

    def as_dict(self) -> dict[str, object]:
        return self.report.as_dict() | {"allowed": self.allowed, "refused": self.refused,
                                        "migrations": self.migrations.as_dict() if self.migrations else None,
                                        "notes": [*self.report.notes, *self.notes]}


def check_change(root: Path, paths: Sequence[str], targets: Sequence[Target], policy: SetPolicy,
                 versions: Versions | None = None, *, table: PairingTable | None = None,
                 environment: str | None = None, reuse: bool = False) -> SetCheck:
    """The set check of setting ``targets`` under ``paths`` of the tree at ``root`` (writes nothing but
    what the bump engine's planning does first: an interrupted earlier write finished or undone).
    ``reuse``: a bump of this tree follows, so the early path plans it too, from the bytes it read."""
    if not policy.release:
        others, collected = _others_deployed(root, paths, targets, policy)
        if not others:
            plan = _plan(root, paths, tuple(targets), collected) if reuse else None
            return SetCheck(tuple(targets), checks.SetReport(ReleaseSet(()), ReleaseSet(())),
                            allowed=policy.allow_skew, plan=plan)
    from dify_action.releaseset.table import load
    from dify_action.releaseset.upgrade import migration_mode

    table = table or load()
    notes: list[str] = []
    for attempt in (1, 2):
        before, versions = _read(root, paths, policy, versions)
        chosen, moved = _targets(before, targets, policy, table, versions)
        plan = _plan(root, paths, chosen)
        if attempt == 1 and plan is not None and plan.notes:  # it may have recovered the tree: read it again
            notes += plan.notes
            continue
        break
    notes += moved
    after = after_plan(before, plan, policy.customized, versions) if plan is not None else \
        after_targets(before, chosen, versions)
    report = checks.evaluate(before, after, table)
    migrations = None
    if _api_moves(before, after):
        migrations = migration_mode(root, [m.file for m in after.role(API)], {m.ref.path for m in after.role(API)})
        if migrations.risky:
            extra = checks.Finding("start-migrations", API, str(migrations.migrators), "1 (a MODE=migration job)",
                                   migrations.hint(), blocking=policy.start_migrations == "refuse")
            report = replace(report, findings=(*report.findings, extra))
    if environment:
        notes = [f"{environment}: {n}" for n in notes]
    return SetCheck(chosen, report, migrations, policy.allow_skew, tuple(notes), plan)


def _others_deployed(root: Path, paths: Sequence[str], targets: Sequence[Target], policy: SetPolicy
                     ) -> tuple[bool, Collected]:
    """Whether any file under ``paths`` could deploy a member the targets' own roles do not account for,
    and the files read. Without one, the set after the change is the targets' role alone: nothing to
    pair or compare it with, so the check costs one read of the bytes (as ``grep``), not a parse of
    every file, and the bump plans from those same bytes (``reuse``) instead of reading them again."""
    from dify_action.bump.tree import collect
    from dify_action.releaseset.members import other_matcher, other_needles

    roles = {policy.customized.get(t.image.match_key) or official_role(t.image) or named_role(t.image.path)
             for t in targets}
    deploys_other = other_matcher(other_needles({r for r in roles if r}, policy.customized))
    collected = collect(root, paths)
    return any(deploys_other(source.data) for source in collected[0]), collected


def _read(root: Path, paths: Sequence[str], policy: SetPolicy, versions: Versions | None
          ) -> tuple[ReleaseSet, Versions | None]:
    """The set under ``paths``, and the versions to judge it with. ``versions`` (which may call a
    registry) is used only when the set has something to compare a member with: an official image, or
    members of two roles; a lone customized api (a local bump of one image) calls no registry."""
    found = find_images(root, paths, needles(policy.customized))
    cheap = known_versions(policy.known)
    before = build_set(found, policy.customized, cheap)
    if versions is None or not (any(m.official for m in before.members) or len({m.role for m in before.members}) > 1):
        return before, cheap
    return build_set(found, policy.customized, versions), versions


def _targets(before: ReleaseSet, targets: Sequence[Target], policy: SetPolicy, table: PairingTable,
             versions: Versions | None) -> tuple[tuple[Target, ...], list[str]]:
    """``targets`` and the release's (``policy.release``, or the built api's version when it follows it)."""
    chosen = tuple(targets)
    release = policy.release or (_followed(before, after_targets(before, chosen, versions)) if policy.follow_api
                                 else None)
    if not release:
        return chosen, []
    from dify_action.releaseset.move import merge_targets, release_targets

    move = release_targets(before, release, table)
    return merge_targets(targets, move), list(move.notes)


def _plan(root: Path, paths: Sequence[str], targets: Sequence[Target], collected: Collected | None = None
          ) -> BumpPlan | None:
    """The bump engine's own plan of ``targets`` (pure but for recovering an interrupted write); None when
    there is nothing to plan or the engine refuses (it refuses again in the bump itself, naming why)."""
    if not targets:
        return None
    try:
        return plan_bump(root, list(targets), paths, collected=collected)
    except DifyActionError:
        return None


def _followed(before: ReleaseSet, after: ReleaseSet) -> str | None:
    """The release a customized api built at another Dify version than the set runs moves the set to."""
    built = {m.version for m in after.role(API) if not m.official and m.version}
    if len(built) == 1 and next(iter(built)) != before.release:
        return next(iter(built))
    return None


def _api_moves(before: ReleaseSet, after: ReleaseSet) -> bool:
    old = {m.version for m in before.role(API)}
    new = {m.version for m in after.role(API)}
    return bool(after.role(API)) and old != new


def touches_set(targets: Sequence[Target], policy: SetPolicy) -> bool:
    """Whether setting ``targets`` can change an environment's Dify set: a release to move to, or a
    target that is one of Dify's images (official, a configured component, or named like one). A bump
    of anything else (an ingress controller, a sidecar) leaves the set as it is: no read, no table."""
    from dify_action.releaseset.members import named_role, official_role

    return bool(policy.release) or any(
        official_role(t.image) or policy.customized.get(t.image.match_key) or named_role(t.image.path)
        for t in targets)


def enforce(check: SetCheck, what: str = "the change") -> list[str]:
    """Refuse a check with blocking findings (SetRefused) unless allowed; the warnings to report."""
    blocking = check.report.blocking
    if blocking and not check.allowed:
        raise SetRefused(f"{what} would leave a mismatched Dify set: {checks.describe(blocking)}", hint=HINT)
    warnings = [f"Dify set: {f.text()}" for f in check.report.findings]
    if blocking:
        warnings.append("Dify set check overridden (allow-version-skew): " + checks.describe(blocking))
    return warnings
