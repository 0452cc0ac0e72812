"""The migration report of a bump or promote to a new api image: the migrations it runs, and
whether the target environment runs them safely.

Dify runs its migrations either from a one-off Job with ``MODE=migration`` (the recommended
setup with several replicas) or at api start with ``MIGRATION_ENABLED=true``, which races when
more than one replica starts at once. The manifests of the target environment are read (raw
Kubernetes YAML: Deployment, StatefulSet, DaemonSet, Rollout, Job, CronJob, Pod, List; ``env``
and ``envFrom`` ConfigMaps of the same tree; HorizontalPodAutoscalers) for the workloads that run
the api image.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dify_action import refs
from dify_action.bump.tree import collect
from dify_action.dify.facts import ImageFacts
from dify_action.dify.migrations import Revision, diff
from dify_action.markdown import escape

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Rollout", "ReplicaSet", "Job", "CronJob", "Pod")
SCALED = ("Deployment", "StatefulSet", "Rollout", "ReplicaSet")


@dataclass(frozen=True)
class Workload:
    """A workload of the target environment that runs the api image."""

    file: str
    line: int
    kind: str
    name: str
    replicas: int
    mode: str | None
    migration_enabled: bool

    @property
    def where(self) -> str:
        return f"{self.kind} {self.name} ({self.file}:{self.line})"


@dataclass(frozen=True)
class ForwardReport:
    """``migrations``: what the new image runs on the database of the old one (apply order);
    ``missing``: what the old one applied and the new one lacks; ``exact``: both graphs were read."""

    image: str
    old_version: str | None
    new_version: str | None
    exact: bool
    migrations: tuple[Revision, ...] = ()
    missing: tuple[Revision, ...] = ()
    workloads: tuple[Workload, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        if not self.exact:
            return f"{self.image}: the migrations this change runs are unknown (an image's graph was not read)"
        if not self.migrations:
            return f"{self.image}: this change runs no migration"
        return f"{self.image}: this change runs {len(self.migrations)} migration(s): " + \
            ", ".join(r.label() for r in self.migrations)

    def markdown(self) -> str:
        """The PR body / step summary section; every value escaped."""
        lines = [f"### Dify migrations: {escape(self.image)}", "",
                 f"Dify {escape(self.old_version or 'unknown')} → {escape(self.new_version or 'unknown')}."]
        if not self.exact:
            lines.append("The migrations this change runs are unknown: an image's revision graph was not read.")
        elif self.migrations:
            lines.append(f"This change runs **{len(self.migrations)} migration(s)**:")
            lines += [f"- {escape(r.revision)} {escape(r.slug)}" + (" (merge)" if r.is_merge else "")
                      for r in self.migrations]
        else:
            lines.append("This change runs no migration.")
        if self.missing:
            lines.append(f"The new image lacks **{len(self.missing)} migration(s)** the running one applied:")
            lines += [f"- {escape(r.revision)} {escape(r.slug)}" for r in self.missing]
        if self.warnings:
            lines += ["", "> [!WARNING]"] + [f"> {escape(w)}  " for w in self.warnings]
        lines += [f"- {escape(n)}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, object]:
        return {"image": self.image, "old_version": self.old_version, "new_version": self.new_version,
                "exact": self.exact, "migrations": [r.as_dict() for r in self.migrations],
                "missing": [r.as_dict() for r in self.missing],
                "workloads": [w.__dict__ for w in self.workloads], "warnings": list(self.warnings),
                "notes": list(self.notes)}


def forward_report(old: ImageFacts | None, new: ImageFacts, root: Path, paths: Sequence[str],
                   image: refs.ImageRef) -> ForwardReport:
    """The migrations going from ``old`` (what the target runs; None: unknown) to ``new`` runs, and
    the manifest checks of the target environment (``paths`` of the GitOps tree at ``root``)."""
    notes: list[str] = []
    migrations: tuple[Revision, ...] = ()
    missing: tuple[Revision, ...] = ()
    exact = old is not None and old.graph is not None and new.graph is not None
    if old is not None and old.graph is not None and new.graph is not None:
        change = diff(old.graph, new.graph)
        migrations, missing = change.only_new, change.only_old
    else:
        notes += [n for n in (*(old.notes if old else ("what the target runs now is unknown",)), *new.notes) if n]
    workloads, skipped = find_workloads(root, paths, image)
    notes += skipped
    warnings: list[str] = []
    if missing:
        warnings.append(f"the new image lacks {len(missing)} migration(s) the running one applied: its api "
                        "fails on this database (Can't locate revision); restore the databases first")
    runs = migrations or not exact
    jobs = [w for w in workloads if w.kind == "Job" and w.mode == "migration"]
    if runs and not jobs:
        warnings.append(f"no migration Job (MODE=migration) runs {image.name} in {', '.join(paths) or '.'}: "
                        "migrations run only where MIGRATION_ENABLED=true")
    for workload in workloads:
        if workload.migration_enabled and workload.replicas > 1 and workload.kind in SCALED:
            warnings.append(f"{workload.where} has MIGRATION_ENABLED=true and {workload.replicas} replicas: they "
                            "race to migrate; run a Job with MODE=migration and set MIGRATION_ENABLED=false")
    notes += [f"migration Job: {w.where}" for w in jobs]
    return ForwardReport(image.name, old.dify_version if old else None, new.dify_version, exact, migrations,
                         missing, tuple(workloads), tuple(warnings), tuple(notes))


def _documents(text: str) -> Iterator[tuple[int, Any]]:
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield node.start_mark.line + 1, loader.construct_document(node)
    finally:
        loader.dispose()


def find_workloads(root: Path, paths: Sequence[str], image: refs.ImageRef) -> tuple[list[Workload], list[str]]:
    """The workloads under ``paths`` with a container (or init container) of ``image``."""
    files, skipped = collect(root, paths)
    docs: list[tuple[str, int, dict[str, Any]]] = []
    notes = [f"{s.file}: skipped ({s.reason})" for s in skipped]
    for source in files:
        try:
            for line, doc in _documents(source.data.decode("utf-8-sig", "replace")):
                items = doc.get("items") if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
                docs += [(source.relpath, line, item) for item in items or () if isinstance(item, dict)]
        except yaml.YAMLError:
            notes.append(f"{source.relpath}: not YAML (a template?), not checked")
    config_maps = {str(_get(d, "metadata", "name")): _get(d, "data") or {} for _, _, d in docs
                   if d.get("kind") == "ConfigMap"}
    scaled = {str(_get(d, "spec", "scaleTargetRef", "name")): max(_int(_get(d, "spec", "minReplicas")),
                                                                   _int(_get(d, "spec", "maxReplicas")))
              for _, _, d in docs if d.get("kind") == "HorizontalPodAutoscaler"}
    out: list[Workload] = []
    for file, line, doc in docs:
        kind = str(doc.get("kind"))
        if kind not in WORKLOADS:
            continue
        pod = _pod_spec(doc, kind)
        containers = [c for key in ("initContainers", "containers") for c in (pod.get(key) or ())
                      if isinstance(c, dict) and _same(c.get("image"), image)]
        if not containers:
            continue
        env: dict[str, str] = {}
        for container in containers:
            env |= _env(container, config_maps)
        name = str(_get(doc, "metadata", "name") or "?")
        replicas = _int(_get(doc, "spec", "replicas")) if kind in SCALED else 1
        replicas = max(replicas, scaled.get(name, 0))
        out.append(Workload(file, line, kind, name, replicas, env.get("MODE"),
                            env.get("MIGRATION_ENABLED", "").strip().lower() == "true"))
    return out, notes


def _int(value: object) -> int:
    """A replica count; 1 when absent or not a number (a template the bump does not render)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _pod_spec(doc: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    if kind == "Pod":
        spec = doc.get("spec")
    elif kind == "CronJob":
        spec = _get(doc, "spec", "jobTemplate", "spec", "template", "spec")
    else:
        spec = _get(doc, "spec", "template", "spec")
    return spec if isinstance(spec, dict) else {}


def _same(value: object, image: refs.ImageRef) -> bool:
    ref = refs.try_parse(value) if isinstance(value, str) else None
    return ref is not None and ref.repository == image.repository


def _env(container: Mapping[str, Any], config_maps: Mapping[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom") or ():
        name = _get(source, "configMapRef", "name")
        data = config_maps.get(str(name)) if name else None
        if isinstance(data, dict):
            env |= {str(k): str(v) for k, v in data.items()}
    for item in container.get("env") or ():
        if isinstance(item, dict) and "name" in item:
            value = item.get("value")
            ref = _get(item, "valueFrom", "configMapKeyRef")
            if value is None and isinstance(ref, dict):
                value = (config_maps.get(str(ref.get("name"))) or {}).get(ref.get("key"))
            env[str(item["name"])] = "" if value is None else str(value).lower() if isinstance(value, bool) \
                else str(value)
    return env
