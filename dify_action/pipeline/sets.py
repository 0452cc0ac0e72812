"""The Dify release set in a run (issue 21): the check of a bump before any side effect, the check of an
environment for ``check``, and the PR sections without the set's table (the run shows it once)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dify_action.errors import DifyActionError

if TYPE_CHECKING:
    from dify_action.bump import BumpPlan, Target
    from dify_action.pipeline.model import Built, Reporter
    from dify_action.pipeline.stages import Stages
    from dify_action.releaseset import SetCheck
    from dify_action.resolve import GitOps, Plan

SET_TABLE = "### Dify release set"


def bump_set(plan: Plan, stages: Stages, reporter: Reporter, gitops: GitOps, targets: Sequence[Target],
             built: Sequence[Built]) -> tuple[Plan, SetCheck | None, BumpPlan | None]:
    """The set check of a bump, with the Dify versions the build read from the images it made (the plan
    comes back holding them); None when the targets cannot change a set, or no set is there to show;
    and the check's plan of the bump, for the bump of the same tree."""
    from dify_action.releaseset import enforce, touches_set, version_keys

    if not touches_set(targets, plan.dify_set):
        return plan, None, None
    known = {key: (b.facts.dify_version, "build") for b in built if b.facts and b.facts.dify_version
             for key in version_keys(b.ref, f"{b.image}@{b.digest}" if b.digest else None)}
    if known:
        plan = dataclasses.replace(plan, dify_set=dataclasses.replace(plan.dify_set, known=known))
    checked = stages.release_set(plan, gitops, targets)
    if not checked.report.before.members and not checked.report.after.members:
        return plan, None, checked.plan  # the targets' role alone: nothing to pair it with, no table
    _report(reporter, checked, enforce(checked))
    return plan, checked, checked.plan


def environment_set(plan: Plan, stages: Stages, reporter: Reporter) -> SetCheck | None:
    """``check`` of an environment: the set it runs (with ``dify-release``: the set once moved), refused
    like a change would be (SetRefused unless allow-version-skew). check asks for no token: a
    repository it cannot read leaves the set unchecked, said as a warning."""
    from dify_action.releaseset import SetRefused, enforce

    gitops = plan.gitops
    if gitops is None or not gitops.environment:
        return None
    try:
        checked = stages.release_set(plan, gitops, ())
    except SetRefused:
        raise
    except DifyActionError as error:
        reporter.warning(f"the Dify release set of {gitops.environment} was not checked: {error.message}")
        return None
    _report(reporter, checked, enforce(checked))
    return checked


def _report(reporter: Reporter, checked: SetCheck, warnings: Sequence[str]) -> None:
    for line in checked.lines():
        reporter.info(line)
    for warning in warnings:
        reporter.warning(warning)


def without_set(sections: Sequence[str]) -> list[str]:
    """A delivery's PR body sections less the Dify set table, which the run shows once already."""
    return [s for s in sections if not s.startswith(SET_TABLE)]
