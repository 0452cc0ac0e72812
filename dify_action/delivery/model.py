"""Values of a delivery: the request (what to change where, how to ship it) and the result."""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dify_action.bump import BumpPlan, Change, Target
from dify_action.choices import check_environment
from dify_action.delivery.destination import Destination
from dify_action.delivery.git import CloneInfo
from dify_action.errors import InputError

OPERATIONS = ("created", "updated", "unchanged", "closed", "pushed", "none")
DEFAULT_TITLE = "deploy({environment}): {images}"
DEFAULT_MESSAGE = "deploy({environment}): {images}\n\n{changes}"
TEMPLATE_FIELDS = ("environment", "images", "group", "tag", "base", "source_sha", "changes")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


@dataclass(frozen=True)
class DeliveryRequest:
    """Everything a delivery needs. ``token`` never appears in repr, logs or results."""

    destination: Destination
    environment: str
    targets: tuple[Target, ...]
    paths: tuple[str, ...] = ()
    group: str | None = None
    title_template: str = DEFAULT_TITLE
    message_template: str = DEFAULT_MESSAGE
    source_sha: str | None = None
    source_repo: str | None = None
    run_url: str | None = None
    dify_version_old: str | None = None
    dify_version_new: str | None = None
    promoted_from: str | None = None  # metadata only: promote's source environment
    rollback_of: str | None = None  # metadata only: "#<pr>" or the commit a rollback undoes
    metadata_digest: str | None = None  # metadata digest when the targets pin none
    workdir: Path | None = None
    # more PR body sections from the planned tree and changes (the migrations a change runs)
    sections: Callable[[Path, Sequence[Change]], Sequence[str]] | None = field(default=None, repr=False,
                                                                               compare=False)
    # issue 21: checks the planned change on the real base before anything is committed (raises to refuse);
    # returns more PR body sections (the Dify release set before and after)
    precheck: Callable[[Path, BumpPlan], Sequence[str]] | None = field(default=None, repr=False, compare=False)
    max_attempts: int = 8
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def validate(self) -> None:
        """Raise InputError (exit 2) before any side effect."""
        self.destination.validate()
        check_environment(self.environment)
        if self.group is not None and not _NAME_RE.fullmatch(self.group.replace("+", "-")):
            raise InputError("group", self.group, "1-63 characters of [A-Za-z0-9._+-]")
        if not self.targets:
            raise InputError("image", "", "give at least one image to bump")
        if self.max_attempts < 1:
            raise InputError("max-attempts", self.max_attempts, "a positive integer")
        for name, template in (("title-template", self.title_template),
                               ("commit-message", self.message_template)):
            check_template(name, template)

    @property
    def component_group(self) -> str:
        if self.group:
            return self.group
        return "+".join(sorted({t.image.path.rsplit("/", 1)[-1] for t in self.targets}))

    @property
    def branch(self) -> str:
        """One branch per environment and component group: reruns update it, never a new one."""
        return f"dify-action/{self.environment}/{self.component_group}"

    def images_text(self) -> str:
        return ", ".join(f"{t.image.path.rsplit('/', 1)[-1]} {t.tag}" for t in self.targets)


def check_template(name: str, template: str) -> None:
    try:
        used = [part[1] for part in string.Formatter().parse(template) if part[1] is not None]
    except ValueError as error:
        raise InputError(name, template, f"a str.format template ({error})") from None
    for key in used:
        if key not in TEMPLATE_FIELDS:
            raise InputError(name, template, f"placeholders are {{{'}, {'.join(TEMPLATE_FIELDS)}}}")


def render(template: str, values: Mapping[str, str]) -> str:
    return template.format_map(dict(values))


def template_values(request: DeliveryRequest, base: str, changes: Sequence[Change]) -> dict[str, str]:
    lines = [f"- {c.file}:{c.line} {c.old} -> {c.new}" for c in changes]
    return {
        "environment": request.environment, "images": request.images_text(),
        "group": request.component_group, "tag": request.targets[0].tag, "base": base,
        "source_sha": (request.source_sha or "")[:12], "changes": "\n".join(lines),
    }


@dataclass(frozen=True)
class DeliveryResult:
    """What a delivery did. ``operation``: created | updated | unchanged | closed | pushed | none."""

    operation: str
    provider: str
    push_mode: str
    base: str
    branch: str | None = None
    commit: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    changes: tuple[Change, ...] = ()
    clone: CloneInfo | None = None
    attempts: int = 1
    api_calls: int = 0
    notes: tuple[str, ...] = ()
    commits_verified: bool | None = None  # sign-commits: GitHub's verification of the commit; None: not asked
    sections: tuple[str, ...] = ()  # the extra PR body sections (Markdown), for the step summary too

    def as_dict(self) -> dict[str, object]:
        return {
            "operation": self.operation, "provider": self.provider, "push_mode": self.push_mode,
            "base": self.base, "branch": self.branch, "commit": self.commit,
            "pr_number": self.pr_number, "pr_url": self.pr_url,
            "changes": [c.as_dict() | {"image": c.image} for c in self.changes],
            "clone": self.clone.as_dict() if self.clone else None,
            "attempts": self.attempts, "api_calls": self.api_calls, "notes": list(self.notes),
            "commits_verified": self.commits_verified,
        }
