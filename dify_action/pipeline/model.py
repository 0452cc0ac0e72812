"""The result of any command, one type for every front end: what was built, tested, scanned,
recorded and delivered, in order, also when the run stopped at a failure.

``Result.as_dict()`` is THE document: the CLI's ``--json`` for every command and the action's
``json`` output. Its keys are snake_case (action inputs and outputs are kebab-case). One ``Built``
is a built component; one ``Change`` (the bump engine's) is a changed value wherever it comes from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from dify_action.bump import Change
from dify_action.markdown import escape, row

if TYPE_CHECKING:  # types only: rendering a bump's result loads no build, delivery or scan code
    from dify_action.build.component import BuildResult
    from dify_action.delivery import DeliveryResult
    from dify_action.dify.facts import ImageFacts
    from dify_action.scan.sbom import AttachedSbom

__all__ = ["Built", "Change", "Delivery", "Result", "Row", "deploy_tag"]



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


def deploy_tag(tags: Sequence[str]) -> str:
    """The tag a GitOps repo should deploy: the first one the policy made that is not ``latest``."""
    return next((tag for tag in tags if tag != "latest"), tags[0])


@dataclass(frozen=True)
class Built:
    """One built component: the build's result, what the image says about Dify (read through the
    engine and recorded next to the digest), the SBOMs attached to it, and the build's notes."""

    build: BuildResult
    facts: ImageFacts | None = None
    sboms: tuple[AttachedSbom, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def component(self) -> str:
        return self.build.name

    @property
    def image(self) -> str:
        return self.build.image

    @property
    def tags(self) -> tuple[str, ...]:
        """The bare tags (the ``tag-names`` output)."""
        return self.build.tags

    @property
    def references(self) -> tuple[str, ...]:
        """The full references (the ``tags`` output, like docker/metadata-action's)."""
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
        b = self.build
        out: dict[str, object] = {
            "component": b.name, "image": b.image, "tags": list(self.references), "tag_names": list(b.tags),
            "ref": self.ref, "digest": b.digest, "imageid": b.image_id, "size": b.size,
            "compressed_size": b.compressed_size, "labels": dict(b.labels), "builder": b.builder,
            "pushed": b.pushed, "seconds": round(b.seconds, 2), "warnings": list(b.warnings),
            "dify": self.facts.as_dict() if self.facts else None, "sboms": [s.as_dict() for s in self.sboms]}
        if b.platforms:  # an OCI index: each platform with its digest (``digest`` is the index's)
            out["platforms"] = [p.as_dict() for p in b.platforms]
        return out


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
    diff: str | None = None  # a dry run's unified diff
    notes: tuple[str, ...] = ()
    commits_verified: bool | None = None  # sign-commits (issue 19): GitHub's verification; None: not asked
    dify_set: dict[str, object] | None = None  # issue 21: the Dify release set before and after

    @classmethod
    def of(cls, stage: str, d: DeliveryResult | None, operation: str, images: tuple[str, ...],
           notes: Sequence[str] = ()) -> Delivery:
        if d is None:
            return cls(stage, operation, images=images, notes=tuple(notes))
        return cls(stage, operation, d.changes, d.pr_number, d.pr_url, d.branch, d.commit, images,
                   notes=(*notes, *d.notes), commits_verified=d.commits_verified)

    @property
    def count(self) -> int:
        return len(self.changes)

    @property
    def where(self) -> str:
        return f"PR #{self.pr_number} {self.pr_url}" if self.pr_number else self.branch or ""

    def as_dict(self) -> dict[str, object]:
        return {"stage": self.stage, "operation": self.operation, "count": self.count,
                "changes": [c.as_dict() for c in self.changes], "pr_number": self.pr_number, "pr_url": self.pr_url,
                "branch": self.branch, "commit": self.commit, "images": list(self.images), "diff": self.diff,
                "notes": list(self.notes), "commits_verified": self.commits_verified,
                "dify_set": self.dify_set}


@dataclass(frozen=True)
class Result:
    """Everything a run did, in order, also when it stopped at a failure. ``details`` holds each
    stage's own document: ``tests`` and ``scans`` (lists, one per image), ``bump``, ``promote``,
    ``rollback`` (one each)."""

    command: str
    rows: tuple[Row, ...] = ()
    fragments: tuple[str, ...] = ()
    images: tuple[Built, ...] = ()
    gates: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (image, digest, results)
    deliveries: tuple[Delivery, ...] = field(default=())
    details: Mapping[str, Any] = field(default_factory=dict)  # "tests"/"scans": lists; bump, promote, rollback

    def markdown(self, status: str) -> str:
        head = f"## dify-action {escape(self.command)}: {escape(status)}\n\n"
        body = "\n".join([row("stage", "result", "details"), row("---", "---", "---"),
                          *(row(r.stage, r.result, r.details) for r in self.rows)])
        signing = [_signing(d) for d in self.deliveries if d.commits_verified is not None]  # sign-commits
        return head + body + "\n\n" + "\n\n".join(f.strip() for f in (*signing, *self.fragments) if f.strip())

    def as_dict(self) -> dict[str, object]:
        return {"command": self.command, "components": [i.as_dict() for i in self.images],
                "tags": [ref for i in self.images for ref in i.references],
                "gates": [{"image": i, "digest": d, "results": list(r)} for i, d, r in self.gates],
                "deliveries": [d.as_dict() for d in self.deliveries],
                "stages": [vars(r) for r in self.rows],
                **self.details}


def _signing(d: Delivery) -> str:
    """The step summary's word on a sign-commits delivery: verified, or why not (issue 19)."""
    if d.commits_verified:
        return f"{escape(d.stage)}: commit {escape((d.commit or '')[:12])} is **verified** (signed by GitHub)"
    why = next((n for n in d.notes if "not verified" in n), "GitHub did not sign it")
    return f"> [!WARNING]\n> {escape(d.stage)}: {escape(why)}"
