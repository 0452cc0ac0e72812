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
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from dify_action import refs
from dify_action.build.component import BuildResult
from dify_action.bump import BumpPlan, Target
from dify_action.delivery import DeliveryResult
from dify_action.dify.facts import ImageFacts
from dify_action.errors import DifyActionError, GateFailed
from dify_action.markdown import code, escape, row, url
from dify_action.pipeline.stages import Stages
from dify_action.releaseset import SetCheck
from dify_action.resolve import GitOps, Plan
from dify_action.rollback.guard import guard_markdown
from dify_action.scan import report as scanreport
from dify_action.scan.sbom import AttachedSbom
from dify_action.smoke import run as smoke

__all__ = ["BuiltImage", "Change", "Delivery", "Pipeline", "Reporter", "Result", "Row", "deploy_tag"]


class Reporter(Protocol):
    """Where progress goes: a collapsible group per stage, warnings (with a file and line where one
    exists), plain lines."""

    def group(self, title: str) -> AbstractContextManager[None]: ...

    def warning(self, message: str, *, file: str | None = None, line: int | None = None) -> None: ...

    def info(self, message: str) -> None: ...


@dataclass(frozen=True)
class Row:
    """One line of the step summary's stage table."""

    stage: str
    result: str
    details: str = ""


@dataclass(frozen=True)
class BuiltImage:
    """A built component: the build's result, and the names the outputs give it."""

    build: BuildResult
    facts: ImageFacts | None = None
    sboms: tuple[AttachedSbom, ...] = ()

    @property
    def component(self) -> str:
        return self.build.name

    @property
    def image(self) -> str:
        return self.build.image

    @property
    def tags(self) -> tuple[str, ...]:
        """The bare tags (``tag-names``)."""
        return self.build.tags

    @property
    def references(self) -> tuple[str, ...]:
        """The full references (``tags``, like docker/metadata-action's output)."""
        return tuple(f"{self.image}:{tag}" for tag in self.tags)

    @property
    def digest(self) -> str | None:
        return self.build.digest

    @property
    def size(self) -> int:
        return self.build.size

    @property
    def deploy_tag(self) -> str:
        return deploy_tag(self.tags)

    @property
    def ref(self) -> str:
        return f"{self.image}:{self.deploy_tag}"

    def as_dict(self) -> dict[str, object]:
        """One component of the metadata document (the action's ``json`` output, every ``--json``)."""
        b = self.build
        return {"component": b.name, "image": b.image, "tags": list(self.references), "tag-names": list(b.tags),
                "ref": self.ref, "digest": b.digest, "imageid": b.image_id, "size": b.size,
                "compressed_size": b.compressed_size, "labels": dict(b.labels), "builder": b.builder,
                "pushed": b.pushed, "seconds": round(b.seconds, 2), "warnings": list(b.warnings),
                "dify": self.facts.as_dict() if self.facts else None, "sboms": [s.as_dict() for s in self.sboms]}


@dataclass(frozen=True)
class Change:
    """One value a delivery changed (rollback: what runs -> what is restored)."""

    file: str
    line: int
    old: str
    new: str


@dataclass(frozen=True)
class Delivery:
    """What bump, promote or rollback did to the GitOps repository ("none" is a normal result)."""

    stage: str
    operation: str
    changes: tuple[Change, ...] = ()
    pr_number: int | None = None
    pr_url: str | None = None
    branch: str | None = None
    commit: str | None = None
    images: tuple[str, ...] = ()  # the repositories it set
    dify_set: dict[str, object] | None = None  # issue 21: the Dify release set before and after

    @property
    def count(self) -> int:
        return len(self.changes)

    @property
    def where(self) -> str:
        return f"PR #{self.pr_number} {self.pr_url}" if self.pr_number else self.branch or ""

    def as_dict(self) -> dict[str, object]:
        return {"stage": self.stage, "operation": self.operation, "count": self.count,
                "changes": [vars(c) for c in self.changes], "pr_number": self.pr_number, "pr_url": self.pr_url,
                "branch": self.branch, "commit": self.commit, "images": list(self.images), "dify_set": self.dify_set}


def _from_delivery(stage: str, d: DeliveryResult | None, operation: str, images: tuple[str, ...]) -> Delivery:
    if d is None:
        return Delivery(stage, operation, images=images)
    changes = tuple(Change(c.file, c.line, c.old, c.new) for c in d.changes)
    return Delivery(stage, operation, changes, d.pr_number, d.pr_url, d.branch, d.commit, images)


@dataclass(frozen=True)
class Result:
    """Everything a run did, in order, also when it stopped at a failure."""

    command: str
    rows: tuple[Row, ...] = ()
    fragments: tuple[str, ...] = ()
    images: tuple[BuiltImage, ...] = ()
    gates: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (image, digest, results)
    deliveries: tuple[Delivery, ...] = field(default=())

    def markdown(self, status: str) -> str:
        head = f"## dify-action {escape(self.command)}: {escape(status)}\n\n"
        body = "\n".join([row("stage", "result", "details"), row("---", "---", "---"),
                          *(row(r.stage, r.result, r.details) for r in self.rows)])
        return head + body + "\n\n" + "\n\n".join(f.strip() for f in self.fragments if f.strip())

    def as_dict(self) -> dict[str, object]:
        return {"command": self.command, "components": [i.as_dict() for i in self.images],
                "tags": [ref for i in self.images for ref in i.references],
                "gates": [{"image": i, "digest": d, "results": list(r)} for i, d, r in self.gates],
                "deliveries": [d.as_dict() for d in self.deliveries],
                "stages": [vars(r) for r in self.rows]}


class Pipeline:
    """Executes ``plan``; ``result()`` is what was done so far, also after an exception."""

    def __init__(self, plan: Plan, stages: Stages, reporter: Reporter) -> None:
        self.plan, self.stages, self.reporter = plan, stages, reporter
        self._rows: list[Row] = []
        self._fragments: list[str] = []
        self._images: list[BuiltImage] = []
        self._gates: list[tuple[str, str, tuple[str, ...]]] = []
        self._deliveries: list[Delivery] = []

    def result(self) -> Result:
        return Result(self.plan.command, tuple(self._rows), tuple(self._fragments), tuple(self._images),
                      tuple(self._gates), tuple(self._deliveries))

    # -- stages -----------------------------------------------------------------------------------
    def build(self) -> list[BuiltImage]:
        with self.reporter.group("dify-action build"):
            results = self.stages.build(self.plan, self.reporter.info)
        built = []
        for item in results:
            for warning in (*item.result.warnings, *item.notes):
                self.reporter.warning(warning)
            b = BuiltImage(item.result, item.facts, item.sboms)
            built.append(b)
            facts = f"; {escape(b.facts.describe())}" if b.facts and (b.facts.exact or b.facts.dify_version) else ""
            sboms = f"; SBOM {escape(', '.join(s.format for s in b.sboms))}" if b.sboms else ""
            self._rows.append(Row("build", "passed", f"{code(b.image + ':' + ','.join(b.tags))} "
                                  f"{escape(b.digest or 'not pushed')}, {b.size / 1e6:.1f} MB{facts}{sboms}"))
        self._images += built
        return built

    def test(self, image: str, component: str) -> None:
        with self.reporter.group(f"dify-action test ({component or 'image'})"):
            result = self.stages.smoke(self.plan, image, component)
        self._fragments.append(smoke.markdown(result))
        self._gate("test", result.passed, image)

    def scan(self, image: str | None, component: str) -> None:
        with self.reporter.group(f"dify-action scan ({component or 'image'})"):
            report = self.stages.scan(self.plan, image, component)
        self._fragments.append(scanreport.markdown(report))
        self._gate("scan", report.passed, image or "dockerfiles")

    def _gate(self, stage: str, passed: bool, what: str) -> None:
        self._rows.append(Row(stage, "passed" if passed else "failed", code(what)))
        if not passed:
            raise GateFailed(f"{stage} of {what} failed: the gate did not pass",
                             hint="see the step summary and the log group above")

    def apps(self, built: Sequence[BuiltImage]) -> None:
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

    def gates(self, images: Sequence[BuiltImage], results: Sequence[str]) -> None:
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
             built: Sequence[BuiltImage] = ()) -> Delivery:
        """Set every image (repository, tag, digest) in one change: one commit, one PR; the Dify release
        set is checked (and moved to its release) first, before any side effect (issue 21)."""
        targets = [gitops.target(repo, tag, digest) for repo, tag, digest in images]
        with self.reporter.group("dify-action bump"):
            checked = self._release_set(gitops, targets, built)
            targets = list(checked.targets)
            outcome = self.stages.bump(self.plan, gitops, targets)
        names = tuple(t.image.name for t in targets)
        if isinstance(outcome, DeliveryResult) and outcome.sections:
            outcome = dataclasses.replace(outcome, sections=tuple(s for s in outcome.sections
                                                                  if not s.startswith("### Dify release set")))
        return self._with_set(self._bumped(gitops, outcome, names), checked)

    def _release_set(self, gitops: GitOps, targets: list[Target], built: Sequence[BuiltImage]) -> SetCheck:
        """Issue 21: the set check, with the Dify versions the build read from the images it made."""
        from dify_action.releaseset.guard import enforce
        from dify_action.releaseset.view import version_key_for

        known = {key: (b.facts.dify_version, "build") for b in built if b.facts and b.facts.dify_version
                 for ref in (refs.parse(b.ref), refs.parse(f"{b.image}@{b.digest}") if b.digest else None) if ref
                 for key in version_key_for(ref)}
        if known:
            self.plan = dataclasses.replace(self.plan, dify_set=dataclasses.replace(self.plan.dify_set, known=known))
        checked = self.stages.release_set(self.plan, gitops, targets)
        for line in checked.lines():
            self.reporter.info(line)
        for warning in enforce(checked):
            self.reporter.warning(warning)
        self._fragments.append(checked.markdown())
        return checked

    def _bumped(self, gitops: GitOps, outcome: BumpPlan | DeliveryResult, names: tuple[str, ...]) -> Delivery:
        if isinstance(outcome, BumpPlan):
            for skip in outcome.skipped:
                self.reporter.warning(f"skipped: {skip.reason}", file=skip.file)
            for note in outcome.notes:
                self.reporter.info(f"note: {note}")
            operation = "none" if outcome.nothing_to_do else "dry-run" if gitops.dry_run else "edited"
            changes = tuple(Change(c.file, c.line, c.old, c.new) for c in outcome.changes)
            return self._delivered(Delivery("bump", operation, changes, images=names))
        for note in outcome.notes:
            self.reporter.info(f"note: {note}")
        self._fragments.extend(outcome.sections)
        return self._delivered(_from_delivery("bump", outcome, outcome.operation, names))

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
            self._fragments.extend(s for s in r.delivery.sections if not s.startswith("### Dify release set"))
        delivery = self._delivered(_from_delivery("promote", r.delivery, r.operation,
                                                  tuple(p.ref.name for p in r.images)))
        return self._with_set(delivery, r.dify_set)

    def rollback(self) -> Delivery:
        with self.reporter.group("dify-action rollback"):
            r = self.stages.rollback(self.plan)
        for note in r.notes:
            self.reporter.info(f"note: {note}")
        for check in r.guard:
            self.reporter.info(f"guard: {check.describe()}")
        if r.guard:
            self._fragments.append(guard_markdown(r.guard, allowed=self.plan.settings.allow_schema_rollback))
        if r.dify_set is not None:  # issue 21
            self._fragments.append(r.dify_set.markdown())
        changes = tuple(Change(m.file, m.line, str(m.current), str(m.restored)) for m in r.moves)
        delivery = self._delivered(Delivery("rollback", r.operation, changes, r.pr_number, r.pr_url, r.branch,
                                            r.commit, tuple(m.current.name for m in r.moves)))
        return self._with_set(delivery, r.dify_set)

    def _with_set(self, delivery: Delivery, checked: SetCheck | None) -> Delivery:
        if checked is not None:
            self._deliveries[-1] = dataclasses.replace(delivery, dify_set=checked.as_dict())
        return self._deliveries[-1]

    def _delivered(self, d: Delivery) -> Delivery:
        self._deliveries.append(d)
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
                self.scan(plan.settings.image, name)
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
            pin = self.plan.settings.pin_digest
            self.bump(self.plan.gitops, [(b.image, b.deploy_tag, b.digest if pin else None) for b in built], built)


def deploy_tag(tags: Sequence[str]) -> str:
    """The tag a GitOps repo should deploy: the first one the policy made that is not ``latest``."""
    return next((tag for tag in tags if tag != "latest"), tags[0])
