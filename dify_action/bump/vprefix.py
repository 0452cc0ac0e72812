"""A ``v`` that appears on a tag that never had one (``1.13.3`` -> ``v1.14.0``) is usually a tag rule or
a copy-paste, not a release: Dify and most charts tag without it, and a registry holding both spellings
makes the next bump ambiguous. Warned, not refused: a repository may really have changed convention."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dify_action.bump.model import Change

_V = re.compile(r"v[0-9]")


def tag_of(value: str) -> str:
    """The tag in a changed value: a bare tag (a Helm ``tag:`` key) or a reference's tag."""
    value = value.split("@", 1)[0]
    last = value.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else value if "/" not in value else ""


def v_prefix_warnings(changes: Iterable[Change]) -> list[str]:
    """One warning per image whose new tag starts with ``v`` + digit where its old one did not."""
    seen: dict[str, str] = {}
    for change in changes:
        old, new = tag_of(change.old), tag_of(change.new)
        if old and new and _V.match(new) and not _V.match(old) and change.image not in seen:
            seen[change.image] = (f"{change.image}: the new tag {new!r} starts with 'v' but the deployed tag {old!r} "
                                  f"does not ({change.file}:{change.line}); check the tag rule (e.g. "
                                  "type=semver,pattern={{version}} drops the v) before merging")
    return list(seen.values())
