"""Every reusable workflow speaks its action's language (issue 23): the outputs its action has, by the
action's names, wired job -> the action's step; the same ``config`` default everywhere; the action's
input names (no ``pr-number``/``pr-url`` leftovers); and the example callers pass only what the
workflow they call declares."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dify_action.front.inputs import COMMAND_OUTPUTS, RETIRED

ROOT = Path(__file__).resolve().parents[1].parent
WORKFLOWS = ROOT / ".github" / "workflows"
# the reusable workflows that run a dify-action step (attest.yml runs GitHub's attestation action only)
REUSABLE = sorted(p for p in WORKFLOWS.glob("*.yml") if p.name not in ("ci.yml", "release.yml", "attest.yml"))


class _Strict(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; the runner (and act) refuse the file."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        duplicate = next((k for i, k in enumerate(keys) if k in keys[:i]), None)
        assert duplicate is None, f"key {duplicate!r} twice at line {node.start_mark.line + 1}"
        return super().construct_mapping(node, deep=deep)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(path.read_text(), Loader=_Strict)
    data["on"] = data.pop(True, data.get("on"))  # PyYAML reads the key `on` as True
    return data


def action_step(workflow: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    """(job name, the step running dify-action, its command)."""
    for name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            uses = str(step.get("uses", ""))
            if uses.startswith("./.dify-action"):
                folder = uses.removeprefix("./.dify-action").strip("/")
                return name, step, folder or str(step["with"].get("command", "pipeline"))
    raise AssertionError("no dify-action step")


@pytest.mark.parametrize("path", REUSABLE, ids=lambda p: p.name)
def test_outputs_are_the_actions_by_its_names(path: Path) -> None:
    workflow = load(path)
    job_name, step, command = action_step(workflow)
    declared = workflow["on"]["workflow_call"].get("outputs") or {}
    own = ROOT / command / "action.yml"  # verify has its own front end, and its own outputs
    expected = tuple(load(own)["outputs"]) if command not in COMMAND_OUTPUTS else COMMAND_OUTPUTS[command]
    assert tuple(declared) == expected
    job = workflow["jobs"][job_name]
    # the pipeline's outputs come from its result job: the single job's, or the platform matrix's merge
    owner = "result" if "result" in workflow["jobs"] else job_name
    for name in declared:
        assert declared[name]["value"] == f"${{{{ jobs.{owner}.outputs.{name} }}}}"
        assert job["outputs"][name] == f"${{{{ steps.{step['id']}.outputs.{name} }}}}"
        if owner != job_name:
            assert f"needs.{job_name}.outputs.{name}" in workflow["jobs"][owner]["outputs"][name]


@pytest.mark.parametrize("path", REUSABLE, ids=lambda p: p.name)
def test_one_config_default_and_the_actions_input_names(path: Path) -> None:
    workflow = load(path)
    for trigger in ("workflow_call", "workflow_dispatch"):
        inputs = (workflow["on"].get(trigger) or {}).get("inputs") or {}
        if "config" in inputs:
            assert inputs["config"].get("default") == "dify-action.yaml", f"{trigger}: config default"
        assert not set(inputs) & set(RETIRED), f"{trigger}: retired names {set(inputs) & set(RETIRED)}"
    assert not re.search(r"\bpr-(url|number)\b", path.read_text()), "pr-url / pr-number: the action says pull-request-*"


def test_the_pipeline_never_hands_an_environment_to_a_run_that_does_not_push() -> None:
    _, step, _ = action_step(load(WORKFLOWS / "pipeline.yml"))
    for name in ("environment", "gitops-repo"):
        assert str(step["with"][name]).startswith("${{ inputs.push && "), name


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "workflows").glob("*.yml")), ids=lambda p: p.name)
def test_examples_use_the_workflows_names(path: Path) -> None:
    text = path.read_text()
    assert not re.search(r"\bpr-(url|number)\b", text)
    for job in load(path)["jobs"].values():
        called = load(WORKFLOWS / job["uses"].split("/.github/workflows/", 1)[1].split("@", 1)[0])
        inputs = called["on"]["workflow_call"]["inputs"]
        assert set(job.get("with", {})) <= set(inputs)
        assert set(job.get("secrets", {})) <= set(called["on"]["workflow_call"]["secrets"])
    readme = (ROOT / "examples" / "README.md").read_text()
    for secret in re.findall(r"secrets\.([A-Z_]+)", text):
        assert f"`secrets.{secret}`" in readme, f"examples/README.md names {secret}"
