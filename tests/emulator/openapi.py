"""Validate emulator responses against GitHub's official OpenAPI description (npm @octokit/openapi).

The description is OpenAPI 3.0: ``nullable: true`` is turned into JSON Schema (a ``null`` type) and
every local ``$ref`` points into one registry resource, so jsonschema resolves them lazily.
Validators are compiled once per (method, route, status). Statuses GitHub sends everywhere but
does not document per operation (rate limits, 5xx) are checked against ``basic-error``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

NODE_MODULES_ENV = "OCTOKIT_NODE_MODULES"
DEFAULT_NODE_MODULES = "/opt/octokit/node_modules"
SPEC_URI = "urn:github-openapi"


def spec_path() -> Path:
    root = Path(os.environ.get(NODE_MODULES_ENV, DEFAULT_NODE_MODULES))
    return root / "@octokit" / "openapi" / "generated" / "api.github.com.json"


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _convert(value) for key, value in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        out["$ref"] = SPEC_URI + ref
    if out.pop("nullable", False) is True:
        if isinstance(out.get("type"), str) and "$ref" not in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [out, {"type": "null"}]}
    return out


class OpenApiValidator:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or spec_path()
        raw = json.loads(self.path.read_text())
        self.spec: dict[str, Any] = _convert({"paths": raw["paths"], "components": raw["components"]})
        resource = Resource.from_contents(self.spec, default_specification=DRAFT4)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self._cache: dict[tuple[str, str, int], Draft4Validator | None] = {}

    def _deref(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            pointer = node["$ref"].removeprefix(SPEC_URI + "#/").split("/")
            target: Any = self.spec
            for part in pointer:
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def validator(self, method: str, template: str, status: int) -> Draft4Validator | None:
        key = (method, template, status)
        if key not in self._cache:
            operation = self.spec["paths"].get(template, {}).get(method.lower())
            if operation is None:
                raise KeyError(f"{method} {template} is not an operation of GitHub's REST API")
            response = operation["responses"].get(str(status))
            schema: dict[str, Any] | None
            if response is None:
                schema = None if status < 400 else {"$ref": SPEC_URI + "#/components/schemas/basic-error"}
                if status < 400:
                    raise KeyError(f"{method} {template} does not document status {status}")
            else:
                content = self._deref(response).get("content") or {}
                media = content.get("application/json") or next(iter(content.values()), None)
                schema = media.get("schema") if media else None
                if schema is None and status >= 400:
                    schema = {"$ref": SPEC_URI + "#/components/schemas/basic-error"}
            self._cache[key] = Draft4Validator(schema, registry=self.registry) if schema else None
        return self._cache[key]

    def errors(self, method: str, template: str, status: int, body: Any) -> list[str]:
        """Schema violations of one response (empty when it conforms)."""
        try:
            validator = self.validator(method, template, status)
        except KeyError as error:
            return [str(error)]
        if validator is None:
            return [] if body is None else [f"{method} {template} {status} documents no body but one was sent"]
        # GitHub's error responses are often oneOf two schemas without required fields (basic-error,
        # repository-rule-violation-error...): a body valid under both is what GitHub sends, not an error.
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}"
            for e in validator.iter_errors(body)
            if not (e.validator == "oneOf" and "is valid under each of" in e.message)
        ]
