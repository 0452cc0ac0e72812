"""Plain Kubernetes: the listed workloads rolled out (``kubectl rollout status`` semantics) and their
pods running the expected digests, read from ``status.containerStatuses[].imageID``: what really
runs, never what the spec asks for.

Rolled out: ``status.observedGeneration >= metadata.generation``; updated, ready and available
replicas equal ``spec.replicas`` (StatefulSet: and ``currentRevision == updateRevision``; DaemonSet:
updated/available/ready equal ``desiredNumberScheduled``); no more pods than replicas (an older
ReplicaSet's pod still terminating). While a rollout is in progress a difference is not a
failure yet. A spec that asks for another image than the GitOps files declare is named as drift
(Degraded: final after the grace, the GitOps controller may still be applying the change).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dify_action.text import display
from dify_action.verify.model import ExpectedState, Observation, State, short_digest
from dify_action.verify.request import Kubernetes
from dify_action.verify.sources import digest_of
from dify_action.verify.sources.kube import KubeApi, generation_observed

if TYPE_CHECKING:
    from dify_action.verify.expected import Expectations

NAME = "kubernetes"
PLURALS = {"deployment": "deployments", "statefulset": "statefulsets", "daemonset": "daemonsets"}


class KubernetesSource:
    name = NAME

    def __init__(self, config: Kubernetes, api: KubeApi) -> None:
        self.config, self.api = config, api

    def close(self) -> None:
        self.api.close()

    def observe(self, expectations: Expectations) -> list[Observation]:
        out = []
        namespace = self.config.namespace
        for kind, name in self.config.workloads:
            subject = f"{kind}/{name}"
            obj, trouble = self.api.get(NAME, subject, f"/apis/apps/v1/namespaces/{namespace}/{PLURALS[kind]}/{name}")
            if trouble is not None:
                out.append(trouble)
                continue
            assert obj is not None
            selector = ",".join(f"{k}={v}" for k, v in
                                sorted(((obj.get("spec") or {}).get("selector") or {}).get("matchLabels", {}).items()))
            pods, trouble = self.api.get(NAME, subject, f"/api/v1/namespaces/{namespace}/pods",
                                         {"labelSelector": selector})
            out.append(trouble or workload(kind, subject, obj, (pods or {}).get("items") or [], expectations.current))
        return out


def rollout(kind: str, obj: dict[str, Any]) -> str | None:
    """Why ``obj`` has not rolled out yet, or None when it has."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not generation_observed(obj):
        return "waiting for the controller to observe its latest generation"
    if kind == "daemonset":
        want = status.get("desiredNumberScheduled") or 0
        counts = {k: status.get(k) or 0 for k in ("updatedNumberScheduled", "numberAvailable", "numberReady")}
    else:
        want = spec.get("replicas", 1)
        counts = {k: status.get(k) or 0 for k in ("updatedReplicas", "readyReplicas", "availableReplicas")}
        if kind == "statefulset" and status.get("currentRevision") != status.get("updateRevision"):
            return f"revision {status.get('updateRevision')} rolling out (current {status.get('currentRevision')})"
    short = [f"{k} {v}/{want}" for k, v in counts.items() if v != want]
    return f"rolling out: {', '.join(short)}" if short else None


def _drift(obj: dict[str, Any], expected: ExpectedState) -> list[str]:
    template = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    out = []
    for container in (*(template.get("containers") or ()), *(template.get("initContainers") or ())):
        image = str(container.get("image") or "")
        want = expected.image_for(image)
        if want is None:
            continue
        digest = digest_of(image)
        tag = image.split("@")[0].rpartition("/")[2].partition(":")[2] or None
        if (digest and digest != want.digest) or (not digest and tag != want.ref.tag):
            out.append(f"container {container.get('name')} spec asks for {image}, the GitOps files declare "
                       f"{want.ref.name}:{want.ref.tag} @ {short_digest(want.digest)} (drifted spec)")
    return out


def workload(kind: str, subject: str, obj: dict[str, Any], pods: list[dict[str, Any]],
             expected: ExpectedState) -> Observation:
    drift = _drift(obj, expected)
    if drift:
        return Observation(NAME, subject, State.DEGRADED, display("; ".join(drift)))
    waiting = rollout(kind, obj)
    if waiting:
        return Observation(NAME, subject, State.PENDING, waiting)
    want = (obj.get("status") or {}).get("desiredNumberScheduled") if kind == "daemonset" else \
        (obj.get("spec") or {}).get("replicas", 1)
    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    if len(pods) > (want or 0):
        return Observation(NAME, subject, State.PENDING, f"{len(pods)} pods for {want} replicas: older pods still "
                           "terminating")
    wrong, unready = [], []
    for pod in live:
        name = (pod.get("metadata") or {}).get("name")
        for status in (pod.get("status") or {}).get("containerStatuses") or ():
            wanted = expected.image_for(str(status.get("image") or ""))
            if not status.get("ready"):
                unready.append(f"{name}/{status.get('name')}")
            if wanted is None:
                continue
            actual = digest_of(str(status.get("imageID") or ""))
            if actual != wanted.digest:
                wrong.append(f"pod {name} container {status.get('name')} runs imageID {short_digest(actual)}, "
                             f"expected {wanted.ref.name}:{wanted.ref.tag} @ {short_digest(wanted.digest)}")
    if unready:
        return Observation(NAME, subject, State.PENDING, f"containers not ready: {', '.join(unready)}")
    if wrong:
        return Observation(NAME, subject, State.MISMATCH, display("; ".join(wrong)))
    return Observation(NAME, subject, State.OK, f"rolled out, {len(live)} pod(s) run the expected digests")
