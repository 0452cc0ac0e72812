"""Versions read from git tags: semver (https://semver.org) and PEP 440 (https://peps.python.org/pep-0440/).

Each parser returns the template fields a ``pattern=`` can use (``raw``, ``version``, ``major``,
``minor``, ``patch``) and whether the version is a final release, or None when the text is not
such a version. ``version`` is the normalized form: semver without build metadata (semver.org
item 10: it does not make another version), PEP 440 in its canonical spelling (``1.1beta2`` ->
``1.1b2``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import semver


@dataclass(frozen=True)
class ParsedVersion:
    fields: dict[str, str]
    final: bool  # no pre-release (semver), no pre/post/dev part (PEP 440)

    @property
    def major(self) -> int:
        return int(self.fields["major"])


def parse_semver(text: str) -> ParsedVersion | None:
    """``v1.2.3``, ``1.2.3-rc.1+b5``; one leading ``v`` allowed, nothing looser."""
    raw = text.strip()
    try:
        version = semver.Version.parse(raw[1:] if raw.startswith("v") else raw)
    except ValueError:
        return None
    core = f"{version.major}.{version.minor}.{version.patch}"
    full = f"{core}-{version.prerelease}" if version.prerelease else core
    fields = {"raw": raw, "version": full, "major": str(version.major), "minor": str(version.minor),
              "patch": str(version.patch)}
    return ParsedVersion(fields, final=not version.prerelease)


# PEP 440 Appendix B's grammar, written out with named groups.
_PEP440_RE = re.compile(
    r"""
    v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    """,
    re.VERBOSE | re.IGNORECASE,
)
_PRE_SPELLING = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "pre": "rc", "preview": "rc", "rc": "rc"}


def parse_pep440(text: str) -> ParsedVersion | None:
    """``v1.2.3``, ``1.1beta2``, ``1.0.dev4``, ``1!2.0.post1+local``; None when not PEP 440."""
    raw = text.strip()
    match = _PEP440_RE.fullmatch(raw)
    if match is None:
        return None
    release = [int(part) for part in match.group("release").split(".")]
    canonical = ".".join(map(str, release))
    if match.group("epoch") and int(match.group("epoch")):
        canonical = f"{int(match.group('epoch'))}!{canonical}"
    if match.group("pre"):
        canonical += _PRE_SPELLING[match.group("pre_l").lower()] + str(int(match.group("pre_n") or 0))
    if match.group("post"):
        canonical += f".post{int(match.group('post_n1') or match.group('post_n2') or 0)}"
    if match.group("dev"):
        canonical += f".dev{int(match.group('dev_n') or 0)}"
    if match.group("local"):
        parts = re.split(r"[-_.]", match.group("local").lower())
        canonical += "+" + ".".join(str(int(part)) if part.isdigit() else part for part in parts)
    padded = [*release, 0, 0]
    fields = {"raw": raw, "version": canonical, "major": str(padded[0]), "minor": str(padded[1]),
              "patch": str(padded[2])}
    final = not (match.group("pre") or match.group("post") or match.group("dev"))
    return ParsedVersion(fields, final=final)
