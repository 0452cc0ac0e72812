"""verify's flux and kubernetes sources through the official client against the Kubernetes API
emulator: Flux objects validated against the Flux CRDs (../shared/specs), workloads and pods against
the schemas kubernetes-validate ships."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator.history import API, DIGESTS, commit_line, expectations, image
from emulator.kubeapi import KubeApiEmulator

from dify_action.verify.model import Timing, Verdict
from dify_action.verify.request import Flux, Kubernetes
from dify_action.verify.sources import Source
from dify_action.verify.sources.flux import HELMRELEASES, KUSTOMIZATIONS, FluxSource
from dify_action.verify.sources.kube import KubeApi
from dify_action.verify.sources.kubernetes import KubernetesSource
from dify_action.verify.wait import wait

FAST = Timing(timeout=3.0, degraded_grace=0.3, interval=0.02)
DEPLOYMENT = "/apis/apps/v1/namespaces/dify/deployments/dify-api"


@pytest.fixture
def kube() -> Iterator[KubeApiEmulator]:
    em = KubeApiEmulator("kube-" + secrets.token_hex(8)).start()
    try:
        yield em
    finally:
        em.stop()
    problems = em.problems()
    assert not problems, "objects that do not match their schemas:\n" + "\n".join(problems[:20])


def kustomization(applied: str | None, ready: str = "True", *, generation: int = 2, observed: int = 2,
                  attempted: str | None = None, reason: str = "ReconciliationSucceeded", message: str = "") -> dict:
    status: dict[str, Any] = {"observedGeneration": observed, "conditions": [{
        "type": "Ready", "status": ready, "reason": reason, "message": message or f"Applied revision: {applied}",
        "lastTransitionTime": "2026-12-07T09:00:00Z"}]}
    if applied:
        status["lastAppliedRevision"] = f"main@sha1:{applied}"
    status["lastAttemptedRevision"] = f"main@sha1:{attempted or applied}" if (attempted or applied) else ""
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "dify", "namespace": "flux-system", "generation": generation},
            "spec": {"interval": "5m", "path": "./overlays/staging", "prune": True,
                     "sourceRef": {"kind": "GitRepository", "name": "dify-gitops"}}, "status": status}


def helmrelease(ready: str = "True", stalled: bool = False) -> dict:
    conditions = [{"type": "Ready", "status": ready, "reason": "InstallSucceeded" if ready == "True" else
                   "UpgradeFailed", "message": "Helm upgrade succeeded" if ready == "True" else "timed out",
                   "lastTransitionTime": "2026-12-07T09:00:00Z"}]
    if stalled:
        conditions.append({"type": "Stalled", "status": "True", "reason": "RetriesExceeded",
                           "message": "Failed to upgrade after 3 attempt(s)",
                           "lastTransitionTime": "2026-12-07T09:00:00Z"})
    return {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "dify", "namespace": "dify", "generation": 1},
            "spec": {"interval": "5m", "chart": {"spec": {"chart": "dify", "sourceRef": {
                "kind": "HelmRepository", "name": "dify"}}}},
            "status": {"observedGeneration": 1, "conditions": conditions, "lastAttemptedRevision": "0.5.2",
                       "history": [{"chartName": "dify", "chartVersion": "0.5.2", "appVersion": "1.13.3",
                                    "name": "dify", "namespace": "dify", "version": 3, "status": "deployed",
                                    "digest": "sha256:" + "e" * 64, "configDigest": "sha256:" + "f" * 64,
                                    "firstDeployed": "2026-12-01T09:00:00Z", "lastDeployed": "2026-12-07T09:00:00Z"}]}}


def deployment(image_ref: str, *, replicas: int = 2, updated: int = 2, ready: int = 2, generation: int = 4,
               observed: int = 4) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "dify-api", "namespace": "dify", "generation": generation},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "dify-api"}},
                     "template": {"metadata": {"labels": {"app": "dify-api"}},
                                  "spec": {"containers": [{"name": "api", "image": image_ref}]}}},
            "status": {"observedGeneration": observed, "replicas": max(replicas, updated), "updatedReplicas": updated,
                       "readyReplicas": ready, "availableReplicas": ready}}


def pod(name: str, image_ref: str, image_id: str, ready: bool = True) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "dify", "labels": {"app": "dify-api"}},
            "spec": {"containers": [{"name": "api", "image": image_ref}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "api", "image": image_ref, "imageID": image_id, "ready": ready, "restartCount": 0,
                "started": ready, "state": {"running": {"startedAt": "2026-12-07T09:00:00Z"}}}]}}


NEW = f"{API}:1.13.3-acme.42@{DIGESTS['new']}"
NEW_ID = f"{API}@{DIGESTS['new']}"
OLD_ID = f"docker-pullable://{API}@{DIGESTS['old']}"


def run(tmp_path: Path, kube: KubeApiEmulator, commit: str, sources: list[Source],
        timing: Timing = FAST) -> tuple[Verdict, list[str]]:
    lines: list[str] = []
    found = expectations(tmp_path / "gitops", commit, {commit: (image("1.13.3-acme.42", DIGESTS["new"]),)})
    try:
        return wait(sources, found, timing, progress=lines.append), lines
    finally:
        for source in sources:
            source.close()


def flux(tmp_path: Path, kube: KubeApiEmulator, token: str | None = None, **entries: tuple) -> FluxSource:
    config = kube.kubeconfig(tmp_path / "kubeconfig", token)
    return FluxSource(Flux(entries.get("kustomizations", ()), entries.get("helmreleases", ())), KubeApi(str(config)))


def kubernetes(tmp_path: Path, kube: KubeApiEmulator) -> KubernetesSource:
    return KubernetesSource(Kubernetes("dify", (("deployment", "dify-api"),)),
                            KubeApi(str(kube.kubeconfig(tmp_path / "kubeconfig"))))


def test_flux_kustomization_catches_up_and_helmrelease_is_ready(tmp_path: Path, kube: KubeApiEmulator) -> None:
    line = commit_line(tmp_path / "gitops", 3)
    path = KUSTOMIZATIONS.format("flux-system", "dify")
    kube.put(path, kustomization(line[0]), kustomization(line[0], generation=3, observed=2), kustomization(line[1]))
    kube.put(HELMRELEASES.format("dify", "dify"), helmrelease())
    source = flux(tmp_path, kube, kustomizations=(("flux-system", "dify"),), helmreleases=(("dify", "dify"),))
    verdict, progress = run(tmp_path, kube, line[1], [source])
    assert verdict.status == "verified", verdict.cause
    assert any(f"applied {line[0][:12]}, not yet {line[1][:12]}" in p for p in progress), progress
    assert any("latest generation is not observed" in p for p in progress), progress
    assert "chart 0.5.2" in " ".join(o.detail for o in verdict.observations)


def test_flux_failed_apply_of_the_commit_is_degraded_then_fails(tmp_path: Path, kube: KubeApiEmulator) -> None:
    line = commit_line(tmp_path / "gitops", 2)
    kube.put(KUSTOMIZATIONS.format("flux-system", "dify"), kustomization(
        line[0], "False", attempted=line[1], reason="HealthCheckFailed",
        message="timeout waiting for: [Deployment/dify/dify-api status: 'InProgress']"))
    verdict, _ = run(tmp_path, kube, line[1], [flux(tmp_path, kube, kustomizations=(("flux-system", "dify"),))])
    assert verdict.status == "failed" and "HealthCheckFailed" in verdict.cause and line[1][:12] in verdict.cause


def test_flux_stalled_helmrelease_is_final(tmp_path: Path, kube: KubeApiEmulator) -> None:
    line = commit_line(tmp_path / "gitops", 1)
    kube.put(HELMRELEASES.format("dify", "dify"), helmrelease("False", stalled=True))
    verdict, _ = run(tmp_path, kube, line[0], [flux(tmp_path, kube, helmreleases=(("dify", "dify"),))])
    assert verdict.status == "failed" and verdict.rounds == 1 and "RetriesExceeded" in verdict.cause


def test_flux_wrong_token_and_missing_object(tmp_path: Path, kube: KubeApiEmulator) -> None:
    line = commit_line(tmp_path / "gitops", 1)
    verdict, _ = run(tmp_path, kube, line[0], [flux(tmp_path, kube, "nope", kustomizations=(("flux-system", "x"),))])
    assert verdict.status == "failed" and "401" in verdict.cause
    verdict, _ = run(tmp_path, kube, line[0], [flux(tmp_path, kube, kustomizations=(("flux-system", "gone"),))])
    assert verdict.status == "failed" and "not found (404)" in verdict.cause


def test_kubernetes_rollout_then_pods_run_the_digest(tmp_path: Path, kube: KubeApiEmulator) -> None:
    line = commit_line(tmp_path / "gitops", 1)
    kube.put(DEPLOYMENT, deployment(NEW, updated=1, ready=1), deployment(NEW))
    kube.put_pods("dify", [pod("api-1", NEW, NEW_ID), pod("api-0", NEW, OLD_ID), pod("api-2", NEW, NEW_ID)],
                  [pod("api-1", NEW, NEW_ID), pod("api-2", NEW, NEW_ID)])
    kube.faults.append(500)
    verdict, progress = run(tmp_path, kube, line[0], [kubernetes(tmp_path, kube)])
    assert verdict.status == "verified", verdict.cause
    assert any("rolling out" in p for p in progress) and any("answered 500" in p for p in progress), progress


def test_kubernetes_pod_running_another_digest_is_named(tmp_path: Path, kube: KubeApiEmulator) -> None:
    line = commit_line(tmp_path / "gitops", 1)
    kube.put(DEPLOYMENT, deployment(NEW))
    kube.put_pods("dify", [pod("api-1", NEW, NEW_ID), pod("api-2", NEW, OLD_ID)])
    verdict, _ = run(tmp_path, kube, line[0], [kubernetes(tmp_path, kube)])
    assert verdict.status == "failed" and verdict.rounds == 1
    assert "pod api-2 container api runs imageID sha256:bbbbbbbbbbbb, expected" in verdict.cause
    assert "sha256:aaaaaaaaaaaa" in verdict.cause


def test_kubernetes_drifted_spec_is_named(tmp_path: Path, kube: KubeApiEmulator) -> None:
    line = commit_line(tmp_path / "gitops", 1)
    drifted = f"{API}:1.13.3-acme.41"
    kube.put(DEPLOYMENT, deployment(drifted))
    kube.put_pods("dify", [pod("api-1", drifted, OLD_ID), pod("api-2", drifted, OLD_ID)])
    verdict, _ = run(tmp_path, kube, line[0], [kubernetes(tmp_path, kube)])
    assert verdict.status == "failed" and "drifted spec" in verdict.cause and drifted in verdict.cause
