"""The reusable workflows hand the job's GITHUB_TOKEN to the registry only when every image and
registry host of the config is on ghcr.io (the step's own shell, run here on generated configs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]


def guard(workflow: str) -> str:
    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / workflow).read_text())["jobs"]
    steps = [s for job in jobs.values() for s in job.get("steps", []) if s.get("id") == "ghcr"]
    assert len({str(s["run"]) for s in steps}) == 1  # every job (pipeline.yml's matrix too) runs the same guard
    return str(steps[0]["run"])


def gives_token(workflow: str, config: str, tmp_path: Path) -> bool:
    path = tmp_path / "dify-action.yaml"
    path.write_text(config)
    output = tmp_path / "output"
    output.write_text("")
    subprocess.run(["bash", "-e", "-c", guard(workflow)], env={"CONFIG": str(path), "GITHUB_OUTPUT": str(output),
                                                               "PATH": "/usr/bin:/bin"}, check=True)
    return output.read_text() == "ghcr=true\n"


BLOCK = """\
version: 1
registry:
  host: {host}
components:
  - name: api
    image: {api}   # the api
  - name: web
    image: "{web}"
"""


@pytest.mark.parametrize("workflow", ["pipeline.yml", "build.yml"])
@pytest.mark.parametrize(("config", "expected"), [
    (BLOCK.format(host="ghcr.io", api="ghcr.io/acme/dify-api", web="ghcr.io/acme/dify-web"), True),
    (BLOCK.format(host="ghcr.io", api="ghcr.io/acme/dify-api", web="docker.io/acme/dify-web"), False),
    (BLOCK.format(host="registry.acme.example", api="ghcr.io/acme/dify-api", web="ghcr.io/acme/web"), False),
    (BLOCK.format(host="ghcr.io.evil.example", api="ghcr.io/acme/dify-api", web="ghcr.io/acme/web"), False),
    ("version: 1\nregistry: {host: ghcr.io}\ncomponents: [{name: api, image: ghcr.io/a/b}, "
     "{name: web, image: quay.io/a/c}]\n", False),
    ("version: 1\ncomponents: [{name: api, image: 'ghcr.io/a/b'}]\n", True),
    ("version: 1\n", False),  # nothing to read: no token
])
def test_the_token_goes_to_ghcr_only(workflow: str, config: str, expected: bool, tmp_path: Path) -> None:
    assert gives_token(workflow, config, tmp_path) is expected


def test_a_missing_config_gets_no_token(tmp_path: Path) -> None:
    output = tmp_path / "output"
    output.write_text("")
    subprocess.run(["bash", "-e", "-c", guard("pipeline.yml")], check=True,
                   env={"CONFIG": str(tmp_path / "absent.yaml"), "GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"})
    assert output.read_text() == ""


HOSTS = st.sampled_from(["ghcr.io", "docker.io", "quay.io", "registry.acme.example:5000", "ghcr.io.evil.example",
                         "ghcr.iox", "127.0.0.1:5000"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(HOSTS, st.sampled_from(["", '"', "'"]), st.booleans()), min_size=1, max_size=4))
def test_any_other_host_withholds_the_token(images: list[tuple[str, str, bool]]) -> None:
    import tempfile

    lines = ["version: 1", "components:"]
    for number, (host, quote, flow) in enumerate(images):
        ref = f"{quote}{host}/acme/c{number}{quote}"
        lines.append(f"  - {{name: c{number}, image: {ref}}}" if flow else f"  - name: c{number}\n    image: {ref}")
    with tempfile.TemporaryDirectory() as temp:
        got = gives_token("pipeline.yml", "\n".join(lines) + "\n", Path(temp))
    assert got is all(host == "ghcr.io" for host, _, _ in images)
