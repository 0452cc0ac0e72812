"""The stage orchestration both front ends run: build -> test -> scan -> gates -> bump; promote; rollback.

Each stage is one command of the CLI, handed a typed ``Settings`` turned into its arguments, run
through a ``StageRunner`` (the front ends use ``cli.InProcess``: one argument surface, one
validation) and read back as frozen results. Progress goes to a ``Reporter`` (log groups,
warnings): ``gha.Actions`` in the action, plain stderr lines in the CLI. Nothing here reads the
environment or prints workflow commands; the front ends turn a ``Result`` into outputs and text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from dify_action.errors import DifyActionError, GateFailed, InputError
from dify_action.stage_args import Settings, StageArgs

__all__ = ["BuiltImage", "Change", "Delivery", "GateRecord", "Pipeline", "Reporter", "Result", "Row", "Settings",
           "StageRun", "StageRunner", "deploy_tag", "split_image"]


class Reporter(Protocol):
    """Where progress goes: a collapsible group per stage, warnings, plain lines."""

    def group(self, title: str) -> AbstractContextManager[None]: ...

    def warning(self, message: str) -> None: ...

    def info(self, message: str) -> None: ...


@dataclass(frozen=True)
class StageRun:
    """What one stage command gave back: its exit code, its ``--json`` document, its Markdown summary."""

    code: int
    data: Mapping[str, Any]
    summary: str = ""


class StageRunner(Protocol):
    def __call__(self, command: str, argv: Sequence[str], stage: str,
                 positionals: Sequence[str] = ()) -> StageRun: ...


@dataclass(frozen=True)
class Row:
    """One line of the step summary's stage table."""

    stage: str
    result: str
    details: str = ""


@dataclass(frozen=True)
class BuiltImage:
    component: str | None
    image: str
    tags: tuple[str, ...]
    digest: str | None
    size: int | None

    @property
    def deploy_tag(self) -> str:
        return deploy_tag(self.tags)

    @property
    def ref(self) -> str:
        return f"{self.image}:{self.deploy_tag}"

    def as_dict(self) -> dict[str, object]:
        return {"component": self.component, "image": self.image, "tags": list(self.tags), "ref": self.ref,
                "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class GateRecord:
    image: str
    digest: str
    results: tuple[str, ...]


@dataclass(frozen=True)
class Change:
    file: str
    line: int
    old: str
    new: str


@dataclass(frozen=True)
class Delivery:
    """What bump, promote or rollback did to the GitOps repository ("none" is a normal result)."""

    stage: str
    operation: str
    count: int
    changes: tuple[Change, ...] = ()
    pr_number: int | None = None
    pr_url: str | None = None
    branch: str | None = None
    commit: str | None = None
    image: str | None = None  # the repository a bare ``bump`` set

    @classmethod
    def from_data(cls, stage: str, data: Mapping[str, Any], *, dry_run: bool, image: str | None) -> Delivery:
        changes = data.get("changes") or data.get("images") or []
        operation = data.get("operation") or ("none" if not changes else "dry-run" if dry_run else "edited")
        rows = tuple(Change(str(c["file"]), int(c["line"]), str(c["old"]), str(c["new"]))
                     for c in changes if {"file", "line", "old", "new"} <= set(c))
        return cls(stage, str(operation), len(changes), rows, data.get("pr_number"), data.get("pr_url"),
                   data.get("branch"), data.get("commit"), image)

    @property
    def where(self) -> str:
        return f"PR #{self.pr_number} {self.pr_url}" if self.pr_number else self.branch or ""

    def as_dict(self) -> dict[str, object]:
        return {"stage": self.stage, "operation": self.operation, "count": self.count,
                "changes": [vars(c) for c in self.changes], "pr_number": self.pr_number, "pr_url": self.pr_url,
                "branch": self.branch, "commit": self.commit}


@dataclass(frozen=True)
class Result:
    """Everything a run did, in order, also when it stopped at a failure."""

    command: str
    rows: tuple[Row, ...] = ()
    fragments: tuple[str, ...] = ()
    images: tuple[BuiltImage, ...] = ()
    gates: tuple[GateRecord, ...] = ()
    deliveries: tuple[Delivery, ...] = field(default=())

    def markdown(self, status: str) -> str:
        lines = [f"## dify-action {self.command}: {status}", "", "| stage | result | details |",
                 "| --- | --- | --- |"]
        lines += [f"| {r.stage} | {r.result} | {r.details} |" for r in self.rows]
        return "\n".join(lines) + "\n\n" + "\n\n".join(f.strip() for f in self.fragments if f.strip())

    def as_dict(self) -> dict[str, object]:
        return {"command": self.command, "images": [i.as_dict() for i in self.images],
                "gates": [{"image": g.image, "digest": g.digest, "results": list(g.results)} for g in self.gates],
                "deliveries": [d.as_dict() for d in self.deliveries],
                "stages": [vars(r) for r in self.rows]}


class Pipeline:
    """Runs ``settings.command``; ``result()`` is what was done so far, also after an exception."""

    def __init__(self, settings: Settings, run_stage: StageRunner, reporter: Reporter) -> None:
        self.s, self.run_stage, self.reporter = settings, run_stage, reporter
        self.args = StageArgs(settings)
        self._rows: list[Row] = []
        self._fragments: list[str] = []
        self._images: list[BuiltImage] = []
        self._gates: list[GateRecord] = []
        self._deliveries: list[Delivery] = []

    def result(self) -> Result:
        return Result(self.s.command, tuple(self._rows), tuple(self._fragments), tuple(self._images),
                      tuple(self._gates), tuple(self._deliveries))

    def _stage(self, command: str, argv: Sequence[str], stage: str,
               positionals: Sequence[str] = ()) -> Mapping[str, Any]:
        """Run one stage command; a non-zero exit (a gate that did not pass) raises GateFailed."""
        with self.reporter.group(f"dify-action {command} ({stage})"):
            run = self.run_stage(command, argv, stage, positionals)
        if run.summary:
            self._fragments.append(run.summary)
        if run.code != 0:
            self._rows.append(Row(stage, "failed"))
            raise GateFailed(f"{stage} failed (exit {run.code}): the gate did not pass",
                             hint="see the step summary and the log group above")
        return run.data

    # -- stages -----------------------------------------------------------------------------------
    def build(self) -> list[BuiltImage]:
        data = self._stage("build", self.args.build(), "build")
        built = [BuiltImage(c.get("component"), c["image"], tuple(c["tags"]), c.get("digest") or None,
                            int(c["size"]) if c.get("size") else None) for c in data.get("components", [])]
        for b in built:
            self._rows.append(Row("build", "passed", f"`{b.image}:{','.join(b.tags)}` "
                                  f"{b.digest or 'not pushed'}, {(b.size or 0) / 1e6:.1f} MB"))
        self._images += built
        return built

    def test(self, image: str, component: str | None) -> None:
        self._stage("test", self.args.test(image, component), f"test-{component or 'image'}")
        self._rows.append(Row("test", "passed", f"`{image}`"))

    def scan(self, image: str | None, component: str | None) -> None:
        self._stage("scan", self.args.scan(image, component), f"scan-{component or 'image'}")
        self._rows.append(Row("scan", "passed", f"`{image or 'dockerfiles'}`"))

    def gates(self, images: Sequence[BuiltImage], results: Sequence[str]) -> None:
        """Record gate verdicts next to each pushed digest, where promote reads them."""
        for b in images:
            if b.digest:
                self._stage("gates", self.args.gates(b.image, b.digest, results), "gates", positionals=["record"])
                self._gates.append(GateRecord(b.image, b.digest, tuple(results)))
        if any(b.digest for b in images):
            self._rows.append(Row("gates", "recorded", ", ".join(results)))

    def _deliver(self, stage: str, argv: Sequence[str], image: str | None = None) -> Delivery:
        d = Delivery.from_data(stage, self._stage(stage, argv, stage), dry_run=self.s.dry_run, image=image)
        self._deliveries.append(d)
        self._rows.append(Row(stage, d.operation, f"{d.count} value(s) {d.where}".strip()))
        if d.changes:
            lines = ["| file | before | after |", "| --- | --- | --- |"]
            lines += [f"| `{c.file}:{c.line}` | `{c.old}` | `{c.new}` |" for c in d.changes]
            self._fragments.append(f"### {stage}: changed values\n\n" + "\n".join(lines))
        return d

    def bump(self, repository: str, tag: str, digest: str | None, *, image: str | None = None) -> Delivery:
        return self._deliver("bump", self.args.bump(repository, tag, digest), image)

    # -- commands ---------------------------------------------------------------------------------
    def run(self) -> Result:
        s, command = self.s, self.s.command
        if command in ("bump", "promote", "rollback") and not (s.gitops_repo or (command == "bump" and s.gitops_dir)):
            raise InputError("gitops-repo", "", f"{command} needs gitops-repo" + (
                " (or gitops-dir, a checked-out tree)" if command == "bump" else ""))
        if command in ("bump", "pipeline") and s.dry_run and s.gitops_repo and not s.gitops_dir:
            raise InputError("dry-run", "true", "bump and pipeline take dry-run only with gitops-dir (a checked-out "
                             "tree); promote and rollback take it with gitops-repo")
        if command == "build":
            self.build()
        elif command == "test":
            self.test(_required(s.image, "image", "the image to smoke-test, e.g. registry/acme/dify-api:sha-1234"),
                      s.components[0] if s.components else None)
        elif command == "scan":
            for name in s.components or (None,):
                self.scan(s.image, name)
        elif command == "bump":
            repository, tag, digest = split_image(_required(s.image, "image", "an image repository (with tag)"),
                                                  s.tag, s.digest)
            self.bump(repository, tag, digest, image=repository)
        elif command == "promote":
            self._deliver("promote", self.args.promote())
        elif command == "rollback":
            self._deliver("rollback", self.args.rollback())
        elif command == "pipeline":
            self.pipeline()
        else:
            raise InputError("command", command, "build, test, scan, bump, promote, rollback or pipeline")
        return self.result()

    def pipeline(self) -> None:
        """build -> test -> scan -> (gate record) -> bump when a GitOps repo or tree is given."""
        built = self.build()
        stage = "smoke"
        try:
            for b in built:
                self.test(b.ref, b.component)
            stage = "scan"
            for b in built:
                self.scan(b.ref, b.component)
        except GateFailed:
            # promote must refuse these digests: record the verdicts before failing the step
            with contextlib.suppress(DifyActionError):
                self.gates(built, ["smoke=failed"] if stage == "smoke" else ["smoke=passed", "scan=failed"])
            raise
        self.gates(built, ["smoke=passed", "scan=passed"])
        if self.s.gitops_repo or self.s.gitops_dir:
            for b in built:
                self.bump(b.image, b.deploy_tag, b.digest if self.s.pin_digest else None)


def deploy_tag(tags: Sequence[str]) -> str:
    """The tag a GitOps repo should deploy: the first one the policy made that is not ``latest``."""
    return next((tag for tag in tags if tag != "latest"), tags[0])


def _required(value: str | None, name: str, allowed: str) -> str:
    if not value:
        raise InputError(name, "", allowed)
    return value


def split_image(image: str, tag: str | None, digest: str | None) -> tuple[str, str, str | None]:
    """``repo[:tag][@digest]`` plus explicit tag/digest (which win) -> (repository, tag, digest)."""
    from dify_action import refs

    ref = refs.parse(image, input_name="image")
    final_tag = tag or ref.tag
    if not final_tag:
        raise InputError("tag", "", "give tag, or an image input with a tag (repository:tag)")
    return ref.repository, final_tag, digest or ref.digest
