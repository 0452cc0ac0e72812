"""Flux (the Kubernetes API): each Kustomization Ready=True with ``lastAppliedRevision`` at the
commit or after it, each HelmRelease Ready=True; both with their generation observed.

``lastAppliedRevision`` reads ``main@sha1:<hex>`` (Flux 2.x) or ``main/<hex>`` (older). A
HelmRelease v2 has no applied Git revision: it counts when Ready with its generation observed;
``lastAttemptedRevision`` and ``history`` are shown as evidence only. ``Stalled=True`` is final
(Flux itself gave up); ``Ready=False`` is Degraded (final after the grace).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from dify_action.text import display
from dify_action.verify.model import Observation, State, short_revision
from dify_action.verify.request import Flux
from dify_action.verify.sources.kube import KubeApi, condition, generation_observed

if TYPE_CHECKING:
    from dify_action.verify.expected import Expectations

NAME = "flux"
KUSTOMIZATIONS = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/{0}/kustomizations/{1}"
HELMRELEASES = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/{0}/helmreleases/{1}"
_SHA_RE = re.compile(r"(?:sha1:|/)?([0-9a-f]{40})$")


def git_revision(text: str | None) -> str | None:
    match = _SHA_RE.search(text or "")
    return match.group(1) if match else None


class FluxSource:
    name = NAME

    def __init__(self, config: Flux, api: KubeApi) -> None:
        self.config, self.api = config, api

    def close(self) -> None:
        self.api.close()

    def observe(self, expectations: Expectations) -> list[Observation]:
        out = []
        for namespace, name in self.config.kustomizations:
            subject = f"Kustomization {namespace}/{name}"
            obj, trouble = self.api.get(NAME, subject, KUSTOMIZATIONS.format(namespace, name))
            out.append(trouble or kustomization(subject, obj or {}, expectations))
        for namespace, name in self.config.helmreleases:
            subject = f"HelmRelease {namespace}/{name}"
            obj, trouble = self.api.get(NAME, subject, HELMRELEASES.format(namespace, name))
            out.append(trouble or helmrelease(subject, obj or {}))
        return out


def _not_ready(subject: str, obj: dict[str, Any], revision: str | None) -> Observation | None:
    stalled, ready = condition(obj, "Stalled"), condition(obj, "Ready")
    if stalled.get("status") == "True":
        return Observation(NAME, subject, State.FAILED, display(f"Stalled ({stalled.get('reason')}): "
                                                                f"{stalled.get('message') or ''}"), revision)
    if not generation_observed(obj):
        return Observation(NAME, subject, State.PENDING, "its latest generation is not observed yet", revision)
    if ready.get("status") == "False":
        return Observation(NAME, subject, State.DEGRADED, display(f"Ready=False ({ready.get('reason')}): "
                                                                  f"{ready.get('message') or ''}"), revision)
    if ready.get("status") != "True":
        return Observation(NAME, subject, State.PENDING, "reconciling (Ready is "
                           f"{ready.get('status') or 'not reported'})", revision)
    return None


def kustomization(subject: str, obj: dict[str, Any], expectations: Expectations) -> Observation:
    status = obj.get("status") or {}
    applied = git_revision(status.get("lastAppliedRevision"))
    attempted = git_revision(status.get("lastAttemptedRevision"))
    if attempted and attempted != applied and condition(obj, "Ready").get("status") == "False" \
            and expectations.relation(attempted) in ("same", "ahead"):
        ready = condition(obj, "Ready")  # the commit (or a later one) was tried and failed to apply
        return Observation(NAME, subject, State.DEGRADED, display(
            f"applying {short_revision(attempted)} failed ({ready.get('reason')}): {ready.get('message') or ''}"),
            applied)
    trouble = _not_ready(subject, obj, applied)
    if trouble is not None:
        return trouble
    if applied is None:
        return Observation(NAME, subject, State.PENDING, "no applied revision yet")
    if expectations.at(applied) is None:
        return Observation(NAME, subject, State.PENDING, f"applied {short_revision(applied)}, not yet "
                           f"{short_revision(expectations.commit)} or a descendant", applied)
    return Observation(NAME, subject, State.OK, f"Ready, applied {short_revision(applied)}", applied)


def helmrelease(subject: str, obj: dict[str, Any]) -> Observation:
    trouble = _not_ready(subject, obj, None)
    if trouble is not None:
        return trouble
    status = obj.get("status") or {}
    history = status.get("history") or [{}]
    evidence = ", ".join(f"{k} {v}" for k, v in (("chart", history[0].get("chartVersion")),
                                                 ("app", history[0].get("appVersion")),
                                                 ("attempted", status.get("lastAttemptedRevision"))) if v)
    return Observation(NAME, subject, State.OK, "Ready, generation observed" + (f" ({display(evidence)})"
                                                                                if evidence else ""))
