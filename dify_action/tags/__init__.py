"""Tag policy: which tags an image gets, from the git context and declared rules.

The rules and flavor are docker/metadata-action's
(https://github.com/docker/metadata-action#tags-input), one rule per line, and give the same tags,
with the differences listed in README.md ("Tag policy"). In short:

``type=sha[,format=long]``                    ``sha-0123abc`` (the rule's prefix replaces ``sha-``)
``type=semver,pattern=...[,value=][,match=]`` release tags; ``{{version}}``, ``{{major}}``,
    ``{{minor}}``, ``{{patch}}``, ``{{raw}}``. A pre-release gets ``{{version}}`` whatever the
    pattern (``{{raw}}`` alone excepted); ``{{major}}`` alone makes no ``0`` for a 0.x release.
``type=pep440,pattern=...``                   the same for PEP 440 versions (``1.2.3rc2``)
``type=match,pattern=<regex>[,group=N]``      a capture of the git tag (or ``value=``)
``type=ref,event=branch|tag|pr`` (or ``type=branch|tag|pr``)  the sanitized ref; ``pr-N``
``type=edge[,branch=...]``                    ``edge`` on the default (or given) branch
``type=schedule[,pattern=...]``               ``nightly`` (or the pattern) on schedule events
``type=raw,value=...`` / ``type=raw,foo`` / ``foo``  a literal tag, with templates
``type=dify``                                 ours: the Dify base version the image customizes
``type=latest``                               ours: ``latest`` on builds of the default branch

Every rule takes ``enable=true|false|{{is_default_branch}}|{{is_not_default_branch}}``,
``priority=N``, ``prefix=`` and ``suffix=``. Templates: ``{{sha}}`` (short), ``{{long_sha}}``,
``{{branch}}``, ``{{tag}}``, ``{{base_ref}}``, ``{{run_number}}``, ``{{dify_version}}``,
``{{date 'YYYYMMDD' tz='Asia/Tokyo'}}``, ``{{commit_date 'YYYY-MM-DD'}}``. A rule whose template
needs a value unknown in this build (``{{branch}}`` on a tag build) gives no tag.

Order: declaration order; when any rule sets ``priority=``, all are sorted by priority (the
defaults are metadata-action's: schedule 1000, semver/pep440 900, match 800, edge 700, ref 600,
raw 200, sha 100), ties keeping declaration order. ``latest=auto`` asks the highest-priority rule
that produced a tag: semver/pep440 final releases, ``match`` and ``ref,event=tag`` say yes.
``latest=true`` adds ``latest`` whenever a tag was produced; the first tag is the primary.
"""

from __future__ import annotations

from dify_action.tags.compute import TAG_MAX, TagSet, compute_tags, sanitize_branch
from dify_action.tags.context import PR_EVENTS, SHORT_SHA_LENGTH, GitContext
from dify_action.tags.event import context_from_event, load_event
from dify_action.tags.rules import (
    DEFAULT_PRIORITY,
    DEFAULT_RULES,
    DEFAULT_RULES_TEXT,
    RULE_TYPES,
    Flavor,
    LatestMode,
    TagRule,
    parse_flavor,
    parse_rule,
    parse_rules,
)

__all__ = [
    "DEFAULT_PRIORITY",
    "DEFAULT_RULES",
    "DEFAULT_RULES_TEXT",
    "PR_EVENTS",
    "RULE_TYPES",
    "SHORT_SHA_LENGTH",
    "TAG_MAX",
    "Flavor",
    "GitContext",
    "LatestMode",
    "TagRule",
    "TagSet",
    "compute_tags",
    "context_from_event",
    "load_event",
    "parse_flavor",
    "parse_rule",
    "parse_rules",
    "sanitize_branch",
]
