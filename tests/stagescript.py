"""Stages that answer like the core and record every call: the pipeline's and the front ends' tests
run the real resolver, pipeline and renderer on top of them, with no engine, registry or git."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dify_action import refs
from dify_action.build.component import BuildResult
from dify_action.bump import BumpPlan, Change, Target
from dify_action.config.load import ScanPolicy
from dify_action.delivery import DeliveryResult
from dify_action.pipeline.model import Built
from dify_action.promote.run import PromoteResult, Promotion
from dify_action.releaseset import ReleaseSet, SetCheck, SetReport
from dify_action.resolve import GitOps, Plan
from dify_action.rollback.guard import ImageMove
from dify_action.rollback.run import RollbackResult
from dify_action.scan.policy import FAIL, Finding, ScanReport, Verdict
from dify_action.smoke.run import Check, SmokeResult

API, WEB = "registry.example/acme/dify-api", "registry.example/acme/dify-web"
DIGEST = "sha256:" + "d" * 64
CONFIG = """version: 1
components:
  - {name: api, image: registry.example/acme/dify-api, dockerfile: api/Dockerfile, context: api}
  - {name: web, image: registry.example/acme/dify-web, dockerfile: web/Dockerfile, context: web}
tags: {rules: ["type=raw,value=1.13.3-acme.7"]}
registry: {username: ci}
environments:
  staging: {repository: "file://GITOPS", paths: [staging], provider: git}
"""


def _built(name: str, image: str) -> BuildResult:
    return BuildResult(name, image, ("latest", "1.13.3-acme.7"), "sha256:" + "1" * 64, DIGEST, 123_400_000, None,
                       {}, "legacy", True, 1.0)


class Script:
    """Stages that answer like the core, and record every call."""

    def __init__(self, *, smoke_ok: bool = True, scan_ok: bool = True) -> None:
        self.smoke_ok, self.scan_ok = smoke_ok, scan_ok
        self.calls: list[tuple[object, ...]] = []

    def build(self, plan: Plan, progress: object) -> tuple[Built, ...]:
        self.calls.append(("build", tuple(s.name for s in plan.build.specs) if plan.build else ()))
        return tuple(Built(_built(s.name, s.repository.name)) for s in plan.build.specs) if plan.build else ()

    def smoke(self, plan: Plan, image: str, component: str) -> SmokeResult:
        self.calls.append(("test", image, component))
        return SmokeResult(image, "c1", "r1", (Check("running", self.smoke_ok, 0.1),))

    def scan(self, plan: Plan, image: str | None, component: str | None) -> ScanReport:
        self.calls.append(("scan", image, component))
        finding = Finding("secret", "aws-key", "CRITICAL", "a key", "trivy", "/app/key")
        return ScanReport(ScanPolicy(), () if self.scan_ok else (Verdict(finding, FAIL),), ran=("a scripted scan",))

    def record(self, plan: Plan, image: str, digest: str, results: Mapping[str, str]) -> None:
        self.calls.append(("gates", image, digest, dict(results)))

    def release_set(self, plan: Plan, gitops: GitOps, targets: Sequence[Target]) -> SetCheck:
        """No Dify set in these scripted trees (the set's own tests: tests/unit/releaseset)."""
        return SetCheck(tuple(targets), SetReport(ReleaseSet(()), ReleaseSet(())))

    def bump(self, plan: Plan, gitops: GitOps, targets: Sequence[Target],
             planned: BumpPlan | None = None) -> BumpPlan | DeliveryResult:
        self.calls.append(("bump", tuple(f"{t.image.name}:{t.tag}@{t.digest}" for t in targets)))
        changes = tuple(Change(f"staging/{t.image.path.rsplit('/', 1)[-1]}.yaml", 3, f"{t.image.name}:1",
                                        f"{t.image.name}:{t.tag}", "image", t.image.name) for t in targets)
        return DeliveryResult("created", "git", "branch", "main", "dify-action/staging/dify-api+dify-web", "c0ffee",
                              4, "https://gh.example/acme/gitops/pull/4", changes)

    def promote(self, plan: Plan) -> PromoteResult:
        self.calls.append(("promote",))
        assert plan.promote is not None
        change = Change("production/dify-api.yaml", 3, f"{API}:1", f"{API}:2@{DIGEST}", "image", API)
        delivery = DeliveryResult("pushed", "git", "branch", "main", "dify-action/production/dify-api", "f00d",
                                  changes=(change,))
        promotion = Promotion(refs.parse(f"{API}:2"), DIGEST, refs.parse(f"{API}:1"))
        return PromoteResult("pushed", plan.promote.source, plan.promote.target, (promotion,), delivery)

    def rollback(self, plan: Plan) -> RollbackResult:
        self.calls.append(("rollback",))
        move = ImageMove("prod/api.yaml", 7, "image", refs.parse(f"{API}:2"), refs.parse(f"{API}:1"))
        return RollbackResult("created", "revert", "production", "abc1234", 4, "dify-action/rollback", "beef", 5,
                              "https://gh.example/acme/gitops/pull/5", (move,))
