"""Dify's DSL version rule (``api/services/app_dsl_service.py``), on PEP 440 versions.

Importing a DSL file of version v into a release whose ``CURRENT_APP_DSL_VERSION`` is c:
v > c, or v's major < c's major: ``pending`` (the import needs confirmation); v's minor < c's
minor: ``completed-with-warnings``; otherwise ``completed``; a version that does not parse:
``failed``. Dify parses with ``packaging.version``; this is the same ordering, kept here so the
action image needs no extra package (tests compare the two).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERDICTS = ("completed", "completed-with-warnings", "pending", "failed")
_PEP440 = re.compile(
    r"v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre_l>alpha|beta|preview|pre|rc|a|b|c)[-_.]?(?P<pre_n>\d+)?)?"
    r"(?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?)?"
    r"(?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?"
    r"(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?",
    re.IGNORECASE,
)
_PRE = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
Key = tuple[object, ...]


@dataclass(frozen=True)
class Version:
    release: tuple[int, ...]
    key: Key

    @property
    def major(self) -> int:
        return self.release[0]

    @property
    def minor(self) -> int:
        return self.release[1] if len(self.release) > 1 else 0


def parse(text: str) -> Version | None:
    """A PEP 440 version, or None (what packaging raises InvalidVersion for)."""
    match = _PEP440.fullmatch(text.strip())
    if match is None:
        return None
    release = tuple(int(part) for part in match.group("release").split("."))
    trimmed = list(release)
    while len(trimmed) > 1 and trimmed[-1] == 0:
        trimmed.pop()
    post = match.group("post_n1") or match.group("post_n2") or ("0" if match.group("post_l") else None)
    dev = match.group("dev_n") or ("0" if match.group("dev_l") else None)
    if match.group("pre_l"):
        pre: Key = (1, _PRE[match.group("pre_l").lower()], int(match.group("pre_n") or 0))
    else:
        pre = (0,) if post is None and dev is not None else (3,)
    local = match.group("local")
    local_key: Key = (0,) if local is None else (1, tuple(
        (1, int(part), "") if part.isdigit() else (0, 0, part.lower()) for part in re.split(r"[-_.]", local)))
    key: Key = (int(match.group("epoch") or 0), tuple(trimmed), pre, (0,) if post is None else (1, int(post)),
                (2,) if dev is None else (1, int(dev)), local_key)
    return Version(release, key)


def dsl_verdict(imported: str, current: str) -> str:
    """The import status Dify gives a DSL file of version ``imported`` (see the module doc)."""
    theirs, ours = parse(imported), parse(current)
    if theirs is None or ours is None:
        return "failed"
    if theirs.key > ours.key or theirs.major < ours.major:
        return "pending"
    if theirs.minor < ours.minor:
        return "completed-with-warnings"
    return "completed"
