"""dify_action.pipeline.run over a resolved plan with scripted stages (the core's real result types): the
order of the stages, one bump of every built image, the gate records on failure, the summary rows
both fronts print, the rollback's changes in the summary, and the reporter split."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from dify_action import refs
from dify_action.build.component import BuildResult
from dify_action.bump import BumpPlan, Target
from dify_action.config.load import ScanPolicy
from dify_action.delivery import DeliveryResult
from dify_action.delivery.model import Change as DeliveredChange
from dify_action.dify.facts import ImageFacts
from dify_action.errors import GateFailed
from dify_action.front import action as entrypoint
from dify_action.front import gha
from dify_action.front.common import StderrReporter
from dify_action.markdown import code, escape
from dify_action.pipeline.run import Pipeline
from dify_action.pipeline.stages import Built
from dify_action.promote.run import PromoteResult
from dify_action.releaseset import ReleaseSet, SetCheck, SetReport
from dify_action.resolve import GitOps, Plan, resolve
from dify_action.resolve.request import Secrets, Settings
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
        return ScanReport(ScanPolicy(), () if self.scan_ok else (Verdict(finding, FAIL),))

    def record(self, plan: Plan, image: str, digest: str, results: Mapping[str, str]) -> None:
        self.calls.append(("gates", image, digest, dict(results)))

    def release_set(self, plan: Plan, gitops: GitOps, targets: Sequence[Target]) -> SetCheck:
        """No Dify set in these scripted trees (the set's own tests: tests/unit/releaseset)."""
        return SetCheck(tuple(targets), SetReport(ReleaseSet(()), ReleaseSet(())))

    def bump(self, plan: Plan, gitops: GitOps, targets: Sequence[Target]) -> BumpPlan | DeliveryResult:
        self.calls.append(("bump", tuple(f"{t.image.name}:{t.tag}@{t.digest}" for t in targets)))
        changes = tuple(DeliveredChange(f"staging/{t.image.path.rsplit('/', 1)[-1]}.yaml", 3, f"{t.image.name}:1",
                                        f"{t.image.name}:{t.tag}", "image", t.image.name) for t in targets)
        return DeliveryResult("created", "git", "branch", "main", "dify-action/staging/dify-api+dify-web", "c0ffee",
                              4, "https://gh.example/acme/gitops/pull/4", changes)

    def promote(self, plan: Plan) -> PromoteResult:
        raise AssertionError("not called")

    def rollback(self, plan: Plan) -> RollbackResult:
        self.calls.append(("rollback",))
        move = ImageMove("prod/api.yaml", 7, "image", refs.parse(f"{API}:2"), refs.parse(f"{API}:1"))
        return RollbackResult("created", "revert", "production", "abc1234", 4, "dify-action/rollback", "beef", 5,
                              "https://gh.example/acme/gitops/pull/5", (move,))


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self.lines.append(f"group {title}")
        yield

    def warning(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.lines.append(f"warning {message}")

    def info(self, message: str) -> None:
        self.lines.append(message)


@pytest.fixture
def config(tmp_path: Path) -> str:
    for name in ("api", "web"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM scratch\n")
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "gitops.git")], check=True)
    path = tmp_path / "dify-action.yaml"
    path.write_text(CONFIG.replace("GITOPS", str(tmp_path / "gitops.git")))
    return str(path)


def _plan(config: str, **changes: object) -> Plan:
    settings = Settings(**{"command": "pipeline", "config": config, "revision": "a" * 40, **changes})  # type: ignore[arg-type]
    return resolve(settings, Secrets(registry_password="pw"))


def test_pipeline_runs_the_stages_in_order_and_bumps_every_component_in_one_change(config: str) -> None:
    script, reporter = Script(), Recorder()
    result = Pipeline(_plan(config, environment="staging", pin_digest=True), script, reporter).run()
    assert [c[0] for c in script.calls] == ["build", "test", "test", "scan", "scan", "gates", "gates", "bump"]
    assert script.calls[-1] == ("bump", (f"{API}:1.13.3-acme.7@{DIGEST}", f"{WEB}:1.13.3-acme.7@{DIGEST}"))
    assert script.calls[5] == ("gates", API, DIGEST, {"smoke": "passed", "scan": "passed"})
    assert reporter.lines[:3] == ["group dify-action build", "group dify-action test (api)",
                                  "group dify-action test (web)"]
    text = result.markdown("passed")
    for row in (f"| build | passed | {code(API + ':latest,1.13.3-acme.7')} {escape(DIGEST)}, 123.4 MB |",
                f"| test | passed | {code(API + ':1.13.3-acme.7')} |",
                "| gates | recorded | smoke=passed, scan=passed |",
                "| bump | created | 2 value(s) PR #4 https://gh.example/acme/gitops/pull/4 |",
                f"| {code('staging/dify-api.yaml:3')} | {code(API + ':1')} | {code(API + ':1.13.3-acme.7')} |"):
        assert row in text, text
    outputs = entrypoint.outputs(result)
    assert json.loads(outputs.pop("json")) == json.loads(outputs.pop("metadata")) == result.as_dict()
    assert json.loads(outputs.pop("dify-set")) == result.deliveries[-1].dify_set  # issue 21: the set, as JSON
    assert outputs == {
        "image": API, "ref": f"{API}:1.13.3-acme.7", "tags": f"{API}:latest\n{API}:1.13.3-acme.7",
        "tag-names": "latest\n1.13.3-acme.7", "digest": DIGEST, "imageid": "sha256:" + "1" * 64,
        "size": "123400000", "labels": "", "operation": "created", "pull-request-operation": "created",
        "pull-request-number": "4", "pr-number": "4", "pull-request-url": "https://gh.example/acme/gitops/pull/4",
        "pr-url": "https://gh.example/acme/gitops/pull/4", "branch": "dify-action/staging/dify-api+dify-web",
        "commit": "c0ffee"}
    assert [c["component"] for c in result.as_dict()["components"]] == ["api", "web"]  # type: ignore[union-attr]


@pytest.mark.parametrize(("failing", "verdicts"), [("test", {"smoke": "failed"}),
                                                   ("scan", {"smoke": "passed", "scan": "failed"})])
def test_a_failed_gate_is_recorded_then_stops_the_pipeline(config: str, failing: str,
                                                           verdicts: dict[str, str]) -> None:
    script = Script(smoke_ok=failing != "test", scan_ok=failing != "scan")
    pipeline = Pipeline(_plan(config, environment="staging"), script, Recorder())
    with pytest.raises(GateFailed, match=f"{failing} of {API}:1.13.3-acme.7 failed"):
        pipeline.run()
    kinds = [c[0] for c in script.calls]
    assert kinds[-2:] == ["gates", "gates"] and "bump" not in kinds
    assert script.calls[-1][3] == verdicts
    result = pipeline.result()
    assert f"| {failing} | failed | {code(API + ':1.13.3-acme.7')} |" in result.markdown("failed")
    assert entrypoint.outputs(result)["digest"] == DIGEST and "operation" not in entrypoint.outputs(result)


def test_without_an_environment_the_pipeline_stops_after_the_gates(config: str) -> None:
    script = Script()
    Pipeline(_plan(config), script, Recorder()).run()
    assert [c[0] for c in script.calls][-1] == "gates"


def test_the_rollback_summary_shows_what_it_changed(config: str) -> None:
    plan = resolve(Settings(command="rollback", config=config, environment="staging", pr_number=4, provider="github",
                            github_repo="acme/gitops"), Secrets("pw", "t"))
    result = Pipeline(plan, Script(), Recorder()).run()
    text = result.markdown("passed")
    assert f"| {code('prod/api.yaml:7')} | {code(API + ':2')} | {code(API + ':1')} |" in text, text
    assert result.deliveries[0].changes[0].new == f"{API}:1"


def test_the_reporters_actions_inside_and_plain_lines_in_the_cli(config: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    actions = gha.Actions({"GITHUB_ACTIONS": "true"}, out, io.StringIO())
    Pipeline(_plan(config), Script(), actions).run()
    assert out.getvalue().splitlines()[:2] == ["::group::dify-action build", "::endgroup::"]
    Pipeline(_plan(config), Script(), StderrReporter()).run()
    StderrReporter().warning("careful", file="a.yaml", line=3)
    captured = capsys.readouterr()
    assert captured.out == "" and "::" not in captured.err
    assert captured.err.splitlines()[:2] == ["== dify-action build", "== dify-action test (api)"]
    assert captured.err.splitlines()[-1] == "warning: a.yaml:3: careful"


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dsl"


class FactsScript(Script):
    """Builds that read like a Dify api image: DSL version 0.6.0."""

    def build(self, plan: Plan, progress: object) -> tuple[Built, ...]:
        facts = ImageFacts("engine", "1.13.3", "0.6.0")
        return tuple(Built(b.result, facts) for b in super().build(plan, progress))


@pytest.mark.parametrize(("app", "stops"), [("workflow-completed.yml", False), ("chat-warnings.yml", False),
                                             ("advanced-chat-pending-newer.yml", True),
                                             ("dangling-edge.yml", True)])
def test_app_dsl_files_are_checked_against_the_built_image(config: str, app: str, stops: bool) -> None:
    root = Path(config).parent
    (root / "apps").mkdir()
    shutil.copy(FIXTURES / app, root / "apps" / app)
    Path(config).write_text(Path(config).read_text() + "apps: [apps/*.yml]\n")
    script, reporter = FactsScript(), Recorder()
    pipeline = Pipeline(_plan(config, environment="staging"), script, reporter)
    if stops:
        with pytest.raises(GateFailed):
            pipeline.run()
        assert "bump" not in [c[0] for c in script.calls]
        assert script.calls[-1][3] == {"smoke": "passed", "scan": "passed", "apps": "failed"}
    else:
        pipeline.run()
        assert script.calls[-1][0] == "bump"
    text = pipeline.result().markdown("done")
    assert "Dify app DSL" in text and app in text.replace("\\", "")
    if app == "chat-warnings.yml":
        assert any(line.startswith("warning ") for line in reporter.lines)


def test_apps_without_a_built_api_image_stop_the_pipeline(config: str) -> None:
    root = Path(config).parent
    (root / "apps").mkdir()
    shutil.copy(FIXTURES / "workflow-completed.yml", root / "apps" / "a.yml")
    Path(config).write_text(Path(config).read_text() + "apps: [apps/*.yml]\n")
    with pytest.raises(GateFailed, match=r"dsl_version\.py"):
        Pipeline(_plan(config, environment="staging"), Script(), Recorder()).run()
