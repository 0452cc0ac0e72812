"""Lazy edges (issue 17): a command imports what it uses. A no-op ``bump --gitops-dir`` and
``bump --help`` run in a fresh interpreter; the heavy clients (PyGithub, requests, the Docker SDK,
jsonschema) must not be among the modules loaded. Time is measured by benchmarks/bench_startup.py;
this test only pins which modules load, so it does not depend on the machine's speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("github", "requests", "docker", "jsonschema", "urllib3", "jwt", "cryptography")

PROBE = """
import json, sys
from dify_action.front.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
loaded = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      containers:
        - name: api
          image: registry.example.com/acme/dify-api:1.0  # already at the target
"""


def _loaded(*argv: str) -> tuple[int, set[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=False)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["code"], set(report["loaded"])


@pytest.mark.parametrize("argv", [
    ("bump", "--help"),
    ("bump", "--gitops-dir", "{tree}", "--image", "registry.example.com/acme/dify-api:1.0"),
    ("bump", "--gitops-dir", "{tree}", "--image", "registry.example.com/acme/dify-api:1.1", "--dry-run"),
])
def test_a_local_bump_loads_no_heavy_client(tmp_path: Path, argv: tuple[str, ...]) -> None:
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT)
    code, loaded = _loaded(*(arg.format(tree=tmp_path) for arg in argv))
    assert code == 0
    assert "dify_action" in loaded  # the probe really ran the command
    assert sorted(loaded & set(HEAVY)) == []
    assert (tmp_path / "deploy.yaml").read_text() == DEPLOYMENT  # --dry-run and the no-op write nothing


def test_the_probe_sees_a_heavy_client_when_one_is_used() -> None:
    """The check can fail: naming the delivery entry point loads PyGithub and requests."""
    proc = subprocess.run([sys.executable, "-c", "import sys; from dify_action.delivery import deliver; "
                           "print(sorted({'github', 'requests'} & set(sys.modules)))"],
                          capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "['github', 'requests']"


# issue 22, class 7: a local bump loads its own stage only (half of a 3,000-file bump was imports)
OTHER_STAGES = ("build", "smoke", "scan", "promote", "rollback", "delivery", "registry", "engine", "config", "tags",
                "verify", "dify")
STAGE_PROBE = PROBE.replace('name.split(".")[0] for name in sys.modules',
                            'name for name in sys.modules if name.startswith("dify_action.")')


def test_a_local_bump_loads_no_other_stage(tmp_path: Path) -> None:
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT)
    proc = subprocess.run([sys.executable, "-c", STAGE_PROBE, "bump", "--gitops-dir", str(tmp_path), "--image",
                           "registry.example.com/acme/dify-api:1.1", "--json"],
                          capture_output=True, text=True, check=False)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    loaded = {name.split(".")[1] for name in report["loaded"]}
    assert report["code"] == 0 and "dify_action.bump.engine" in report["loaded"]  # the bump really ran
    assert sorted(loaded & set(OTHER_STAGES)) == []
    assert "registry.example.com/acme/dify-api:1.1" in (tmp_path / "deploy.yaml").read_text()
