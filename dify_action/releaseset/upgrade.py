"""How an environment runs its Dify migrations, read from its manifests: a hint for upgrades.

Dify's api migrates at start when ``MIGRATION_ENABLED`` is true (the compose default): with several
api/worker containers doing so they race, the pattern Dify's issues show deadlocking (#19910). The
recommended shape is one Job running ``MODE=migration`` (Dify PR #22750, about 1.7.0) as an Argo CD
PreSync or Helm pre-upgrade hook, with ``MIGRATION_ENABLED=false`` elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dify_action.markdown import code, escape

MAX_BYTES = 4 << 20
_TRUE = ("true", "1", "yes", "on")


@dataclass(frozen=True)
class MigrationMode:
    """``job``: a MODE=migration workload; ``start``: containers migrating at start (``migrators`` of
    them, counting replicas); ``unknown``: neither was found."""

    mode: str
    migrators: int = 0
    places: tuple[str, ...] = ()

    @property
    def risky(self) -> bool:
        return self.mode == "start" and self.migrators > 1

    def hint(self) -> str:
        if self.mode == "job":
            return (f"migrations run as a one-off job (MODE=migration: {', '.join(self.places)}); run it before "
                    "the new api starts (Argo CD PreSync / Helm pre-upgrade hook)")
        if self.mode == "start":
            many = (f"{self.migrators} containers migrate at start ({', '.join(self.places)}): with several "
                    "replicas they race and can deadlock (Dify #19910). ") if self.risky else \
                f"the api migrates at start ({', '.join(self.places)}). "
            return many + ("Prefer one Job with MODE=migration (Dify >= 1.7, as an Argo CD PreSync or Helm "
                           "pre-upgrade hook) and MIGRATION_ENABLED=false on api and worker")
        return "no migration setting found (MIGRATION_ENABLED / MODE=migration): check how this environment migrates"

    def markdown(self) -> str:
        return f"- Migrations: **{escape(self.mode)}**: {escape(self.hint())}"

    def as_dict(self) -> dict[str, object]:
        return {"mode": self.mode, "migrators": self.migrators, "places": list(self.places), "risky": self.risky,
                "hint": self.hint()}


def _env(unit: Any) -> dict[str, str]:
    """The environment variables a compose service or a pod spec sets (lists of name/value or maps)."""
    out: dict[str, str] = {}
    for node in _walk(unit):
        if isinstance(node, dict):
            env = node.get("environment", node.get("env"))
            if isinstance(env, dict):
                out.update({str(k): str(v) for k, v in env.items()})
            elif isinstance(env, list):
                for item in env:
                    if isinstance(item, dict) and "name" in item:
                        out[str(item["name"])] = str(item.get("value", ""))
                    elif isinstance(item, str) and "=" in item:
                        key, _, value = item.partition("=")
                        out[key] = value
    return out


def _walk(node: Any, depth: int = 0) -> Iterator[Any]:
    if depth > 40:
        return
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _walk(child, depth + 1)


def _enabled(value: str) -> bool:
    text = value.strip().strip("'\"")
    if text.startswith("${") and ":-" in text:  # compose default: ${MIGRATION_ENABLED:-true}
        text = text.split(":-", 1)[1].rstrip("}")
    return text.lower() in _TRUE


def _replicas(unit: Any) -> int:
    if isinstance(unit, dict):
        for holder in (unit, unit.get("spec"), unit.get("deploy")):
            if isinstance(holder, dict) and isinstance(holder.get("replicas"), int):
                return max(0, int(holder["replicas"]))
    return 1


def _runs(unit: Any, images: set[str]) -> bool:
    """Does the workload run one of the api images (a compose service or a Kubernetes document)?"""
    for node in _walk(unit):
        if isinstance(node, dict) and isinstance(node.get("image"), str):
            path = node["image"].split("@", 1)[0].rsplit(":", 1)[0] if "/" in node["image"] else node["image"]
            if any(path == image or path.endswith("/" + image) for image in images):
                return True
    return False


def _units(doc: Any, file: str, images: set[str]) -> Iterator[tuple[str, Any, bool]]:
    """(place, workload, is Helm values) of the workloads running the api in one YAML document."""
    services = doc.get("services") if isinstance(doc, dict) else None
    if isinstance(services, dict):
        yield from ((f"{file} services.{name}", unit, False) for name, unit in services.items()
                    if _runs(unit, images))
    elif isinstance(doc, dict) and isinstance(doc.get("kind"), str):
        if _runs(doc, images):
            yield f"{file} {doc['kind']}/{(doc.get('metadata') or {}).get('name', '?')}", doc, False
    elif isinstance(doc, dict):  # Helm values of the community charts: api.migration: true migrates at start
        section = doc.get("api")
        if isinstance(section, dict) and section.get("migration") is True:
            yield f"{file} api.migration", {"env": [{"name": "MIGRATION_ENABLED", "value": "true"}], **section}, True


def migration_mode(root: Path, files: Sequence[str], images: set[str]) -> MigrationMode:
    """The migration shape of the workloads running ``images`` (api repository paths) in ``files``
    (relative to ``root``). Values files are alternatives of one release: counted once, not summed."""
    jobs: list[str] = []
    starts: list[tuple[str, int]] = []
    values: list[tuple[str, int]] = []
    for file in dict.fromkeys(files):
        path = root / file
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_BYTES:
            continue
        try:
            docs = list(yaml.safe_load_all(path.read_text("utf-8", "replace")))
        except yaml.YAMLError:
            continue
        for doc in docs:
            for place, unit, is_values in _units(doc, file, images):
                env = _env(unit)
                if env.get("MODE", "").strip("'\"") == "migration":
                    jobs.append(place)
                elif _enabled(env.get("MIGRATION_ENABLED", "false")):
                    (values if is_values else starts).append((place, _replicas(unit)))
    if values:
        starts.append((", ".join(p for p, _ in values), max(n for _, n in values)))
    if starts:
        return MigrationMode("start", sum(n for _, n in starts), tuple(p for p, _ in starts))
    if jobs:
        return MigrationMode("job", 0, tuple(jobs))
    return MigrationMode("unknown")


def upgrade_markdown(mode: MigrationMode, old: str | None, new: str | None) -> str:
    return (f"- Dify api {code(old or 'unknown')} → {code(new or 'unknown')}: database migrations may run.\n"
            + mode.markdown())
