"""An Argo CD API server emulator on 127.0.0.1: ``GET /api/v1/applications/{name}`` with bearer tokens.

Tests set each Application's status (``set_app``), queue faults (5xx, 401...), and read what was
asked (``requests``: refreshes, namespaces). Every response body is recorded; ``problems()``
validates each against Argo CD's own OpenAPI description (../shared/specs/argocd-swagger.json):
200 against ``v1alpha1Application``, errors against ``runtimeError``. The description is strict
here: an object schema with ``properties`` admits no other key, so a misspelt field fails.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from . import jsonget

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs"  # ../shared/specs, read at test time
URI = "urn:argocd-swagger"
PREFIX = "/api/v1/applications/"


def spec_path(name: str = "argocd-swagger.json") -> Path:
    path = SPECS / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the API descriptions are read from ../shared/specs")
    return path


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items()}
    if isinstance(out.get("$ref"), str) and out["$ref"].startswith("#/"):
        out["$ref"] = URI + out["$ref"]
    if out.get("type") == "object" and isinstance(out.get("properties"), dict) and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


class ArgoCdSchema:
    def __init__(self) -> None:
        raw = json.loads(spec_path().read_text())
        self.spec = {"definitions": _strict(raw["definitions"]), "paths": raw["paths"]}
        self.registry: Registry[Any] = Registry().with_resource(URI, Resource.from_contents(
            self.spec, default_specification=DRAFT4))

    def errors(self, status: int, body: Any) -> list[str]:
        responses = self.spec["paths"]["/api/v1/applications/{name}"]["get"]["responses"]
        ref = (responses.get(str(status)) or responses["default"])["schema"]["$ref"]
        validator = Draft4Validator({"$ref": URI + ref}, registry=self.registry, format_checker=FormatChecker())
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def application(name: str, *, revision: str, sync: str = "Synced", health: str = "Healthy",
                phase: str | None = "Succeeded", op_revision: str | None = None, images: list[str] | None = None,
                hooks: list[dict[str, Any]] | None = None, message: str = "") -> dict[str, Any]:
    """An Application as the API server returns it, with the fields verify reads (and a few more)."""
    status: dict[str, Any] = {
        "sync": {"status": sync, "revision": revision, "comparedTo": {"source": {
            "repoURL": "https://github.com/acme/dify-gitops.git", "path": "overlays/staging", "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "dify-staging"}}},
        "health": {"status": health, "lastTransitionTime": now(), **({"message": message} if message else {})},
        "summary": {"images": images or []},
        "reconciledAt": now(),
    }
    if phase is not None:
        status["operationState"] = {
            "phase": phase, "message": message or "successfully synced (all tasks run)", "startedAt": now(),
            **({"finishedAt": now()} if phase != "Running" else {}),
            "operation": {"sync": {"revision": op_revision or revision}, "initiatedBy": {"automated": True}},
            "syncResult": {"revision": op_revision or revision, "resources": [
                {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "dify-staging",
                 "name": "dify-api", "status": "Synced", "message": "deployment.apps/dify-api configured",
                 "hookPhase": "Running", "syncPhase": "Sync"},
                *(hooks or [])]},
        }
    return {"metadata": {"name": name, "namespace": "argocd", "resourceVersion": "1", "generation": 3},
            "spec": {"project": "dify", "source": {"repoURL": "https://github.com/acme/dify-gitops.git",
                                                   "path": "overlays/staging", "targetRevision": "main"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "dify-staging"}},
            "status": status}


def migration_hook(phase: str, message: str = "") -> dict[str, Any]:
    return {"group": "batch", "version": "v1", "kind": "Job", "namespace": "dify-staging", "name": "dify-migrate",
            "status": "Synced" if phase == "Succeeded" else "SyncFailed", "hookType": "PreSync", "hookPhase": phase,
            "syncPhase": "PreSync", "message": message or f"job {phase.lower()}"}


@dataclass
class Fault:
    status: int
    times: int = 1


@dataclass
class ArgoCdEmulator:
    token: str
    apps: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> successive states
    faults: list[Fault] = field(default_factory=list)
    records: list[tuple[int, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def set_app(self, name: str, *states: dict[str, Any]) -> None:
        """The states answered in turn; the last one stays."""
        self.apps[name] = list(states)

    def start(self) -> ArgoCdEmulator:
        self.server, self.url = jsonget.serve(self._answer)
        return self

    def stop(self) -> None:
        jsonget.stop(self.server)

    def _answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, Any]:
        parts = urlsplit(handler.path)
        self.requests.append({"path": parts.path, "query": parse_qs(parts.query)})
        status, body = self._route(handler, parts.path)
        self.records.append((status, body))
        return status, body

    def _route(self, handler: BaseHTTPRequestHandler, path: str) -> tuple[int, Any]:
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": "invalid session: token signature is invalid", "code": 16,
                         "message": "invalid session: token signature is invalid"}
        if self.faults:
            fault = self.faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self.faults.pop(0)
            return fault.status, {"error": "upstream unavailable", "code": 14, "message": "upstream unavailable"}
        name = unquote(path.removeprefix(PREFIX)) if path.startswith(PREFIX) else ""
        states = self.apps.get(name)
        if not states:
            return 404, {"error": f'applications.argoproj.io "{name}" not found', "code": 5,
                         "message": f'applications.argoproj.io "{name}" not found'}
        return 200, states.pop(0) if len(states) > 1 else states[0]

    def problems(self, schema: ArgoCdSchema) -> list[str]:
        return [f"{status}: {message}" for status, body in self.records for message in schema.errors(status, body)]
