"""verify's action (verify/action.yml), its reusable workflow and the GitOps-side example pass the
real linters, and what they declare is what the code reads and writes."""

from __future__ import annotations

import re

import pytest
import yaml
from test_lint_workflows import ROOT, run, tool

pytestmark = pytest.mark.e2e
ACTION = ROOT / "verify" / "action.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "verify.yml"
EXAMPLE = ROOT / "examples" / "gitops" / ".github" / "workflows" / "dify-verify.yml"


def test_linters_are_clean() -> None:
    proc = run(tool("zizmor"), "--offline", "--no-progress", str(ACTION), str(WORKFLOW), str(EXAMPLE))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run(tool("actionlint"), str(WORKFLOW.relative_to(ROOT)), str(EXAMPLE.relative_to(ROOT)))
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")
    for schema, path in (("vendor.github-actions", ACTION), ("vendor.github-workflows", WORKFLOW),
                         ("vendor.github-workflows", EXAMPLE)):
        proc = run(tool("check-jsonschema"), "--builtin-schema", schema, str(path))
        assert "ok -- validation done" in proc.stdout, proc.stdout + proc.stderr


def test_action_inputs_and_outputs_are_the_ones_the_front_end_uses() -> None:
    action = yaml.safe_load(ACTION.read_text())
    source = (ROOT / "dify_action" / "front" / "verify_action.py").read_text()
    read = set(re.findall(r'a\.(?:input|items|choice)\("([a-z-]+)"', source))
    assert read == set(action["inputs"]), (read ^ set(action["inputs"]))
    assert action["runs"]["args"] == ["verify"]  # the command travels as the container's argument
    assert set(re.findall(r'set_output\("([a-z-]+)"', source)) == set(action["outputs"]) == {
        "verified", "revision", "json"}
    masked = set(re.findall(r'"([a-z-]+)"', source[source.index("SECRETS ="):].split("\n")[0]))
    assert {"argocd-token", "kubeconfig", "token", "registry-password"} == masked


def test_the_example_calls_the_reusable_workflow_with_what_it_declares() -> None:
    example = yaml.safe_load(EXAMPLE.read_text())
    reusable = yaml.safe_load(WORKFLOW.read_text())[True]["workflow_call"]
    (job,) = example["jobs"].values()
    assert job["uses"].split("/.github/workflows/")[1].startswith("verify.yml@")
    assert set(job["with"]) <= set(reusable["inputs"]) and set(job["secrets"]) <= set(reusable["secrets"])
    assert re.fullmatch(r"[\w.-]+/[\w.-]+/\.github/workflows/verify\.yml@[0-9a-f]{40}", job["uses"])
    step = yaml.safe_load(WORKFLOW.read_text())["jobs"]["verify"]["steps"][-1]
    assert step["uses"] == "./.dify-action/verify" and set(step["with"]) <= set(yaml.safe_load(
        ACTION.read_text())["inputs"])
