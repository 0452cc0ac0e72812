"""dify_action.pipeline.run over a resolved plan with scripted stages (the core's real result types): the
order of the stages, one bump of every built image, the gate records on failure, the summary rows
both fronts print, the rollback's changes in the summary, and the reporter split."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from stagescript import API, CONFIG, DIGEST, WEB, Script

from dify_action.dify.facts import ImageFacts
from dify_action.errors import GateFailed
from dify_action.front import gha, render
from dify_action.front.common import StderrReporter
from dify_action.markdown import code, escape
from dify_action.pipeline.model import Built
from dify_action.pipeline.run import Pipeline
from dify_action.resolve import Plan, resolve
from dify_action.resolve.request import (
    BumpInputs,
    GitOpsInputs,
    PipelineCommand,
    RollbackCommand,
    RunContext,
    Secrets,
)


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


def _plan(config: str, environment: str | None = None, pin_digest: bool | None = None) -> Plan:
    request = PipelineCommand(config, bump=BumpInputs(environment=environment, pin_digest=pin_digest),
                              context=RunContext(revision="a" * 40))
    return resolve(request, Secrets(registry_password="pw"))


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
    outputs = render.outputs(result)
    assert json.loads(outputs.pop("json")) == json.loads(outputs.pop("metadata")) == result.as_dict()
    assert outputs == {
        "image": API, "ref": f"{API}:1.13.3-acme.7", "tags": f"{API}:latest\n{API}:1.13.3-acme.7",
        "tag-names": "latest\n1.13.3-acme.7", "digest": DIGEST, "imageid": "sha256:" + "1" * 64,
        "size": "123400000", "labels": "", "operation": "created", "pull-request-operation": "created",
        "pull-request-number": "4", "pull-request-url": "https://gh.example/acme/gitops/pull/4",
        "branch": "dify-action/staging/dify-api+dify-web",
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
    assert render.outputs(result)["digest"] == DIGEST and "operation" not in render.outputs(result)


def test_without_an_environment_the_pipeline_stops_after_the_gates(config: str) -> None:
    script = Script()
    Pipeline(_plan(config), script, Recorder()).run()
    assert [c[0] for c in script.calls][-1] == "gates"


def test_the_rollback_summary_shows_what_it_changed(config: str) -> None:
    gitops = GitOpsInputs(provider="github", github_repo="acme/gitops")
    plan = resolve(RollbackCommand(pull_request=4, environment="staging", config=config, gitops=gitops),
                   Secrets("pw", "t"))
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
        return tuple(Built(b.build, facts) for b in super().build(plan, progress))


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
