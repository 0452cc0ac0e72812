"""The stages as typed calls into the core: each takes the resolved plan (and what earlier stages
returned) and gives back the core's own frozen result. ``Stages`` is what the pipeline calls;
``CoreStages`` runs the real engine, registry, scanners and git."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dify_action.pipeline.model import Built

if TYPE_CHECKING:  # types only: each stage loads its own code when it runs (a bump loads no other stage)
    from dify_action.build.component import BuildResult, BuildSpec
    from dify_action.bump import BumpPlan, Target
    from dify_action.delivery import DeliveryResult
    from dify_action.engine.docker import DockerEngine
    from dify_action.promote.run import PromoteResult
    from dify_action.refs import ImageRef
    from dify_action.registry import Credentials, RegistryClient, RegistryFor
    from dify_action.releaseset import SetCheck
    from dify_action.resolve import GitOps, Plan
    from dify_action.rollback.run import RollbackResult
    from dify_action.scan.policy import ScanReport
    from dify_action.smoke.run import SmokeResult
    from dify_action.verify import VerifyRequest, VerifyResult

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


class Stages(Protocol):
    def build(self, plan: Plan, progress: Callable[[str], None]) -> tuple[Built, ...]: ...

    def smoke(self, plan: Plan, image: str, component: str) -> SmokeResult: ...

    def scan(self, plan: Plan, image: str | None, component: str | None) -> ScanReport: ...

    def record(self, plan: Plan, image: str, digest: str, results: Mapping[str, str]) -> None: ...

    def release_set(self, plan: Plan, gitops: GitOps, targets: Sequence[Target]) -> SetCheck: ...

    def bump(self, plan: Plan, gitops: GitOps, targets: Sequence[Target],
             planned: BumpPlan | None = None) -> BumpPlan | DeliveryResult: ...

    def promote(self, plan: Plan) -> PromoteResult: ...

    def rollback(self, plan: Plan) -> RollbackResult: ...

    def verify(self, request: VerifyRequest, credentials: Credentials | None,
               progress: Callable[[str], None]) -> VerifyResult: ...


def registry_for(plan: Plan) -> RegistryFor:
    """Registry clients per host with the run's credentials."""
    from dify_action.registry import clients_for

    return clients_for(plan.credentials)


def advisory_registry(plan: Plan) -> RegistryFor:
    """Clients for reads whose failure only makes a fact unknown (the Dify version of a deployed image,
    issue 21): one attempt, short limits, so an unreachable registry costs a bump seconds, not minutes."""
    made: list[RegistryFor] = []

    def client(host: str) -> RegistryClient:  # made on first use: a bump that reads no version loads no client
        if not made:
            from dify_action.registry import clients_for
            from dify_action.retry import RetryPolicy

            made.append(clients_for(plan.credentials, retry=RetryPolicy(attempts=1), timeout=10.0, deadline=20.0))
        return made[0](host)

    return client


class CoreStages:
    """The real stages. ``tool_environ`` is the environment the scanners run with (built by the front
    end, minimal); the core itself reads no environment."""

    def __init__(self, tool_environ: Mapping[str, str]) -> None:
        self.tool_environ = dict(tool_environ)

    def _engine(self, plan: Plan) -> DockerEngine:
        from dify_action.engine.docker import DockerEngine

        return DockerEngine(plan.docker_host or DEFAULT_DOCKER_HOST)

    def build(self, plan: Plan, progress: Callable[[str], None]) -> tuple[Built, ...]:
        """Build (and push) every component; for each pushed digest, record the image's Dify facts
        (its Alembic graph, DSL version) and attach its SBOMs, so promote and rollback read them from
        the registry without pulling a layer."""
        from dify_action.build.component import build_component
        from dify_action.build.platforms import is_multi

        assert plan.build is not None
        engine = self._engine(plan)
        built = []
        try:
            for spec in plan.build.specs:
                if is_multi(spec, plan.build.by_digest):  # issue 20: several platforms / a matrix job
                    built.append(self._platforms(plan, engine, spec, progress))
                    continue
                result = build_component(spec, engine, plan.credentials, push=plan.build.push,
                                         builder=plan.build.builder, meta=plan.build.meta, progress=progress)
                built.append(self._describe(plan, engine, spec.repository, result) if result.digest
                             else Built(result))
        finally:
            engine.close()
        return tuple(built)

    def _platforms(self, plan: Plan, engine: DockerEngine, spec: BuildSpec, progress: Callable[[str], None]) -> Built:
        """Issue 20: every platform pushed by digest with its provenance, facts and SBOMs, then the index."""
        import dataclasses

        from dify_action.build.platforms import build_platforms

        assert plan.build is not None
        result = build_platforms(spec, engine, plan.credentials, push=plan.build.push, by_digest=plan.build.by_digest,
                                 builder=plan.build.builder, meta=plan.build.meta, progress=progress,
                                 who=plan.build.provenance)
        described = [self._describe(plan, engine, spec.repository, dataclasses.replace(
            result, image_id=p.image_id, digest=p.digest)) for p in result.platforms if p.digest]
        if not described:
            return Built(result)
        return Built(result, described[0].facts, tuple(s for d in described for s in d.sboms),
                     tuple(dict.fromkeys(n for d in described for n in d.notes)))

    def _describe(self, plan: Plan, engine: DockerEngine, repository: ImageRef, result: BuildResult) -> Built:
        from dify_action.dify.registryfacts import record_build_facts
        from dify_action.scan.sbom import attach_sboms, make_sboms
        from dify_action.scan.tools import Tools

        assert result.digest is not None
        client = registry_for(plan)(repository.registry)
        facts, _ = record_build_facts(engine.client, result.image_id, client, repository.remote_path, result.digest)
        tools = Tools.discover(self.tool_environ)
        if tools.trivy is None:
            return Built(result, facts, (), ("no SBOM attached: Trivy is not installed (the default action image "
                                             "bundles it)",))
        sboms = make_sboms(tools, image=result.image_id, docker_host=plan.docker_host)
        return Built(result, facts, attach_sboms(client, repository.remote_path, result.digest, sboms))

    def smoke(self, plan: Plan, image: str, component: str) -> SmokeResult:
        from dify_action.smoke.run import run_smoke

        engine = self._engine(plan)
        try:
            # a fresh job's engine lacks the image: it is pulled with the run's credentials
            return run_smoke(engine.client, image, plan.smoke[component], run_id=plan.smoke_run_id,
                             credentials=plan.credentials)
        finally:
            engine.close()

    def scan(self, plan: Plan, image: str | None, component: str | None) -> ScanReport:
        """Scan ``image`` and the Dockerfiles of ``component`` (None: every Dockerfile of the plan)."""
        from dify_action.scan import sarif
        from dify_action.scan.tools import ScanRequest, Tools, run_scan

        assert plan.scan is not None
        files = plan.scan.dockerfiles
        chosen = files.get(component, ()) if component is not None else tuple(p for ps in files.values() for p in ps)
        dockerfiles = tuple(dict.fromkeys(_relative(p) for p in chosen))
        request = ScanRequest(image=image, image_archive=plan.scan.image_archive, dockerfiles=dockerfiles,
                              trivy_reports=plan.scan.trivy_reports, docker_host=plan.docker_host,
                              offline=plan.scan.offline, credentials=plan.credentials,
                              trivy_db=plan.scan.trivy_db)  # issue 20
        today = plan.scan.today or dt.datetime.now(dt.UTC).date()
        report = run_scan(request, plan.scan.policy, Tools.discover(self.tool_environ), today=today)
        if plan.scan.sarif_file:
            log = sarif.to_sarif(report, artifact_uri=str(dockerfiles[0]) if dockerfiles else "Dockerfile")
            Path(plan.scan.sarif_file).write_text(json.dumps(log, indent=2) + "\n", encoding="utf-8")
        return report

    def record(self, plan: Plan, image: str, digest: str, results: Mapping[str, str]) -> None:
        from dify_action import refs
        from dify_action.registry.gates import record_gates

        ref = refs.parse_repository(image, input_name="image")
        record_gates(registry_for(plan)(ref.registry), ref.remote_path, digest, results)

    def bump(self, plan: Plan, gitops: GitOps, targets: Sequence[Target],
             planned: BumpPlan | None = None) -> BumpPlan | DeliveryResult:
        """One change for every target: a local plan (written unless dry-run; ``planned``: the release-set
        check's plan of these targets on this tree, not made twice) or a delivery whose PR body lists the
        migrations the change runs (read from the images in the registry)."""
        import dataclasses

        from dify_action.bump import apply_plan, plan_bump

        if gitops.delivery is not None and gitops.dry_run:  # the diff on a clone, as promote and rollback do
            from dify_action.delivery import Git
            from dify_action.delivery.git import workspace

            dest = gitops.delivery.destination
            with workspace("bump") as root:
                git = Git(dest.repo_url, root, dest.token, base_env=dest.environ)
                git.clone(dest.base, gitops.paths)
                return plan_bump(git.workdir, list(targets), gitops.paths)
        if gitops.delivery is not None:  # PyGithub, requests: loaded only for a delivery
            from dify_action.delivery import deliver
            from dify_action.dify.registryfacts import forward_sections

            sections = forward_sections(registry_for(plan), targets, gitops.paths)
            return deliver(dataclasses.replace(gitops.delivery, targets=tuple(targets), sections=sections,
                                               precheck=self._precheck(plan, gitops, targets)))
        assert gitops.directory is not None
        planned = planned or plan_bump(gitops.directory, list(targets), gitops.paths)
        if not gitops.dry_run:
            apply_plan(planned)
        return planned

    # -- issue 21: the Dify release set ---------------------------------------------------------
    def release_set(self, plan: Plan, gitops: GitOps, targets: Sequence[Target]) -> SetCheck:
        """The set check of a bump before any side effect (SetRefused unless allowed); its targets are
        ``targets`` plus the release's (``dify-release``, ``dify.release`` or the built api's version)."""
        import dataclasses

        from dify_action.releaseset import hooks

        versions = hooks.registry_versions(advisory_registry(plan), plan.dify_set, targets)
        if gitops.directory is not None:
            return hooks.check_tree(gitops.directory, gitops.paths, targets, plan.dify_set, versions,
                                    gitops.environment, reuse=True)
        assert gitops.delivery is not None  # the check's clone is gone: its plan is no plan of the delivery's
        return dataclasses.replace(hooks.check_remote(gitops.delivery, targets, plan.dify_set, versions), plan=None)

    def _precheck(self, plan: Plan, gitops: GitOps, targets: Sequence[Target]) -> Callable[[Path, BumpPlan], list[str]]:
        from dify_action.releaseset import hooks

        versions = hooks.registry_versions(advisory_registry(plan), plan.dify_set, targets)
        return hooks.precheck(targets, gitops.paths, plan.dify_set, versions, gitops.environment)

    def promote(self, plan: Plan) -> PromoteResult:
        from dify_action.promote.run import promote

        assert plan.promote is not None
        return promote(plan.promote, registry_for(plan))

    def rollback(self, plan: Plan) -> RollbackResult:
        from dify_action.rollback.run import rollback

        assert plan.rollback is not None
        return rollback(plan.rollback, registry_for(plan))

    def verify(self, request: VerifyRequest, credentials: Credentials | None,
               progress: Callable[[str], None]) -> VerifyResult:
        """Prove what the environment runs (dify_action/verify, issue 18); its own typed request."""
        from dify_action.registry import clients_for
        from dify_action.verify import verify

        return verify(request, clients_for(credentials), progress=progress)


def _relative(path: Path) -> Path:
    """Repository-relative when under the working directory (SARIF wants relative URIs)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path
