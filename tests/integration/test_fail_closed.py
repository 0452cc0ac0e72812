"""Fail closed (issue 9.1, 9.5): any doubt about inputs or config stops every front end (the action,
the CLI's bump and pipeline) with exit 2, naming the input, before any clone, push or write. A real
bare GitOps repository (file://) shows that nothing moved: its refs are compared before and after,
and the temp root must stay empty (no clone was made)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dify_action.front import action as entrypoint
from dify_action.front.cli import main as cli_main

IMAGE = "127.0.0.1:5000/acme/dify-api"
MANIFEST = f"apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n" \
           f"        - name: api\n          image: {IMAGE}:1.0\n"
GOOD = """version: 1
components:
  - {{name: api, image: {image}, dockerfile: Dockerfile}}
environments:
  staging: {{repository: "{repo}", paths: [staging], provider: git}}
  production: {{repository: "{repo}", paths: [production], provider: git}}
"""
# the ways a config can be wrong; each must stop the run (the old action path bumped everything)
BROKEN = {
    "unknown key": GOOD + "surprise: 1\n",
    "wrong type": GOOD.replace("paths: [staging]", "paths: staging"),
    "registry password": GOOD + "registry: {{username: ci, password: hunter2}}\n",
    "duplicate key": GOOD + "version: 1\n",
    "yaml syntax": GOOD + "environments: [\n",
    "not a mapping": "- just\n- a list\n",
}


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    """A bare GitOps repository with staging and production, a config, and an empty TMPDIR."""
    seed, bare = tmp_path / "seed", tmp_path / "gitops.git"
    for env in ("staging", "production"):
        (seed / env).mkdir(parents=True)
        (seed / env / "api.yaml").write_text(MANIFEST)
    _git("init", "-q", "-b", "main", str(seed))
    _git("-c", "user.name=t", "-c", "user.email=t@e", "add", ".", cwd=seed)
    _git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "seed", cwd=seed)
    _git("clone", "-q", "--bare", str(seed), str(bare))
    config = tmp_path / "app" / "dify-action.yaml"
    config.parent.mkdir()
    (config.parent / "Dockerfile").write_text("FROM scratch\n")
    config.write_text(GOOD.format(image=IMAGE, repo=f"file://{bare}"))
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    yield {"bare": bare, "config": config, "tmp": temp, "root": tmp_path}


def _refs(bare: Path) -> str:
    return _git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare)


def _action(world: dict[str, Path], **inputs: str) -> int:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(world["root"] / "out"), "PATH": os.environ["PATH"],
           "GITHUB_STEP_SUMMARY": str(world["root"] / "summary"), "INPUT_TOKEN": "tok-xyz"}
    env |= {f"INPUT_{k.upper().replace('_', '-')}": v for k, v in inputs.items()}
    return entrypoint.main(env)


FrontEnd = Callable[[dict[str, Path], str, dict[str, str]], int]


def _action_bump(world: dict[str, Path], environment: str, extra: dict[str, str]) -> int:
    return _action(world, command="bump", config=str(world["config"]), environment=environment,
                   image=f"{IMAGE}:2.0", **extra)


def _cli_bump(world: dict[str, Path], environment: str, extra: dict[str, str]) -> int:
    argv = ["bump", "--config", str(world["config"]), "--environment", environment, "--image", IMAGE, "--tag", "2.0"]
    return cli_main(argv + [x for k, v in extra.items() for x in (f"--{k.replace('_', '-')}", v)])


def _cli_pipeline(world: dict[str, Path], environment: str, extra: dict[str, str]) -> int:
    argv = ["pipeline", "--config", str(world["config"]), "--environment", environment, "--tag", "2.0"]
    return cli_main(argv + [x for k, v in extra.items() for x in (f"--{k.replace('_', '-')}", v)])


FRONT_ENDS = {"action": _action_bump, "cli-bump": _cli_bump, "cli-pipeline": _cli_pipeline}


def _assert_nothing_happened(world: dict[str, Path], before: str) -> None:
    assert _refs(world["bare"]) == before, "the GitOps repository moved"
    assert not any(world["tmp"].iterdir()), f"temp files left: {list(world['tmp'].iterdir())}"


@pytest.mark.parametrize("front", FRONT_ENDS)
def test_an_undeclared_environment_stops_every_front_end(world: dict[str, Path], front: str,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    before = _refs(world["bare"])
    assert FRONT_ENDS[front](world, "stagin", {}) == 2
    captured = capsys.readouterr()
    assert ("invalid environment 'stagin'" if front == "action" else "invalid --environment 'stagin'") in \
        captured.out + captured.err  # each front end names its own spelling
    assert "staging, production" in captured.out + captured.err
    _assert_nothing_happened(world, before)


@pytest.mark.parametrize("front", FRONT_ENDS)
@pytest.mark.parametrize("kind", [*BROKEN, "missing file", "not utf-8"])
def test_an_invalid_config_stops_every_front_end(world: dict[str, Path], front: str, kind: str) -> None:
    config = world["config"]
    if kind == "missing file":
        config.unlink()
    elif kind == "not utf-8":
        config.write_bytes(b"version: 1\ncomponents: []\n# caf\xe9\n")
    else:
        config.write_text(BROKEN[kind].format(image=IMAGE, repo=f"file://{world['bare']}"))
    before = _refs(world["bare"])
    assert FRONT_ENDS[front](world, "staging", {}) == 2
    _assert_nothing_happened(world, before)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=20))
def test_any_environment_the_config_does_not_declare_changes_nothing(world: dict[str, Path], name: str) -> None:
    if name in ("staging", "production"):
        return
    before = _refs(world["bare"])
    code = _action_bump(world, name, {})
    assert code == 2 if name.strip() else code in (0, 2)  # empty: "environment not given" is exit 2 too
    _assert_nothing_happened(world, before)


def test_gitops_dir_and_gitops_repo_together_are_refused_by_every_front_end(world: dict[str, Path]) -> None:
    before = _refs(world["bare"])
    extra = {"gitops_dir": str(world["root"]), "gitops_repo": f"file://{world['bare']}"}
    for front in FRONT_ENDS.values():
        assert front(world, "staging", extra) == 2
    _assert_nothing_happened(world, before)


def test_the_environments_repository_stands_in_for_gitops_repo_in_the_action(world: dict[str, Path]) -> None:
    assert _action_bump(world, "staging", {}) == 0
    branch = _git("show", "refs/heads/dify-action/staging/dify-api:staging/api.yaml", cwd=world["bare"])
    assert f"{IMAGE}:2.0" in branch
    assert _git("show", "main:production/api.yaml", cwd=world["bare"]) == MANIFEST, "production untouched"
    outputs = (world["root"] / "out").read_text()
    assert "dify-action/staging/dify-api" in outputs and "tok-xyz" not in outputs


@pytest.mark.parametrize(("inputs", "named"), [
    ({"command": "build", "platforms": "linux/amd64;rm -rf /", "repository": IMAGE, "image": "", "tag": "",
      "environment": "", "gitops_repo": ""}, "platforms"),  # empty: not given (bump's inputs, foreign to build)
    ({"tag": "-rf"}, "tag"),
    ({"environment": "--force"}, "environment"),
    ({"github_api_url": "file:///etc/passwd"}, "github-api-url"),
    ({"gitops_repo": "/definitely/not/a/repo"}, "gitops-repo"),
    ({"command": "promote", "from_environment": "staging", "to_environment": "production",
      "registry_password": "pw", "image": "", "tag": "", "environment": ""}, "registry-username"),
])
def test_smaller_bad_inputs_are_named_before_any_engine_or_remote(world: dict[str, Path], inputs: dict[str, str],
                                                                  named: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    before = _refs(world["bare"])
    base = {"command": "bump", "image": IMAGE, "tag": "2.0", "environment": "staging",
            "gitops_repo": f"file://{world['bare']}"}
    assert _action(world, **(base | inputs)) == 2
    out = capsys.readouterr().out
    assert f"invalid {named}" in out, out
    _assert_nothing_happened(world, before)


def test_a_test_image_with_an_uppercase_host_never_reaches_the_engine(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["test", "--image", "UPPER/case:1", "--docker-host", "unix:///nonexistent.sock"]) == 2
    assert "invalid --image 'UPPER/case:1'" in capsys.readouterr().err


def test_check_prints_the_resolved_requests_and_changes_nothing(world: dict[str, Path],
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    before = _refs(world["bare"])
    assert cli_main(["check", "--config", str(world["config"]), "--environment", "staging"]) == 0
    out = capsys.readouterr().out
    assert '"provider": "git"' in out and f"file://{world['bare']}" in out
    assert cli_main(["check", "--config", str(world["config"]), "--environment", "stagin"]) == 2
    assert _action(world, command="check", config=str(world["config"]), environment="staging") == 0
    _assert_nothing_happened(world, before)


def test_the_action_bumps_several_images_in_one_commit(world: dict[str, Path]) -> None:
    """Multi-image bump through the action: image one per line, one branch commit with both."""
    web = IMAGE.replace("dify-api", "dify-web")
    seed = world["root"] / "seed"
    (seed / "staging" / "web.yaml").write_text(MANIFEST.replace(IMAGE, web))
    _git("-c", "user.name=t", "-c", "user.email=t@e", "add", ".", cwd=seed)
    _git("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "web", cwd=seed)
    _git("push", "-q", str(world["bare"]), "HEAD:main", cwd=seed)
    assert _action(world, command="bump", config=str(world["config"]), environment="staging",
                   image=f"{IMAGE}:2.0\n{web}:2.1") == 0
    branch = next(line.split()[0] for line in _refs(world["bare"]).splitlines() if "dify-action/staging" in line)
    assert _git("rev-list", "--count", f"main..{branch}", cwd=world["bare"]).strip() == "1"
    assert f"{IMAGE}:2.0" in _git("show", f"{branch}:staging/api.yaml", cwd=world["bare"])
    assert f"{web}:2.1" in _git("show", f"{branch}:staging/web.yaml", cwd=world["bare"])
