"""Issue 23, a platform engineer's first hour: nothing fails open, on both in-process front ends (the
action through ``front.action.main``, the CLI through ``front.cli.main``). Each case is a class, tried
over generated inputs: exit 2, a message naming the input (or the CLI's flag), the command and what
it takes, and nothing changed on disk. The reusable workflows run the same cases under act
(tests/e2e/test_first_hour_act.py)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dify_action.errors import InputError
from dify_action.front import action, cli
from dify_action.resolve import resolve
from dify_action.resolve.request import BumpCommand, BumpInputs, GitOpsInputs, RunContext, Secrets

STAGING = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n" \
          "        - name: api\n          image: ghcr.io/acme/dify-api:1.0\n"
CONFIG = """version: 1
components:
  - {name: api, image: ghcr.io/acme/dify-api, dockerfile: Dockerfile}
environments:
  staging: {paths: [envs/staging]}
  production: {paths: [envs/production]}
"""


def tree(root: Path) -> Path:
    for env in ("staging", "production"):
        (root / "envs" / env).mkdir(parents=True, exist_ok=True)
        (root / "envs" / env / "api.yaml").write_text(STAGING)
    return root


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def run_action(tmp: Path, inputs: dict[str, str], capsys: pytest.CaptureFixture[str],
               environ: dict[str, str] | None = None) -> tuple[int, str]:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp / "out"), "GITHUB_WORKSPACE": str(tmp), **(environ or {})}
    env |= {f"INPUT_{k.upper()}": v for k, v in inputs.items()}
    code = action.main(env)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = cli.main(argv)
    except SystemExit as stop:  # argparse's usage errors
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# -- 1. a gate that checks nothing never passes: one value where a command takes one ---------------
images = st.lists(st.from_regex(r"[a-z]{1,8}/[a-z]{1,8}:[0-9]{1,3}", fullmatch=True), min_size=2, max_size=4,
                  unique=True)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["test", "scan"]), refs=images)
def test_several_images_for_a_one_image_command_are_refused_on_both_fronts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, refs: list[str]) -> None:
    code, log = run_action(tmp_path, {"command": command, "image": "\n".join(refs)}, capsys)
    assert code == 2 and "invalid image" in log and f"{command} works on one image" in log
    argv = [command]
    for ref in refs:
        argv += ["--image", ref]
    code, log = run_cli(argv, capsys)
    assert code == 2 and "--image takes one value" in log and f"{command} works on one image" in log


def test_a_scan_with_nothing_to_scan_never_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, log = run_action(tmp_path, {"command": "scan"}, capsys)
    assert code == 2 and "a scan that checks nothing never passes" in log
    code, log = run_cli(["scan"], capsys)
    assert code == 2 and "a scan that checks nothing never passes" in log


# -- 1. a gate that ran no check never passes: scanners skipped as missing are no pass -------------
SKIPPING = """version: 1
components:
  - {name: api, image: ghcr.io/acme/dify-api, dockerfile: Dockerfile}
scan: {missing-scanner: skip, scanners: {misconfig: false}}
"""


@pytest.mark.parametrize("installed", [(), ("hadolint",), ("trivy",)])
def test_a_scan_whose_scanners_were_all_skipped_fails_and_a_partial_one_warns(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        installed: tuple[str, ...]) -> None:
    tools = tmp_path / "bin"  # a runner with only these scanners on its PATH
    tools.mkdir()
    for name in installed:
        found = shutil.which(name)
        assert found, f"{name} is needed on PATH for this test (scripts/bootstrap installs it)"
        (tools / name).symlink_to(found)
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY app /app\n")
    (tmp_path / "dify-action.yaml").write_text(SKIPPING)
    missing = [name for name in ("trivy", "hadolint") if name not in installed]
    monkeypatch.setenv("PATH", str(tools))
    monkeypatch.chdir(tmp_path)
    config = str(tmp_path / "dify-action.yaml")
    for front, (code, log) in {
        "action": run_action(tmp_path, {"command": "scan", "config": config}, capsys, {"PATH": str(tools)}),
        "cli": run_cli(["scan", "--config", config], capsys),
    }.items():
        for name in missing:  # said on every run, passed or not
            assert f"{name} did not run: not installed (scan.missing-scanner: skip)" in log, (front, log)
        if installed:
            assert code == 0, (front, log)
        else:
            assert code == 1, (front, log)
            assert "no check ran: trivy not installed (scan.missing-scanner: skip); hadolint not installed " \
                   "(scan.missing-scanner: skip); a gate that ran no check never passes" in log, (front, log)
            assert "install the scanners" in log, (front, log)


# -- 2. an environment name without paths changes nothing ----------------------------------------
def test_an_environment_without_paths_is_refused_and_the_tree_stays(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tree(tmp_path / "gitops")
    before = snapshot(root)
    code, log = run_action(tmp_path, {"command": "bump", "gitops-dir": str(root), "environment": "staging",
                                      "image": "ghcr.io/acme/dify-api:2.0"}, capsys)
    assert code == 2 and "invalid paths ''" in log and "would change every environment" in log
    code, log = run_cli(["bump", "--gitops-dir", str(root), "--environment", "staging",
                         "--image", "ghcr.io/acme/dify-api:2.0"], capsys)
    assert code == 2 and "invalid --path ''" in log and "would change every environment" in log
    assert snapshot(root) == before
    # said out loud, the whole tree is a choice (and the bump edits both files)
    assert run_cli(["bump", "--gitops-dir", str(root), "--environment", "staging", "--path", ".",
                    "--image", "ghcr.io/acme/dify-api:2.0"], capsys)[0] == 0
    assert snapshot(root) != before


segments = st.sampled_from(["envs", "staging", "production", "apps", "."])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(segments, min_size=1, max_size=3).map("/".join))
def test_paths_reaching_into_another_environment_are_refused(tmp_path: Path, path: str) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "dify-action.yaml").write_text(CONFIG)
    root = tree(tmp_path / "gitops")
    request = BumpCommand(str(tmp_path / "dify-action.yaml"),
                          BumpInputs(environment="staging", images=("ghcr.io/acme/dify-api:2",), paths=(path,)),
                          GitOpsInputs(directory=str(root)), RunContext())
    norm = Path(path).as_posix()
    parts = [p for p in norm.split("/") if p != "."]
    reaches = parts in ([], ["envs"], ["envs", "production"]) or parts[:2] == ["envs", "production"]
    if reaches:
        with pytest.raises(InputError) as caught:
            resolve(request, Secrets())
        assert caught.value.name == "paths" and "environment 'production'" in caught.value.message
    else:
        plan = resolve(request, Secrets())
        assert plan.gitops is not None and plan.gitops.paths == (path,)


def test_paths_reaching_into_another_environment_are_refused_on_both_fronts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    config = tmp_path / "dify-action.yaml"
    config.write_text(CONFIG)
    root = tree(tmp_path / "gitops")
    before = snapshot(root)
    code, log = run_action(tmp_path, {"command": "bump", "config": str(config), "gitops-dir": str(root),
                                      "environment": "staging", "paths": "envs", "image": "ghcr.io/acme/dify-api:2"},
                           capsys)
    assert code == 2 and "invalid paths 'envs'" in log and "a path of environment 'production'" in log, log
    code, log = run_cli(["bump", "--config", str(config), "--gitops-dir", str(root), "--environment", "staging",
                         "--path", "envs", "--image", "ghcr.io/acme/dify-api:2"], capsys)
    assert code == 2 and "invalid --path 'envs'" in log and "a path of environment 'production'" in log, log
    assert snapshot(root) == before


# -- 3. push false never deploys ------------------------------------------------------------------
def test_a_pipeline_that_does_not_push_deploys_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tree(tmp_path / "gitops")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    before = snapshot(root)
    inputs = {"repository": "ghcr.io/acme/dify-api", "file": str(tmp_path / "Dockerfile"),
              "context": str(tmp_path), "tags": "2.0", "push": "false", "gitops-dir": str(root),
              "environment": "staging", "paths": "envs/staging"}
    code, log = run_action(tmp_path, inputs, capsys)
    assert code == 2 and "invalid push 'false'" in log and "cannot be pulled there" in log
    (tmp_path / "dify-action.yaml").write_text(CONFIG)
    code, log = run_cli(["pipeline", "--config", str(tmp_path / "dify-action.yaml"), "--tag", "2.0", "--no-push",
                         "--gitops-dir", str(root), "--environment", "staging"], capsys)
    assert code == 2 and "invalid --push 'false'" in log
    assert snapshot(root) == before


def test_push_false_with_a_config_environment_that_declares_its_repository(tmp_path: Path) -> None:
    bare = tmp_path / "gitops.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    declared = CONFIG.replace("staging: {", f"staging: {{repository: 'file://{bare}', ")
    (tmp_path / "dify-action.yaml").write_text(declared)
    from dify_action.resolve.request import BuildInputs, PipelineCommand

    request = PipelineCommand(str(tmp_path / "dify-action.yaml"), build=BuildInputs(tags=("2.0",), push=False),
                              bump=BumpInputs(environment="staging"))
    with pytest.raises(InputError) as caught:
        resolve(request, Secrets())
    assert caught.value.name == "push"
    # without an environment the pipeline stops after the gates: what the reusable workflow passes
    plan = resolve(PipelineCommand(str(tmp_path / "dify-action.yaml"), build=BuildInputs(tags=("2.0",), push=False)),
                   Secrets())
    assert plan.gitops is None


# -- 8. the first switch from the upstream image: the refusal names the upstream near-miss ----------
def test_switching_from_upstream_names_the_near_miss_on_both_fronts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "gitops"
    root.mkdir()
    (root / "values-staging.yaml").write_text("image:\n  api:\n    repository: langgenius/dify-api\n"
                                              "    tag: 1.13.3\n")
    before = snapshot(root)
    expected = "the same image name from another repository: langgenius/dify-api (values-staging.yaml:"
    code, log = run_action(tmp_path, {"command": "bump", "gitops-dir": str(root), "paths": "values-staging.yaml",
                                      "image": "ghcr.io/acme/dify-api:1.13.3-acme.1"}, capsys)
    assert code == 2 and expected in log and "Switching from the upstream image" in log, log
    code, log = run_cli(["bump", "--gitops-dir", str(root), "--path", "values-staging.yaml",
                         "--image", "ghcr.io/acme/dify-api:1.13.3-acme.1"], capsys)
    assert code == 2 and expected in log and "Switching from the upstream image" in log, log
    assert snapshot(root) == before


# -- 9. owner/name is a repository on the run's server, on every front end ------------------------
def test_gitops_repo_owner_name_is_the_repository_on_the_server() -> None:
    request = BumpCommand(None, BumpInputs(environment="staging", images=("ghcr.io/acme/dify-api:2",),
                                           paths=("envs/staging",)), GitOpsInputs(repo="acme/dify-gitops"),
                          RunContext(server_url="https://ghe.example", api_url="https://ghe.example/api/v3"))
    plan = resolve(request, Secrets(token="t"))
    assert plan.gitops is not None and plan.gitops.delivery is not None
    dest = plan.gitops.delivery.destination
    assert (dest.repo_url, dest.github_repo, dest.provider) == (
        "https://ghe.example/acme/dify-gitops.git", "acme/dify-gitops", "github")


# -- 9. ask for nothing needless, say what is meant ------------------------------------------------
PUSHING = """version: 1
registry: {host: registry.example.com, username: ci}
components:
  - {name: api, image: registry.example.com/acme/dify-api, dockerfile: Dockerfile}
tags: {rules: ["type=dify,suffix=-acme.{{run_number}}", "type=sha"]}
"""


def test_check_asks_for_no_password_reads_head_and_says_which_rule_made_no_tag(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIFY_ACTION_REGISTRY_PASSWORD", raising=False)
    (tmp_path / "Dockerfile").write_text("FROM langgenius/dify-api:1.13.3\n")
    (tmp_path / "dify-action.yaml").write_text(PUSHING)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "app"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    code, log = run_cli(["check", "--config", str(tmp_path / "dify-action.yaml")], capsys)
    assert code == 0, log
    assert f"sha-{head[:7]}" in log and "sha-0000000" not in log
    assert "made no tag: its prefix or suffix names a value this build does not have" in log
    code, log = run_cli(["check", "--config", str(tmp_path / "dify-action.yaml"), "--run-number", "7"], capsys)
    assert code == 0 and "1.13.3-acme.7" in log
    code, log = run_action(tmp_path, {"command": "check", "config": str(tmp_path / "dify-action.yaml")}, capsys)
    assert code == 0, log
    # a run that pushes still needs it, checked before anything runs
    code, log = run_cli(["build", "--config", str(tmp_path / "dify-action.yaml"), "--revision", head], capsys)
    assert code == 2 and "invalid $DIFY_ACTION_REGISTRY_PASSWORD ''" in log


def test_a_missing_token_is_an_input_error_not_a_404(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITOPS_TOKEN", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    code, log = run_action(tmp_path, {"command": "bump", "gitops-repo": "acme/dify-gitops", "environment": "staging",
                                      "paths": "envs/staging", "image": "ghcr.io/acme/dify-api:2"}, capsys)
    assert code == 2 and "invalid token ''" in log and "acme/dify-gitops on GitHub" in log
    code, log = run_cli(["bump", "--gitops-repo", "acme/dify-gitops", "--environment", "staging", "--path",
                         "envs/staging", "--image", "ghcr.io/acme/dify-api:2"], capsys)
    assert code == 2 and "invalid $GITOPS_TOKEN (or $GITHUB_TOKEN) ''" in log


@pytest.mark.parametrize("where", ["", ".github/", ".github/dify/"])
def test_config_paths_are_relative_to_the_repository_root_wherever_the_config_is(tmp_path: Path, where: str) -> None:
    from dify_action.resolve.request import BuildCommand, BuildInputs

    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile").write_text("FROM scratch\n")
    config = tmp_path / where / "dify-action.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("version: 1\ncomponents:\n  - {name: api, image: ghcr.io/acme/dify-api, context: api, "
                      "dockerfile: api/Dockerfile}\n")
    plan = resolve(BuildCommand(str(config), build=BuildInputs(tags=("1",), push=False)), Secrets())
    assert plan.build is not None
    (spec,) = plan.build.specs
    assert (spec.dockerfile, spec.context) == (tmp_path.resolve() / "api" / "Dockerfile", tmp_path.resolve() / "api")


def test_bump_dry_run_with_a_repository_clones_and_shows_the_diff(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    work = tree(tmp_path / "work")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "gitops"], check=True)
    bare = tmp_path / "gitops.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    refs_before = subprocess.run(["git", "-C", str(bare), "show-ref"], capture_output=True, text=True).stdout
    args = {"gitops-repo": bare.as_uri(), "environment": "staging", "paths": "envs/staging",
            "image": "ghcr.io/acme/dify-api:2.0", "dry-run": "true", "provider": "git"}
    code, log = run_action(tmp_path, {"command": "bump", **args}, capsys)
    assert code == 0, log
    from testbed.outputs import parse_output_file

    outputs = parse_output_file((tmp_path / "out").read_text())
    assert outputs["operation"] == "planned"  # one word for a dry run, in every command
    assert '"new": "ghcr.io/acme/dify-api:2.0"' in outputs["json"] and "envs/production" not in outputs["json"]
    code, log = run_cli(["bump", "--gitops-repo", bare.as_uri(), "--environment", "staging", "--path",
                         "envs/staging", "--image", "ghcr.io/acme/dify-api:2.0", "--dry-run", "--provider", "git"],
                        capsys)
    assert code == 0, log
    assert "-          image: ghcr.io/acme/dify-api:1.0" in log and "+          image: ghcr.io/acme/dify-api:2.0" in log
    assert "envs/production" not in log
    assert subprocess.run(["git", "-C", str(bare), "show-ref"], capture_output=True, text=True).stdout == refs_before
