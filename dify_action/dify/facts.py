"""Facts an api image holds about itself: its Dify version, its Alembic graph, its app DSL version.

Read without running Dify, from three places, best first:
- the engine (build time): create a container (never started) and read an archive of the paths;
- the registry: the facts recorded with the gate record (gates.py), else only the layers that
  hold the paths (layers.py);
- neither: the ``io.dify.base-version`` label, and the facts say so (``source == "label"``).
"""

from __future__ import annotations

import ast
import io
import json
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dify_action import untrusted
from dify_action.dify.migrations import Revision, RevisionGraph, build_graph, read_graph
from dify_action.errors import DifyActionError

API_ROOT = "/app/api"
MIGRATIONS = "migrations/versions"
DSL_FILE = "constants/dsl_version.py"
PYPROJECT = "pyproject.toml"
PATHS = (MIGRATIONS, DSL_FILE, PYPROJECT)
SOURCES = ("engine", "record", "layers", "label")
MAX_FILE = 1 << 20
MAX_FILES = 20_000
MAX_ARCHIVE = 64 << 20
MAX_FACTS = 4 << 20  # a recorded graph: Dify has ~400 migrations of ~200 bytes each; room for 50x
FACTS_VERSION = 1


@dataclass(frozen=True)
class ImageFacts:
    """What an image says. ``graph`` is None when its migrations could not be read (then the
    guard falls back to ``dify_version``, the label); ``notes`` say why and from where."""

    source: str
    dify_version: str | None = None
    dsl_version: str | None = None
    graph: RevisionGraph | None = None
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def exact(self) -> bool:
        return self.graph is not None

    @property
    def heads(self) -> tuple[str, ...]:
        return self.graph.heads if self.graph is not None else ()

    def describe(self) -> str:
        if self.graph is None:
            return f"Dify {self.dify_version or 'unknown'} (by label; migrations not read)"
        heads = ", ".join(self.heads) or "none"
        return f"Dify {self.dify_version or 'unknown'}, {len(self.graph)} migrations, head {heads}"

    def as_dict(self) -> dict[str, Any]:
        return {"version": FACTS_VERSION, "source": self.source, "dify_version": self.dify_version,
                "dsl_version": self.dsl_version, "heads": list(self.heads),
                "migrations": self.graph.as_list() if self.graph is not None else None,
                "notes": list(self.notes)}

    def to_json(self) -> bytes:
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes, source: str = "record") -> ImageFacts:
        """Facts from a recorded blob (registry data); DifyActionError when it is not one."""
        what = "the recorded image facts"
        try:
            doc = untrusted.json_object(data, what, max_bytes=MAX_FACTS, max_depth=8)
            if doc.get("version") != FACTS_VERSION:
                untrusted.fail(what, "not a dify-action facts document (version 1)")
            items = doc.get("migrations")
            graph = None if items is None else build_graph(
                Revision.from_dict(item) for item in untrusted.as_list(items, f"{what}: migrations"))
            notes = tuple(str(note) for note in untrusted.as_list(doc.get("notes") or [], f"{what}: notes")
                          if isinstance(note, str))
            return cls(source, _str(doc.get("dify_version")), _str(doc.get("dsl_version")), graph, notes)
        except DifyActionError as error:
            raise DifyActionError(error.message, hint="record the facts of this image again (build stage)") from None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_dsl_version(text: str) -> str | None:
    """``CURRENT_APP_DSL_VERSION = "0.6.0"`` of constants/dsl_version.py (None when absent)."""
    try:
        tree = untrusted.python_module(text, f"{API_ROOT}/{DSL_FILE}")
    except DifyActionError:
        return None
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else (
            node.target if isinstance(node, ast.AnnAssign) else None)
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if isinstance(target, ast.Name) and target.id == "CURRENT_APP_DSL_VERSION" and \
                isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
    return None


def parse_project_version(text: str) -> str | None:
    """``[project] version`` of api/pyproject.toml (older releases: ``[tool.poetry] version``)."""
    try:
        data = untrusted.toml_document(text, f"{API_ROOT}/{PYPROJECT}")
    except DifyActionError:
        return None
    tool = data.get("tool")
    for table in (data.get("project"), tool.get("poetry") if isinstance(tool, dict) else None):
        if isinstance(table, dict) and isinstance(table.get("version"), str):
            return str(table["version"])
    return None


def facts_from_files(files: Mapping[str, bytes], source: str, *, label: str | None = None) -> ImageFacts:
    """Facts from the files under /app/api (keys relative to it: ``migrations/versions/x.py``)."""
    notes: list[str] = []
    prefix = MIGRATIONS + "/"
    versions = {name[len(prefix):]: data.decode("utf-8", "replace") for name, data in files.items()
                if name.startswith(prefix) and "/" not in name[len(prefix):]}
    graph = None
    if not versions:
        notes.append(f"{API_ROOT}/{MIGRATIONS} not found in the image")
    else:
        try:
            graph = read_graph(versions)
        except DifyActionError as error:
            notes.append(f"{API_ROOT}/{MIGRATIONS} unreadable: {error.message}")
    dsl = parse_dsl_version(files[DSL_FILE].decode("utf-8", "replace")) if DSL_FILE in files else None
    if dsl is None:
        notes.append(f"no CURRENT_APP_DSL_VERSION in {API_ROOT}/{DSL_FILE}")
    version = parse_project_version(files[PYPROJECT].decode("utf-8", "replace")) if PYPROJECT in files else None
    if version is None:
        notes.append(f"no [project] version in {API_ROOT}/{PYPROJECT}")
    return ImageFacts(source, version or label, dsl, graph, tuple(notes))


def label_facts(label: str | None, why: str) -> ImageFacts:
    """The fallback: only the ``io.dify.base-version`` label, saying why the image was not read."""
    return ImageFacts("label", label, None, None, (
        f"{why}; comparing io.dify.base-version labels instead ({label or 'no label'})",))


def files_from_tar(data: bytes | io.BufferedIOBase, base: str) -> dict[str, bytes]:
    """Regular files of a tar (a docker archive of ``base``) keyed ``base/<rest>``; bounded sizes."""
    out: dict[str, bytes] = {}
    parent = base.rpartition("/")[0]  # the archive's entries start with the base name
    fileobj = io.BytesIO(data) if isinstance(data, bytes) else data
    with tarfile.open(fileobj=fileobj, mode="r|*") as archive:
        for member in archive:
            if not member.isfile() or member.size > MAX_FILE:
                continue
            name = member.name.removeprefix("./").lstrip("/")
            key = f"{parent}/{name}" if parent else name
            handle = archive.extractfile(member)
            if handle is not None:
                out[key] = handle.read()
            if len(out) > MAX_FILES:
                raise DifyActionError(f"over {MAX_FILES} files in the archive of {base}",
                                      hint="this is not a Dify api image layout")
    return out


def read_engine(client: Any, image: str) -> ImageFacts:
    """Facts through the Docker engine (docker SDK client): the paths of a created, never started
    container, read as archives; the container is removed whatever happens."""
    import docker.errors  # lazy: the SDK is heavy

    try:
        container = client.containers.create(image, entrypoint=["/dify-action-reads-facts"], command=[],
                                              network_mode="none", labels={"io.dify-action.role": "facts"})
    except docker.errors.DockerException as error:
        raise DifyActionError(f"cannot create a container of {image} to read its facts: {error}",
                              hint="check the image exists in the engine") from None
    files: dict[str, bytes] = {}
    try:
        for path in PATHS:
            try:
                chunks, _ = container.get_archive(f"{API_ROOT}/{path}")
            except docker.errors.NotFound:
                continue
            files |= files_from_tar(_bounded(chunks, f"{API_ROOT}/{path}"), path)
    finally:
        container.remove(force=True)
    return facts_from_files(files, "engine")


def _bounded(chunks: Iterator[bytes], what: str) -> bytes:
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > MAX_ARCHIVE:
            raise DifyActionError(f"the archive of {what} is over {MAX_ARCHIVE >> 20} MiB",
                                  hint="this is not a Dify api image layout")
    return bytes(buffer)


def with_note(facts: ImageFacts, note: str) -> ImageFacts:
    return replace(facts, notes=(*facts.notes, note))
