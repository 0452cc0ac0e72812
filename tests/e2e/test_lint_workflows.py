"""The workflows and action.yml pass the real linters: zizmor (offline, default persona), actionlint,
and GitHub's published JSON schemas (check-jsonschema's vendored copies), plus our own rules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTION = ROOT / "action.yml"
ACTIONS = [ACTION, *sorted(ROOT.glob("*/action.yml"))]  # the pipeline action and one per command


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed (pip install -r requirements-tools.txt)"
    return path


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_there_are_workflows() -> None:
    names = {path.name for path in WORKFLOWS}
    assert {"build.yml", "test.yml", "scan.yml", "bump.yml", "promote.yml", "rollback.yml", "pipeline.yml",
            "ci.yml", "release.yml"} <= names


def test_zizmor_offline_reports_nothing() -> None:
    proc = run(tool("zizmor"), "--offline", "--format", "plain", ".github/workflows",
               *[str(p.relative_to(ROOT)) for p in ACTIONS])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout + proc.stderr


def test_actionlint_reports_nothing() -> None:
    proc = run(tool("actionlint"), *[str(p.relative_to(ROOT)) for p in WORKFLOWS])
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


@pytest.mark.parametrize(("schema", "files"), [("vendor.github-workflows", WORKFLOWS), ("vendor.github-actions",
                                                                                         ACTIONS)])
def test_github_schemas(schema: str, files: list[Path]) -> None:
    proc = run(tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok -- validation done" in proc.stdout


def _uses(node: object) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uses" and isinstance(value, str):
                found.append(value)
            found += _uses(value)
    elif isinstance(node, list):
        for item in node:
            found += _uses(item)
    return found


def test_secure_defaults_in_every_workflow() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        doc = yaml.safe_load(text)
        assert doc["permissions"] == {}, f"{path.name}: top-level permissions must be {{}}"
        assert "secrets: inherit" not in text, path.name
        for name, job in doc["jobs"].items():
            assert "timeout-minutes" in job, f"{path.name}:{name} has no timeout-minutes"
            assert "permissions" in job, f"{path.name}:{name} has no job permissions"
            for step in job.get("steps", []):
                run_text = step.get("run", "")
                assert not re.search(r"\$\{\{\s*(inputs|github)\.", run_text), f"{path.name}:{name}: expression in run"
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, f"{path.name}:{name}: persisted credentials"
        for line in text.splitlines():
            match = re.match(r"\s*-?\s*uses:\s*([^\s#]+)(.*)", line)
            if match and not match.group(1).startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", match.group(1)), f"{path.name}: {line.strip()}"
                assert re.search(r"#\s*v\d+\.\d+\.\d+", match.group(2)), f"{path.name}: no version comment: {line}"


def test_deploy_jobs_are_serialized_per_environment_and_protected() -> None:
    for name in ("bump.yml", "promote.yml", "rollback.yml", "pipeline.yml"):
        doc = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
        # plan and platform (pipeline.yml's matrix) only build and push by digest, result only names
        # the outputs; merge deploys
        deploys = [job for job_name, job in doc["jobs"].items()
                   if job_name not in ("image", "plan", "platform", "result")]
        for job in deploys:
            assert job["concurrency"]["cancel-in-progress"] is False, name
            assert "environment" in job["concurrency"]["group"] or "inputs." in job["concurrency"]["group"], name
    for name in ("promote.yml", "rollback.yml"):
        doc = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
        assert all("environment" in job for job in doc["jobs"].values()), name
    promote = yaml.safe_load((ROOT / ".github" / "workflows" / "promote.yml").read_text())
    on = promote[True]  # PyYAML reads the key `on` as a boolean
    assert on["workflow_dispatch"]["inputs"]["to-environment"]["type"] == "choice"
    assert "workflow_call" in on


def test_action_inputs_are_kebab_case_and_match_the_entrypoint() -> None:
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"] == {"using": "docker", "image": "Dockerfile"}
    inputs = set(action["inputs"])
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name) for name in inputs)
    assert all(action["inputs"][name].get("description") for name in inputs)
    source = "\n".join((ROOT / "dify_action/front" / name).read_text() for name in ("action.py", "action_request.py"))
    merge = (ROOT / "dify_action/front/merge_action.py").read_text()  # command: merge reads its own inputs
    read = set(re.findall(r'a\.(?:input|items)\("([a-z-]+)"', merge))
    read |= set(re.findall(r'(?:_opt|_lines|_choice|a\.input|a\.items|a\.boolean|a\.choice|a\.integer)\('
                           r'(?:a, )?"([a-z-]+)"', source))
    assert read == inputs, f"declared but unread: {inputs - read}; read but undeclared: {read - inputs}"
    render = (ROOT / "dify_action/front/render.py").read_text()
    outputs = set(re.findall(r'"([a-z-]+)"', render[render.index("OUTPUTS ="):render.index("PR_OPERATIONS")]))
    assert outputs == set(action["outputs"])
    # the per-command actions: the same rules (their exact sets: tests/unit/front); verify has a front end
    # of its own (front/verify_action.py, its live sources' inputs), not a slice of the top-level action
    for path in (p for p in ACTIONS[1:] if p.parent.name != "verify"):
        own = yaml.safe_load(path.read_text())
        assert set(own["inputs"]) <= inputs and set(own.get("outputs") or {}) <= outputs, path
        assert all(spec.get("description") for spec in own["inputs"].values()), path


def test_hadolint_passes_on_the_action_dockerfile() -> None:
    proc = run(tool("hadolint"), "Dockerfile")
    assert (proc.returncode, proc.stdout) == (0, "")
