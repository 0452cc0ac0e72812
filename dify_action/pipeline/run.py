"""Runs a resolved ``Plan``: build -> test -> scan -> gates -> bump; promote; rollback.

Typed end to end: the resolver made every request before anything ran, the stages (``Stages``)
return the core's frozen results, and this module turns them into one ``Result`` (rows, images,
deliveries, Markdown fragments) that the front ends render as text, ``--json``, outputs and a step
summary. Progress and warnings go to a ``Reporter``; nothing here reads the environment or prints
workflow commands.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dify_action.bump import BumpPlan, Change, Target
from dify_action.bump.vprefix import v_prefix_warnings
from dify_action.errors import DifyActionError, EditRefused, GateFailed
from dify_action.markdown import code, escape, row, url
from dify_action.pipeline.model import Built, Delivery, Reporter, Result, Row
from dify_action.pipeline.sets import without_set
from dify_action.pipeline.stages import Stages
from dify_action.resolve import GitOps, Plan

if TYPE_CHECKING:  # each stage's own code loads when the stage runs (a bump loads no other stage)
    from dify_action.delivery import DeliveryResult
    from dify_action.releaseset import SetCheck
    from dify_action.rollback.model import RollbackResult

__all__ = ["Pipeline", "Reporter"]


class Pipeline:
    """Executes ``plan``; ``result()`` is what was done so far, also after an exception."""

    def __init__(self, plan: Plan, stages: Stages, reporter: Reporter) -> None:
        self.plan, self.stages, self.reporter = plan, stages, reporter
        self._rows: list[Row] = []
        self._fragments: list[str] = []
        self._images: list[Built] = []
        self._details: dict[str, Any] = {}
        self._gates: list[tuple[str, str, tuple[str, ...]]] = []
        self._deliveries: list[Delivery] = []

    def result(self) -> Result:
        return Result(self.plan.command, tuple(self._rows), tuple(self._fragments), tuple(self._images),
                      tuple(self._gates), tuple(self._deliveries), dict(self._details))

    def _detail(self, stage: str, document: Mapping[str, Any]) -> None:
        """A stage's own document: a list for tests and scans (one per image), else the one document."""
        if stage in ("tests", "scans"):
            self._details.setdefault(stage, []).append(dict(document))
        else:
            self._details[stage] = dict(document)

    # -- stages -----------------------------------------------------------------------------------
    def build(self) -> list[Built]:
        with self.reporter.group("dify-action build"):
            results = self.stages.build(self.plan, self.reporter.info)
        built = []
        for b in results:
            for warning in (*b.build.warnings, *b.notes):
                self.reporter.warning(warning)
            built.append(b)
            facts = f"; {escape(b.facts.describe())}" if b.facts and (b.facts.exact or b.facts.dify_version) else ""
            sboms = f"; SBOM {escape(', '.join(s.format for s in b.sboms))}" if b.sboms else ""
            self._rows.append(Row("build", "passed", f"{code(b.image + ':' + ','.join(b.tags))} "
                                  f"{escape(b.digest or 'not pushed')}, {b.size / 1e6:.1f} MB{facts}{sboms}"))
        self._images += built
        return built

    def test(self, image: str, component: str) -> None:
        from dify_action.smoke import run as smoke

        with self.reporter.group(f"dify-action test ({component or 'image'})"):
            result = self.stages.smoke(self.plan, image, component)
        self._fragments.append(smoke.markdown(result))
        self._detail("tests", result.as_dict())
        failing = result.failing
        self._gate("test", result.passed, image, f"failed check: {failing.name}" if failing else "a check failed")

    def scan(self, image: str | None, component: str) -> None:
        from dify_action.scan import report as scanreport

        with self.reporter.group(f"dify-action scan ({component or 'image'})"):
            report = self.stages.scan(self.plan, image, component)
        self._fragments.append(scanreport.markdown(report))
        self._detail("scans", report.as_dict())
        for skipped in report.skipped:  # issue 23: a check that did not run is said, pass or fail
            self.reporter.warning(f"scan: {skipped.scanner} did not run: {skipped.reason}")
        self._gate("scan", report.passed, image or "dockerfiles", report.failure() or "",
                   None if report.ran else "install the scanners (the action's image bundles them), enable one in "
                   "scan.scanners, or give a Trivy JSON report (trivy-report)")

    def _gate(self, stage: str, passed: bool, what: str, why: str, hint: str | None = None) -> None:
        self._rows.append(Row(stage, "passed" if passed else "failed", code(what)))
        if not passed:
            raise GateFailed(f"{stage} of {what} failed ({why}): the gate did not pass",
                             hint=hint or "see the step summary and the log group above")

    def apps(self, built: Sequence[Built]) -> None:
        """The config's app DSL files against the DSL version of the api image just built (its
        constants/dsl_version.py): pending and failed imports stop the pipeline, warnings are reported."""
        from dify_action.dify.dslreport import check_apps, gate

        api = next((b for b in built if b.facts is not None and b.facts.dsl_version), None)
        if api is None or api.facts is None or api.facts.dsl_version is None:
            self._rows.append(Row("apps", "failed", "no built image says which DSL version it imports"))
            raise GateFailed("apps: none of the built images holds /app/api/constants/dsl_version.py, so the app "
                             "DSL files cannot be checked against the release shipped",
                             hint="build the api component in this run (and push it), or drop apps: from the config")
        assert self.plan.apps_root is not None
        with self.reporter.group("dify-action apps check"):
            report = check_apps(self.plan.apps, api.facts.dsl_version, self.plan.apps_root, image=api.ref)
        for finding in report.findings("warning"):
            self.reporter.warning(finding.text, file=finding.file, line=finding.line)
        self._fragments.append(report.markdown())
        self._rows.append(Row("apps", "failed" if report.blocks else "passed",
                              f"{len(report.checks)} app(s), DSL {escape(api.facts.dsl_version)}"))
        gate(report)

    def gates(self, images: Sequence[Built], results: Sequence[str]) -> None:
        """Record gate verdicts next to each pushed digest, where promote reads them."""
        verdicts = dict(item.split("=", 1) for item in results)
        for b in images:
            if b.digest:
                with self.reporter.group("dify-action gates"):
                    self.stages.record(self.plan, b.image, b.digest, verdicts)
                self._gates.append((b.image, b.digest, tuple(results)))
        if any(b.digest for b in images):
            self._rows.append(Row("gates", "recorded", escape(", ".join(results))))

    def bump(self, gitops: GitOps, images: Sequence[tuple[str, str, str | None]],
             built: Sequence[Built] = ()) -> Delivery:
        """Set every image (repository, tag, digest) in one change: one commit, one PR; the Dify release
        set is checked (and moved to its release) first, before any side effect (issue 21)."""
        targets = [gitops.target(repo, tag, digest) for repo, tag, digest in images]
        with self.reporter.group("dify-action bump"):
            checked, planned = self._release_set(gitops, targets, built)
            targets = list(checked.targets) if checked is not None else targets
            try:
                outcome = self.stages.bump(self.plan, gitops, targets, planned)
            except EditRefused as error:  # the skipped files explain a refusal: report them beside it
                for warning in error.warnings:
                    self.reporter.warning(warning)
                raise
        for warning in v_prefix_warnings(outcome.changes):  # issue 23: a v that never was there
            self.reporter.warning(warning)
        return self._with_set(self._bumped(gitops, outcome, tuple(t.image.name for t in targets)), checked)

    def _release_set(self, gitops: GitOps, targets: list[Target], built: Sequence[Built]
                     ) -> tuple[SetCheck | None, BumpPlan | None]:
        """Issue 21: the set check of a bump (pipeline/sets.py), its table joining the summary, and the
        check's plan of the bump (also when there is no set to show: the bump does not parse the tree again)."""
        from dify_action.pipeline import sets

        self.plan, checked, planned = sets.bump_set(self.plan, self.stages, self.reporter, gitops, targets, built)
        if checked is not None:
            self._fragments.append(checked.markdown())
        return checked, planned

    def check_set(self) -> SetCheck | None:
        """``check`` of an environment (issue 21): its Dify release set (pipeline/sets.py)."""
        from dify_action.pipeline import sets

        return sets.environment_set(self.plan, self.stages, self.reporter)

    def _bumped(self, gitops: GitOps, outcome: BumpPlan | DeliveryResult, names: tuple[str, ...]) -> Delivery:
        if isinstance(outcome, BumpPlan):
            for skip in outcome.skipped:
                self.reporter.warning(f"skipped: {skip.reason}", file=skip.file)
            for note in outcome.notes:
                self.reporter.info(f"note: {note}")
            # a dry run is "planned" in every command (promote, rollback): one word for one thing
            operation = "none" if outcome.nothing_to_do else "planned" if gitops.dry_run else "edited"
            self._detail("bump", outcome.as_dict() | {"dry_run": gitops.dry_run,
                                                      "nothing_to_do": outcome.nothing_to_do})
            return self._delivered(Delivery("bump", operation, outcome.changes, images=names,
                                            diff=outcome.diff() if gitops.dry_run else None,
                                            notes=outcome.notes))
        for note in outcome.notes:
            self.reporter.info(f"note: {note}")
        if outcome.clone and outcome.clone.reason:
            self.reporter.info(f"note: clone {outcome.clone.strategy}: {outcome.clone.reason}")
        self._fragments.extend(without_set(outcome.sections))  # the set's table is already there
        self._detail("bump", outcome.as_dict())
        return self._delivered(Delivery.of("bump", outcome, outcome.operation, names))

    def promote(self) -> Delivery:
        with self.reporter.group("dify-action promote"):
            r = self.stages.promote(self.plan)
        for note in (*r.notes, *(r.delivery.notes if r.delivery else ())):
            self.reporter.info(f"note: {note}")
        if r.operation == "planned" and r.diff:
            self._fragments.append(f"### promote: planned diff\n\n```diff\n{r.diff.replace('```', '` ` `')}\n```")
        if r.dify_set is not None:  # issue 21: the set the promotion leaves in the target environment
            self._fragments.append(r.dify_set.markdown())
        if r.delivery is not None:
            self._fragments.extend(without_set(r.delivery.sections))  # the migrations the promotion runs
        if r.left:  # a release is never split silently (issue 23)
            self._fragments.append("\n".join([
                f"### promote: NOT promoted ({len(r.left)})", "", row("image", r.source, r.target, "why"),
                row(*["---"] * 4), *(row(code(x.image), code(x.source or "-"), code(x.target or "-"), escape(x.reason))
                                     for x in r.left)]))
        self._detail("promote", r.as_dict() | {"dry_run": self.plan.promote is not None and self.plan.promote.dry_run})
        delivery = Delivery.of("promote", r.delivery, r.operation, tuple(p.ref.name for p in r.images), r.notes)
        return self._with_set(self._delivered(delivery if r.operation != "planned" else
                                              Delivery("promote", "planned", delivery.changes, images=delivery.images,
                                                       diff=r.diff, notes=delivery.notes)), r.dify_set)

    def rollback(self) -> Delivery:
        from dify_action.rollback.model import RollbackResult

        try:
            with self.reporter.group("dify-action rollback"):
                r = self.stages.rollback(self.plan)
        except GateFailed as refused:
            if isinstance(refused.planned, RollbackResult):  # a refused dry run still shows its plan
                self._show_rollback(refused.planned)
            raise
        return self._show_rollback(r)

    def _show_rollback(self, r: RollbackResult) -> Delivery:
        from dify_action.rollback.guard import guard_markdown

        for note in r.notes:
            self.reporter.info(f"note: {note}")
        for check in r.guard:
            self.reporter.info(f"guard: {check.describe()}")
        assert self.plan.rollback is not None
        if r.guard:
            self._fragments.append(guard_markdown(r.guard, allowed=self.plan.rollback.allow_schema_rollback))
        if r.dify_set is not None:  # issue 21
            self._fragments.append(r.dify_set.markdown())
        self._detail("rollback", r.as_dict() | {"dry_run": self.plan.rollback.dry_run})
        changes = tuple(Change(m.file, m.line, str(m.current), str(m.restored), m.where, m.current.name)
                        for m in r.moves)
        return self._with_set(self._delivered(Delivery(
            "rollback", r.operation, changes, r.pr_number, r.pr_url, r.branch, r.commit,
            tuple(m.current.name for m in r.moves), notes=r.notes, commits_verified=r.commits_verified)), r.dify_set)

    def _with_set(self, delivery: Delivery, checked: SetCheck | None) -> Delivery:
        """The delivery with the Dify release set it leaves (issue 21), in the one document."""
        if checked is not None:
            self._deliveries[-1] = delivery = dataclasses.replace(delivery, dify_set=checked.as_dict())
        return delivery

    def _delivered(self, d: Delivery) -> Delivery:
        self._deliveries.append(d)
        if d.commits_verified is False:  # sign-commits asked, GitHub did not sign: warn (issue 19)
            self.reporter.warning(next((n for n in d.notes if "not verified" in n), "the commit is not verified"))
        where = f"PR #{d.pr_number} {url(d.pr_url or '')}" if d.pr_number else code(d.branch or "")
        self._rows.append(Row(d.stage, escape(d.operation), f"{d.count} value(s) {where}".strip()))
        if d.changes:
            lines = [row("file", "before", "after"), row("---", "---", "---")]
            lines += [row(code(f"{c.file}:{c.line}"), code(c.old), code(c.new)) for c in d.changes]
            self._fragments.append(f"### {d.stage}: changed values\n\n" + "\n".join(lines))
        return d

    # -- commands ---------------------------------------------------------------------------------
    def run(self) -> Result:
        """Route ``plan.command`` to its stages."""
        plan, command = self.plan, self.plan.command
        if command == "build":
            self.build()
        elif command == "test":
            assert plan.test_image is not None
            self.test(plan.test_image, next(iter(plan.smoke), ""))
        elif command == "scan":
            assert plan.scan is not None
            for name in plan.scan.dockerfiles or {"": ()}:
                self.scan(plan.scan_image, name)
        elif command == "bump":
            assert plan.gitops is not None
            self.bump(plan.gitops, [(t.image.name, t.tag, t.digest) for t in plan.bump])
        elif command == "promote":
            self.promote()
        elif command == "rollback":
            self.rollback()
        elif command == "pipeline":
            self.pipeline()
        return self.result()

    def pipeline(self) -> None:
        """build -> test -> scan -> apps (the config's DSL files against the api image built) -> gate
        record -> one bump of every built image, when a GitOps target is resolved."""
        built = self.build()
        stage = "smoke"
        try:
            for b in built:
                self.test(b.ref, b.component)
            stage = "scan"
            for b in built:
                self.scan(b.ref, b.component)
            stage = "apps"
            if self.plan.apps:
                self.apps(built)
        except GateFailed:
            # promote must refuse these digests: record the verdicts before failing the step
            verdicts = {"smoke": ["smoke=failed"], "scan": ["smoke=passed", "scan=failed"],
                        "apps": ["smoke=passed", "scan=passed", "apps=failed"]}[stage]
            with contextlib.suppress(DifyActionError):
                self.gates(built, verdicts)
            raise
        self.gates(built, ["smoke=passed", "scan=passed", *(["apps=passed"] if self.plan.apps else [])])
        if self.plan.gitops is not None:
            pin = self.plan.gitops.pin_digest
            self.bump(self.plan.gitops, [(b.image, b.deploy_tag, b.digest if pin else None) for b in built], built)

