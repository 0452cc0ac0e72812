"""``verify``: does environment E run exactly what its GitOps branch declares at commit C, healthy?

Order: build the sources (bad configuration or credentials stop here, exit 2, nothing contacted),
clone the branch with history and resolve C (a commit not in it: exit 2), read the expected state,
wait for a verdict, record it next to each digest, and on a definite failure with
``on-failure: rollback`` open the revert through the rollback stage, migration guard included
(a refusal is reported, never forced).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from dify_action.errors import DifyActionError, GateFailed, RegistryError
from dify_action.registry import RegistryFor
from dify_action.verify.expected import Expectations, History, open_history, read_state
from dify_action.verify.model import ExpectedState, Verdict, VerifyResult, short_revision
from dify_action.verify.record import Verification, now_text, record_verification
from dify_action.verify.request import VerifyRequest
from dify_action.verify.sources import Source
from dify_action.verify.wait import Clock, wait


def build_sources(request: VerifyRequest) -> list[Source]:
    """One adapter per configured source, in an order where revision sources come first (they may
    move the expected state forward for the others in the same round)."""
    from dify_action.verify.sources.argocd import ArgoCdSource
    from dify_action.verify.sources.dify import DifySource
    from dify_action.verify.sources.docker import DockerSource

    sources: list[Source] = []
    if request.argocd is not None:
        sources.append(ArgoCdSource(request.argocd))
    if request.flux is not None or request.kubernetes is not None:
        from dify_action.verify.sources.flux import FluxSource
        from dify_action.verify.sources.kube import KubeApi
        from dify_action.verify.sources.kubernetes import KubernetesSource

        assert request.kubeconfig is not None
        if request.flux is not None:
            sources.append(FluxSource(request.flux, KubeApi(request.kubeconfig)))
        if request.kubernetes is not None:
            sources.append(KubernetesSource(request.kubernetes, KubeApi(request.kubeconfig)))
    if request.docker_project:
        sources.append(DockerSource(request.docker_project, request.docker_host or "unix:///var/run/docker.sock"))
    if request.dify_url:
        sources.append(DifySource(request.dify_url, request.dify_checks))
    return sources


def verify(request: VerifyRequest, registry_for: RegistryFor, *, sources: Sequence[Source] | None = None,
           clock: Clock | None = None, progress: Callable[[str], None] = lambda line: None,
           wall: Callable[[], float] = time.time) -> VerifyResult:
    """Verify ``request.environment``; see the module doc. The result's verdict says verified,
    failed or timeout; the front end maps it to exit 0 or 1."""
    live = list(sources) if sources is not None else build_sources(request)
    try:
        with open_history(request) as history:
            commit = history.resolve(request.commit)
            expectations = Expectations(history, commit, lambda rev: read_state(history, rev, request, registry_for))
            progress(f"expecting {request.environment} at {short_revision(commit)}: " + ", ".join(
                f"{i.ref.name}:{i.ref.tag} @ {i.digest[:19]}" + (f" (Dify {i.dify_version})" if i.dify_version else "")
                for i in expectations.base.images))
            verdict = wait(live, expectations, request.timing, clock=clock, progress=progress)
            merged = _commit_time(history, expectations.current.revision)
    finally:
        for source in live:
            source.close()
    expected = expectations.current
    to_healthy = None
    if verdict.healthy_at is not None and merged is not None:
        to_healthy = round(wall() - (verdict.decided_at - verdict.healthy_at) - merged, 1)
    names = tuple(s.name for s in live)
    recorded = _record(request, registry_for, commit, expected, verdict, names, to_healthy) \
        if verdict.status != "timeout" else ()
    result = VerifyResult(request.environment, commit, expected, verdict, names, recorded,
                          notes=tuple(expectations.notes), merge_to_healthy=to_healthy)
    if verdict.status == "failed" and request.on_failure == "rollback":
        return _rollback(request, registry_for, result)
    return result


def _commit_time(history: History, revision: str) -> float | None:
    proc = history.git.run("show", "-s", "--format=%ct", revision, check=False)
    return float(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip().isdigit() else None


def _record(request: VerifyRequest, registry_for: RegistryFor, commit: str, expected: ExpectedState,
            verdict: Verdict, sources: tuple[str, ...], to_healthy: float | None) -> tuple[str, ...]:
    entry = Verification(request.environment, "passed" if verdict.verified else "failed", commit, expected.revision,
                         now_text(), sources, request.timing.soak, to_healthy)
    done = []
    for image in expected.images:
        try:
            record_verification(registry_for(image.ref.registry), image.ref.remote_path, image.digest, entry)
        except RegistryError as error:
            raise RegistryError(
                f"{request.environment} {verdict.status} at {short_revision(expected.revision)}, but the verdict could "
                f"not be recorded for {image.ref.name}@{image.digest[:19]}: {error.message}",
                hint="verify needs push access to the image repositories (registry-username and password)") from None
        done.append(f"{image.ref.name}@{image.digest}")
    return tuple(done)


def _rollback(request: VerifyRequest, registry_for: RegistryFor, result: VerifyResult) -> VerifyResult:
    """Open the revert of the environment's last bump through the rollback stage."""
    import dataclasses

    from dify_action.delivery.destination import Destination
    from dify_action.rollback.run import RollbackRequest, rollback

    assert request.repo_url is not None
    destination = Destination(request.repo_url, base=request.base, provider=request.provider, push_mode="branch",
                              token=request.gitops_token, github_api_url=request.github_api_url,
                              github_repo=request.github_repo, labels=request.labels, environ=request.environ)
    rollback_request = RollbackRequest(destination, environment=request.environment, paths=request.paths)
    try:
        done = rollback(rollback_request, registry_for)
    except GateFailed as refused:  # the migration guard: reported, never forced
        why = f"rollback refused by the migration guard: {refused.message}"
        return dataclasses.replace(result, rollback_refused=why)
    except DifyActionError as error:
        return dataclasses.replace(result, rollback_refused=f"rollback failed: {error.message}")
    return dataclasses.replace(result, rollback=done.as_dict())
