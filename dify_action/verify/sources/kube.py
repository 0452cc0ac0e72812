"""The Kubernetes API as the flux and kubernetes sources read it: one GET of a JSON object.

Kubeconfig, contexts, tokens, client certificates and exec plugins are the official client's
business (``kubernetes.config``): nothing about them is hand-written here. Objects are read as
plain JSON (the generic ``call_api``) so both sources see exactly what the API server sent.
"""

from __future__ import annotations

import json
from typing import Any

import urllib3

from dify_action.errors import InputError
from dify_action.text import display
from dify_action.verify.model import Observation, State

TIMEOUT = 10.0


class KubeApi:
    def __init__(self, kubeconfig: str) -> None:
        try:
            from kubernetes import config
            from kubernetes.config.config_exception import ConfigException
        except ImportError:  # the slim action image and a bare `pip install dify-action` leave it out
            raise InputError("kubeconfig", kubeconfig, "the flux and kubernetes sources need the kubernetes "
                             "client: pip install 'dify-action[kubernetes]' (the default action image bundles "
                             "it, the slim one does not)") from None
        try:
            self.client = config.new_client_from_config(
                config_file=kubeconfig, persist_config=False)
        except (ConfigException, OSError, ValueError, TypeError) as error:
            raise InputError("kubeconfig", kubeconfig, f"a usable kubeconfig ({display(error)[:200]})") from None

    def close(self) -> None:
        self.client.close()

    def get(self, source: str, subject: str, path: str, query: dict[str, str] | None = None
            ) -> tuple[dict[str, Any] | None, Observation | None]:
        """(the object, None) or (None, the observation of what went wrong)."""
        from kubernetes.client.exceptions import ApiException

        try:
            response, status, _ = self.client.call_api(
                path, "GET", query_params=list((query or {}).items()), header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"], _preload_content=False, _request_timeout=TIMEOUT)
            data = response.data
        except ApiException as error:  # the client raises for every status outside 2xx
            if error.status:
                return None, _status(source, subject, int(error.status), _reason(error.body) or str(error.reason))
            return None, Observation(source, subject, State.PENDING, f"API server unreachable ({error.reason}); "
                                     "retrying")
        except (urllib3.exceptions.HTTPError, OSError) as error:
            return None, Observation(source, subject, State.PENDING, f"API server unreachable "
                                     f"({type(error).__name__}); retrying")
        if status != 200:
            return None, _status(source, subject, status, _reason(data))
        try:
            body = json.loads(data)
        except ValueError:
            return None, Observation(source, subject, State.PENDING, "the API server sent no JSON; retrying")
        return (body if isinstance(body, dict) else {}), None


def _reason(data: bytes | None) -> str:
    try:
        body = json.loads(data or b"{}")
    except ValueError:
        return ""
    return str(body.get("message") or body.get("reason") or "") if isinstance(body, dict) else ""


def _status(source: str, subject: str, status: int, reason: str) -> Observation:
    reason = display(reason)[:300]
    if status in (401, 403):
        return Observation(source, subject, State.FAILED,
                           f"{status}: the kubeconfig's credential was refused ({reason})")
    if status == 404:
        return Observation(source, subject, State.FAILED, f"not found (404): check its namespace and name ({reason})")
    if status >= 500 or status == 429:
        return Observation(source, subject, State.PENDING, f"the API server answered {status} ({reason}); retrying")
    return Observation(source, subject, State.FAILED, f"the API server answered {status} ({reason})")


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in (obj.get("status") or {}).get("conditions") or () if c.get("type") == kind), {})


def generation_observed(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    return generation is None or (status.get("observedGeneration") or 0) >= generation
