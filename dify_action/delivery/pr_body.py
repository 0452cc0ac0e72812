"""The bump PR body: a table reviewers can read, plus a hidden block promote and rollback parse.

The block is an HTML comment (invisible in the rendered PR): ``<!-- dify-action:metadata {json} -->``.
``<`` and ``>`` inside the JSON are written as ``\\u003c``/``\\u003e`` so the comment cannot end early.

Every value above the block (file names, old values from the repository, registry labels...) goes
through ``markdown.escape``, which writes ``<`` as ``&lt;``: no value can open a comment, so the
only ``<!-- dify-action:metadata`` in a body we wrote is ours, and it is the last thing in it.
``parse_metadata`` reads the last one only: a fake block inside an old value of a body written
before values were escaped (issue #9) comes before the real one and is never read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dify_action.bump import Change
from dify_action.errors import DifyActionError
from dify_action.markdown import code, escape, is_url, row, url

METADATA_VERSION = 1
_MARK = "<!-- dify-action:metadata "
_END = " -->"
_HEX = re.compile(r"[0-9a-f]{7,64}")


@dataclass(frozen=True)
class ImageChange:
    image: str
    before: tuple[str, ...]
    after: str


@dataclass(frozen=True)
class BumpMetadata:
    """The machine-readable part of a bump PR (also usable for a commit message)."""

    environment: str
    images: tuple[ImageChange, ...]
    source_sha: str | None = None
    source_repo: str | None = None
    digest: str | None = None
    run_url: str | None = None
    dify_version_old: str | None = None
    dify_version_new: str | None = None
    promoted_from: str | None = None  # promote: the environment the images come from
    rollback_of: str | None = None  # rollback: "#<pr>" or the reverted commit sha

    def as_dict(self) -> dict[str, Any]:
        extra = {key: value for key, value in (("promoted_from", self.promoted_from),
                                               ("rollback_of", self.rollback_of)) if value is not None}
        return extra | {
            "version": METADATA_VERSION, "environment": self.environment,
            "images": [{"image": i.image, "before": list(i.before), "after": i.after} for i in self.images],
            "source_sha": self.source_sha, "source_repo": self.source_repo, "digest": self.digest,
            "run_url": self.run_url,
            "dify_version": {"old": self.dify_version_old, "new": self.dify_version_new},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BumpMetadata:
        dify = data.get("dify_version") or {}
        return cls(
            environment=str(data["environment"]),
            images=tuple(ImageChange(str(i["image"]), tuple(map(str, i["before"])), str(i["after"]))
                         for i in data["images"]),
            source_sha=data.get("source_sha"), source_repo=data.get("source_repo"),
            digest=data.get("digest"), run_url=data.get("run_url"),
            dify_version_old=dify.get("old"), dify_version_new=dify.get("new"),
            promoted_from=data.get("promoted_from"), rollback_of=data.get("rollback_of"),
        )


def metadata_from_changes(environment: str, changes: Sequence[Change], **extra: str | None) -> BumpMetadata:
    by_image: dict[str, tuple[set[str], set[str]]] = {}
    for change in changes:
        before, after = by_image.setdefault(change.image, (set(), set()))
        before.add(change.old)
        after.add(change.new)
    images = tuple(ImageChange(name, tuple(sorted(b)), ", ".join(sorted(a)))
                   for name, (b, a) in sorted(by_image.items()))
    return BumpMetadata(environment, images, **extra)


def render_body(meta: BumpMetadata, changes: Sequence[Change], sections: Sequence[str] = ()) -> str:
    """Markdown: summary, table of file/old/new, links when known, ``sections`` (already escaped
    Markdown, e.g. the migrations a change runs), then the hidden block."""
    lines = [f"Deploys to **{escape(meta.environment)}**:", ""]
    lines += [row("File", "Old value", "New value"), row("---", "---", "---")]
    for change in changes:
        lines.append(row(code(f"{change.file}:{change.line}"), code(change.old), code(change.new)))
    lines.append("")
    if meta.promoted_from:
        lines.append(f"- Promoted from **{escape(meta.promoted_from)}**")
    if meta.rollback_of:
        lines.append(f"- Rolls back {escape(meta.rollback_of)}")
    if meta.digest:
        lines.append(f"- Image digest: {code(meta.digest)}")
    if meta.source_sha:
        repo = (meta.source_repo or "").rstrip("/")
        if is_url(repo) and _HEX.fullmatch(meta.source_sha):
            lines.append(f"- Source commit: [{meta.source_sha[:12]}]({repo}/commit/{meta.source_sha})")
        else:
            lines.append(f"- Source commit: {code((repo + '@' if repo else '') + meta.source_sha)}")
    if meta.run_url:
        lines.append(f"- Workflow run: {url(meta.run_url)}")
    if meta.dify_version_old or meta.dify_version_new:
        old, new = meta.dify_version_old or "unknown", meta.dify_version_new or "unknown"
        lines.append(f"- Dify base version: {code(old)} → {code(new)}")
        if old != new:
            lines.append("")
            lines.append("> [!WARNING]\n> The Dify version changes: database migrations may run. Back up "
                         "the `dify` and `dify_plugin` databases and storage before merging.")
    for section in sections:
        lines += ["", section.rstrip("\n")]
    payload = json.dumps(meta.as_dict(), sort_keys=True, separators=(",", ":"))
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e")
    lines += ["", f"{_MARK}{payload}{_END}", ""]
    return "\n".join(lines)


def parse_metadata(body: str | None) -> BumpMetadata | None:
    """The metadata block of a bump PR body, or None when there is none.

    Raises DifyActionError when a block is present but unreadable (edited by hand).
    """
    if not body:
        return None
    start = body.rfind(_MARK)  # the last block is ours: see the module docstring
    if start < 0:
        return None
    end = body.find(_END, start)  # the JSON holds no ">", so the first " -->" closes it
    try:
        if end < 0:
            raise ValueError("the comment is not closed")
        data = json.loads(body[start + len(_MARK):end])
        if not isinstance(data, dict):
            raise TypeError("not an object")
        return BumpMetadata.from_dict(data)
    except (ValueError, TypeError, KeyError) as error:
        raise DifyActionError(
            f"the dify-action metadata block of this pull request is unreadable: {error}",
            hint="do not edit the hidden <!-- dify-action:metadata --> comment of bump pull requests",
        ) from None
