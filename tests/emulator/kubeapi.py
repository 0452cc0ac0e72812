"""A Kubernetes API server emulator on 127.0.0.1 for verify's flux and kubernetes sources.

Serves GET of objects put with ``put`` (Flux Kustomizations and HelmReleases, apps/v1 workloads) and
pod lists filtered by ``labelSelector``; bearer-token auth, queued faults, ``kubeconfig()`` writes the
file the official client reads. Every object sent is validated at ``problems()``: Flux objects
against the CRDs' own ``openAPIV3Schema`` (../shared/specs), Kubernetes objects against the schemas
``kubernetes-validate`` ships (strict: no unknown field).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate
import yaml
from jsonschema import Draft7Validator

from . import jsonget
from .argocd import spec_path

K8S_VERSION = "1.33"
CRDS = {"kustomize.toolkit.fluxcd.io/v1": "flux-kustomizations-crd.yaml",
        "helm.toolkit.fluxcd.io/v2": "flux-helmreleases-crd.yaml"}


def _strict(node: Any) -> Any:
    """The API server prunes unknown fields of a structural schema; a test object must not have any:
    every object schema with ``properties`` admits no other key (unless it preserves unknown ones)."""
    if isinstance(node, list):
        return [_strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items()}
    if isinstance(out.get("properties"), dict) and "additionalProperties" not in out \
            and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def crd_schema(api_version: str) -> dict[str, Any]:
    crd = yaml.safe_load(spec_path(CRDS[api_version]).read_text())
    version = api_version.rpartition("/")[2]
    schema = next(v["schema"]["openAPIV3Schema"] for v in crd["spec"]["versions"] if v["name"] == version)
    return _strict(schema)  # type: ignore[no-any-return]


def validate(obj: dict[str, Any]) -> list[str]:
    api_version = obj.get("apiVersion", "")
    if api_version in CRDS:
        return [f"{obj['kind']} {'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in Draft7Validator(crd_schema(api_version)).iter_errors(obj)]
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{obj.get('kind')}: {str(error).splitlines()[0]}"]
    return []


@dataclass
class KubeApiEmulator:
    token: str
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # path -> successive states
    pods: dict[str, list[list[dict[str, Any]]]] = field(default_factory=dict)  # namespace -> successive lists
    faults: list[int] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    def put(self, path: str, *states: dict[str, Any]) -> None:
        self.objects[path] = list(states)

    def put_pods(self, namespace: str, *lists: list[dict[str, Any]]) -> None:
        self.pods[namespace] = list(lists)

    def start(self) -> KubeApiEmulator:
        self.server, self.url = jsonget.serve(self._route)
        return self

    def stop(self) -> None:
        jsonget.stop(self.server)

    def kubeconfig(self, path: Path, token: str | None = None) -> Path:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": self.url}}],
            "users": [{"name": "test", "user": {"token": token or self.token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}]}))
        return path

    @staticmethod
    def _status(code: int, reason: str, message: str) -> dict[str, Any]:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                "reason": reason, "code": code}

    def _route(self, handler: BaseHTTPRequestHandler) -> tuple[int, Any]:
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, self._status(401, "Unauthorized", "Unauthorized")
        if self.faults:
            code = self.faults.pop(0)
            return code, self._status(code, "InternalError", "etcdserver: request timed out")
        parts = urlsplit(handler.path)
        if parts.path.startswith("/api/v1/namespaces/") and parts.path.endswith("/pods"):
            namespace = parts.path.split("/")[4]
            lists = self.pods.get(namespace) or [[]]
            items = lists.pop(0) if len(lists) > 1 else lists[0]
            wanted = dict(item.split("=", 1) for item in
                          (parse_qs(parts.query).get("labelSelector") or [""])[0].split(",") if "=" in item)
            chosen = [p for p in items if wanted.items() <= (p["metadata"].get("labels") or {}).items()]
            body = {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "7"}, "items": chosen}
            self.sent += chosen
            return 200, body
        states = self.objects.get(parts.path)
        if not states:
            return 404, self._status(404, "NotFound", f"{parts.path.rpartition('/')[2]} not found")
        obj = states.pop(0) if len(states) > 1 else states[0]
        self.sent.append(obj)
        return 200, obj

    def problems(self) -> list[str]:
        out: list[str] = []
        for obj in self.sent:
            if obj.get("kind") == "Pod":
                obj = {"apiVersion": "v1", **obj}
            out += validate(obj)
        return out
