"""Dify's Alembic migrations as a revision graph: parse the files, find the heads, compare two graphs.

Each file of ``api/migrations/versions`` sets ``revision = "<id>"`` and ``down_revision`` to a
string, ``None`` (the root) or a tuple (a merge revision). File names are ``<rev>_<slug>.py``
(older) or ``YYYY_MM_DD_HHMM-<rev>_<slug>.py`` (newer). The files are read with ``ast`` and
never imported: they come from an image, and importing would run their code.
"""

from __future__ import annotations

import ast
import heapq
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from dify_action import untrusted
from dify_action.errors import DifyActionError

DownRevision = str | tuple[str, ...] | None
_FILE_RE = re.compile(r"(?:\d{4}_\d{2}_\d{2}_\d{4}-)?(?P<rev>[0-9A-Za-z]+)_(?P<slug>.+)\.py")
_DATE_RE = re.compile(r"\d{4}_\d{2}_\d{2}_\d{4}-")
_ID_RE = re.compile(r"[0-9A-Za-z_]{1,64}")
_HINT = "the image's migrations/versions directory is not a consistent Alembic history"


@dataclass(frozen=True)
class Revision:
    """One migration: its id, what it follows (``parents``), the slug of its file name, the file."""

    revision: str
    down_revision: DownRevision
    slug: str
    file: str

    @property
    def parents(self) -> tuple[str, ...]:
        if self.down_revision is None:
            return ()
        return (self.down_revision,) if isinstance(self.down_revision, str) else self.down_revision

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    def label(self) -> str:
        return f"{self.revision} ({self.slug})"

    def as_dict(self) -> dict[str, Any]:
        down = list(self.down_revision) if isinstance(self.down_revision, tuple) else self.down_revision
        return {"revision": self.revision, "down_revision": down, "slug": self.slug, "file": self.file}

    @classmethod
    def from_dict(cls, data: object) -> Revision:
        """A revision of a recorded facts blob (registry data: every field's type is checked)."""
        item = untrusted.as_object(data, "a recorded migration")
        file = untrusted.string(item, "file", "a recorded migration", default="")
        slug = untrusted.string(item, "slug", f"recorded migration {file}", default="")
        return cls(_id(item.get("revision"), file), _down(item.get("down_revision"), file), slug, file)


def _id(value: object, file: str) -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise DifyActionError(f"migration {file}: revision {value!r} is not an Alembic revision id", hint=_HINT)
    return value


def _down(value: object, file: str) -> DownRevision:
    if value is None:
        return None
    if isinstance(value, str):
        return _id(value, file)
    if isinstance(value, tuple | list) and value and all(isinstance(v, str) for v in value):
        ids = tuple(_id(v, file) for v in value)
        return ids[0] if len(ids) == 1 else ids
    raise DifyActionError(f"migration {file}: down_revision {value!r} is not a revision id, a tuple of them "
                          "or None", hint=_HINT)


def slug_of(name: str, revision: str) -> str:
    """The slug of a migration file name of either style (the stem when the name does not say)."""
    match = _FILE_RE.fullmatch(name)
    if match and match.group("rev") == revision:
        return match.group("slug")
    stem = name[:-3] if name.endswith(".py") else name
    return _DATE_RE.sub("", stem, count=1)


def parse_revision(name: str, text: str) -> Revision | None:
    """The revision a migration file defines; None for a file that defines none (``__init__.py``)."""
    tree = untrusted.python_module(text, f"migration {name}")
    values: dict[str, object] = {}
    for node in tree.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and value is not None and target.id in ("revision", "down_revision"):
            values[target.id] = untrusted.literal(value, f"migration {name}: {target.id}")
    if "revision" not in values:
        return None
    revision = _id(values["revision"], name)
    if "down_revision" not in values:
        raise DifyActionError(f"migration {name}: revision {revision} has no down_revision", hint=_HINT)
    return Revision(revision, _down(values["down_revision"], name), slug_of(name, revision), name)


@dataclass(frozen=True)
class RevisionGraph:
    """A consistent Alembic history: every parent exists, every id once. Build it with build_graph."""

    revisions: Mapping[str, Revision]

    def __contains__(self, revision: object) -> bool:
        return revision in self.revisions

    def __len__(self) -> int:
        return len(self.revisions)

    @property
    def heads(self) -> tuple[str, ...]:
        """The revisions nothing follows: the schema this code expects (one, unless unmerged)."""
        parents = {p for r in self.revisions.values() for p in r.parents}
        return tuple(sorted(set(self.revisions) - parents))

    def ordered(self, only: Iterable[str] | None = None) -> tuple[Revision, ...]:
        """Revisions in the order Alembic applies them (parents first), ties by file name; a cycle
        leaves its revisions out (build_graph refuses the graph when the count comes up short)."""
        wanted = set(self.revisions) if only is None else set(only)
        waiting = {r: sum(1 for p in self.revisions[r].parents if p in wanted) for r in wanted}
        children: dict[str, list[str]] = {}
        for revision in wanted:
            for parent in self.revisions[revision].parents:
                if parent in wanted:
                    children.setdefault(parent, []).append(revision)
        ready = [(self.revisions[r].file, r) for r, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        out: list[Revision] = []
        while ready:
            _, revision = heapq.heappop(ready)
            out.append(self.revisions[revision])
            for child in children.get(revision, ()):
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, (self.revisions[child].file, child))
        return tuple(out)

    def as_list(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.ordered()]


def build_graph(revisions: Iterable[Revision]) -> RevisionGraph:
    """Check ids are unique, every parent exists and nothing loops; DifyActionError naming the file."""
    found: dict[str, Revision] = {}
    for revision in revisions:
        if revision.revision in found:
            raise DifyActionError(f"migrations {found[revision.revision].file} and {revision.file} both define "
                                  f"revision {revision.revision}", hint=_HINT)
        found[revision.revision] = revision
    for revision in found.values():
        missing = [p for p in revision.parents if p not in found]
        if missing:
            raise DifyActionError(f"migration {revision.file}: down_revision {', '.join(missing)} is not in the "
                                  "history", hint=_HINT)
    graph = RevisionGraph(MappingProxyType(dict(sorted(found.items()))))
    if found and (not graph.heads or len(graph.ordered()) != len(found)):
        raise DifyActionError("the migration history has a cycle", hint=_HINT)
    return graph


def read_graph(files: Mapping[str, str]) -> RevisionGraph:
    """The graph of a migrations/versions directory given as file name -> text (``*.py`` only)."""
    parsed = (parse_revision(name, text) for name, text in sorted(files.items()) if name.endswith(".py"))
    return build_graph(r for r in parsed if r is not None)


@dataclass(frozen=True)
class GraphDiff:
    """``only_old``: in the old graph and not the new (stranded when going old -> new);
    ``only_new``: what the new one adds (run when going old -> new). Both in apply order."""

    only_old: tuple[Revision, ...]
    only_new: tuple[Revision, ...]

    @property
    def same(self) -> bool:
        return not self.only_old and not self.only_new


def diff(old: RevisionGraph, new: RevisionGraph) -> GraphDiff:
    """Compare by revision id: the database of ``old``'s head holds every revision of ``old``."""
    return GraphDiff(old.ordered(set(old.revisions) - set(new.revisions)),
                     new.ordered(set(new.revisions) - set(old.revisions)))
