"""dify_action.pipeline with a scripted stage runner: the order of the stages, the gate records on
failure, the summary rows both fronts print, and the reporter split (Actions vs plain stderr)."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import entrypoint
from dify_action import gha
from dify_action.commands.pipeline import StderrReporter
from dify_action.errors import GateFailed, InputError
from dify_action.pipeline import Pipeline, Settings, StageRun

IMAGE = "registry.example/acme/dify-api"
DIGEST = "sha256:" + "d" * 64
BUILT = {"components": [{"component": "api", "image": IMAGE, "tags": ["latest", "1.13.3-acme.7", "sha-abc"],
                         "digest": DIGEST, "size": 123_400_000}]}
BUMPED = {"operation": "created", "pr_number": 4, "pr_url": "https://gh.example/acme/gitops/pull/4",
          "branch": "dify-action/staging/dify-api", "commit": "c0ffee",
          "changes": [{"file": "staging/api.yaml", "line": 3, "old": f"{IMAGE}:1", "new": f"{IMAGE}:2"}]}


class Script:
    """A stage runner: answers per command, records every call."""

    def __init__(self, answers: Mapping[str, StageRun]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, list[str], str]] = []

    def __call__(self, command: str, argv: Sequence[str], stage: str, positionals: Sequence[str] = ()) -> StageRun:
        self.calls.append((command, list(argv), stage))
        return self.answers.get(command, StageRun(0, {}))


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        self.lines.append(f"group {title}")
        yield

    def warning(self, message: str) -> None:
        self.lines.append(f"warning {message}")

    def info(self, message: str) -> None:
        self.lines.append(message)


def answers(**overrides: StageRun) -> dict[str, StageRun]:
    base = {"build": StageRun(0, BUILT), "test": StageRun(0, {}, "### smoke api\n"), "scan": StageRun(0, {}),
            "gates": StageRun(0, {}), "bump": StageRun(0, BUMPED)}
    return base | overrides


SETTINGS = Settings(command="pipeline", config="dify-action.yaml", gitops_repo="file:///gitops.git",
                    environment="staging", provider="git", pin_digest=True, registry_username="ci",
                    revision="a" * 40, ref="refs/heads/main", event="push", run_number="7")


def test_pipeline_runs_the_stages_in_order_and_reports_them() -> None:
    script, reporter = Script(answers()), Recorder()
    result = Pipeline(SETTINGS, script, reporter).run()
    assert [(c[0], c[2]) for c in script.calls] == [("build", "build"), ("test", "test-api"), ("scan", "scan-api"),
                                                    ("gates", "gates"), ("bump", "bump")]
    assert script.calls[3][1] == ["--image", IMAGE, "--digest", DIGEST, "--result", "smoke=passed",
                                  "--result", "scan=passed", "--registry-username", "ci"]
    bump = script.calls[4][1]
    assert bump[:6] == ["--image", IMAGE, "--tag", "1.13.3-acme.7", "--digest", DIGEST]
    assert "--provider" in bump and bump[bump.index("--provider") + 1] == "git"
    assert reporter.lines == ["group dify-action build (build)", "group dify-action test (test-api)",
                              "group dify-action scan (scan-api)", "group dify-action gates (gates)",
                              "group dify-action bump (bump)"]
    text = result.markdown("passed")
    for row in (f"| build | passed | `{IMAGE}:latest,1.13.3-acme.7,sha-abc` {DIGEST}, 123.4 MB |",
                f"| test | passed | `{IMAGE}:1.13.3-acme.7` |", "| gates | recorded | smoke=passed, scan=passed |",
                "| bump | created | 1 value(s) PR #4 https://gh.example/acme/gitops/pull/4 |",
                f"| `staging/api.yaml:3` | `{IMAGE}:1` | `{IMAGE}:2` |", "### smoke api"):
        assert row in text, text
    assert result.images[0].ref == f"{IMAGE}:1.13.3-acme.7" and result.gates[0].digest == DIGEST
    assert entrypoint.outputs(result) == {
        "image": IMAGE, "ref": f"{IMAGE}:1.13.3-acme.7", "tags": "latest\n1.13.3-acme.7\nsha-abc", "digest": DIGEST,
        "size": "123400000", "operation": "created", "pr-number": "4",
        "pr-url": "https://gh.example/acme/gitops/pull/4", "branch": "dify-action/staging/dify-api",
        "commit": "c0ffee"}


@pytest.mark.parametrize(("failing", "verdicts"), [("test", ["smoke=failed"]),
                                                   ("scan", ["smoke=passed", "scan=failed"])])
def test_a_failed_gate_is_recorded_then_stops_the_pipeline(failing: str, verdicts: list[str]) -> None:
    script = Script(answers(**{failing: StageRun(1, {})}))
    pipeline = Pipeline(SETTINGS, script, Recorder())
    with pytest.raises(GateFailed, match=f"{failing}-api failed"):
        pipeline.run()
    assert [c[0] for c in script.calls][-1] == "gates" and "bump" not in [c[0] for c in script.calls]
    assert script.calls[-1][1][4:-2] == [x for v in verdicts for x in ("--result", v)]
    result = pipeline.result()
    assert f"| {failing}-api | failed |  |" in result.markdown("failed")
    assert f"| gates | recorded | {', '.join(verdicts)} |" in result.markdown("failed")
    assert entrypoint.outputs(result)["digest"] == DIGEST and "operation" not in entrypoint.outputs(result)


def test_without_a_gitops_repo_the_pipeline_stops_after_the_gates() -> None:
    script = Script(answers())
    Pipeline(Settings(config="c.yaml"), script, Recorder()).run()
    assert [c[0] for c in script.calls] == ["build", "test", "scan", "gates"]


def test_bare_bump_sets_the_image_output_and_inputs_are_checked_first() -> None:
    script = Script(answers(bump=StageRun(0, {"changes": []})))
    result = Pipeline(Settings(command="bump", image=f"{IMAGE}:2.0", gitops_dir="/g"), script, Recorder()).run()
    assert script.calls[0][1] == ["--image", IMAGE, "--tag", "2.0", "--gitops-dir", "/g"]
    assert entrypoint.outputs(result)["image"] == IMAGE and result.deliveries[0].operation == "none"
    with pytest.raises(InputError, match="gitops-repo"):
        Pipeline(Settings(command="promote"), Script({}), Recorder()).run()


def test_the_reporters_actions_inside_and_plain_lines_in_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    actions = gha.Actions({"GITHUB_ACTIONS": "true"}, out, io.StringIO())
    Pipeline(Settings(config="c.yaml"), Script(answers()), actions).run()
    assert out.getvalue().splitlines()[:2] == ["::group::dify-action build (build)", "::endgroup::"]
    Pipeline(Settings(config="c.yaml"), Script(answers()), StderrReporter()).run()
    StderrReporter().warning("careful")
    captured = capsys.readouterr()
    assert captured.out == "" and "::" not in captured.err
    assert captured.err.splitlines()[:2] == ["== dify-action build (build)", "== dify-action test (test-api)"]
    assert captured.err.splitlines()[-1] == "warning: careful"

