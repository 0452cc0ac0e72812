"""Hostile git environments and bad refs against real git servers (issue #9 item 8): tracing
variables and trace2 config never carry the token into a trace file; a bad ``base`` or
``github-api-url`` is exit 2 naming the input, before any remote is used."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from emulator import GitHubEmulator
from emulator.scenario import request
from requestkit import delivery_request

from dify_action.delivery import Git, deliver
from dify_action.delivery.git import git_environment
from dify_action.errors import EXIT_BAD_INPUT, GitError, InputError

pytestmark = pytest.mark.integration
UNREACHABLE = "http://127.0.0.1:9/acme/gitops.git"  # discard port: nothing answers


def tracing_env(tmp_path: Path) -> tuple[dict[str, str], list[Path]]:
    """Every git tracing switch pointed at a file, trace2 told to log http.* config and the
    GIT_CONFIG_* variables, plus a global config file that sets trace2 targets of its own."""
    traces = tmp_path / "traces"
    traces.mkdir()
    names = ("GIT_TRACE", "GIT_TRACE_CURL", "GIT_TRACE_PACKET", "GIT_TRACE_SETUP", "GIT_TRACE2",
             "GIT_TRACE2_EVENT", "GIT_TRACE2_PERF")
    env = {**os.environ, **{name: str(traces / name) for name in names}, "GIT_CURL_VERBOSE": "1",
           "GIT_TRACE_REDACT": "0", "GIT_TRACE2_CONFIG_PARAMS": "http.*",
           "GIT_TRACE2_ENV_VARS": "GIT_CONFIG_KEY_0,GIT_CONFIG_VALUE_0,GIT_CONFIG_KEY_1,GIT_CONFIG_VALUE_1"}
    config = tmp_path / "gitconfig"
    config.write_text(f"[trace2]\n\teventTarget = {traces / 'config-event'}\n\tnormalTarget = "
                      f"{traces / 'config-normal'}\n\tconfigParams = http.*\n\tenvVars = GIT_CONFIG_VALUE_0\n")
    env["GIT_CONFIG_GLOBAL"] = str(config)
    return env, [traces / name for name in (*names, "config-event", "config-normal")]


def test_trace_variables_and_trace2_config_never_get_the_token(
        emulator: GitHubEmulator, tmp_path: Path, clone_dirs: Callable[[], Path]) -> None:
    env, traces = tracing_env(tmp_path)
    basic = base64.b64encode(f"x-access-token:{emulator.token}".encode()).decode()
    # Control: git given the header the same way (GIT_CONFIG_*) with this environment traces it.
    control = {**env, "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
               "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}
    proc = subprocess.run(["git", "ls-remote", emulator.clone_url], env=control, capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert any(path.exists() and basic in path.read_text(errors="replace") for path in traces)
    for path in traces:
        path.unlink(missing_ok=True)

    workdir = clone_dirs()
    workdir.mkdir()
    git = Git(emulator.clone_url, workdir, emulator.token, base_env=env)
    base, _ = git.clone(None)
    git.run("checkout", "--quiet", "-b", "dify-action/trace")
    assert git.push("HEAD", "dify-action/trace").status == "ok"
    assert emulator.repo.sha("dify-action/trace") == emulator.repo.sha(base)
    leaked = [p.name for p in traces if p.exists() and (emulator.token in p.read_text(errors="replace")
                                                       or basic in p.read_text(errors="replace"))]
    assert not leaked
    assert not [p.name for p in traces if p.exists() and p.stat().st_size]  # no trace written at all


def test_git_environment_is_an_allow_list() -> None:
    env = git_environment({"PATH": "/bin", "HOME": "/root", "GIT_DIR": "/elsewhere", "GIT_TRACE2_EVENT": "/t",
                           "GIT_TRACE2_CONFIG_PARAMS": "http.*", "GIT_CONFIG_COUNT": "1",
                           "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "/w",
                           "GIT_SSL_NO_VERIFY": "1", "GIT_ASKPASS": "/bin/echo", "AWS_SECRET_ACCESS_KEY": "x"})
    assert {k: env[k] for k in ("PATH", "HOME", "GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0")} == {
        "PATH": "/bin", "HOME": "/root", "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory",
        "GIT_CONFIG_VALUE_0": "/w"}
    assert env["GIT_TRACE2_EVENT"] == env["GIT_TRACE"] == env["GIT_CURL_VERBOSE"] == "0"
    assert env["GIT_ASKPASS"] == ""
    for gone in ("GIT_DIR", "GIT_TRACE2_CONFIG_PARAMS", "GIT_SSL_NO_VERIFY", "AWS_SECRET_ACCESS_KEY"):
        assert gone not in env


@pytest.mark.parametrize("base", ["nope\n", "--upload-pack=touch {marker}", "-b", "a..b", "x y", "main:evil",
                                  "refs/heads/main", "a\x1b[31m"])
def test_malformed_base_is_bad_input_before_any_remote(base: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    base = base.format(marker=marker)
    with pytest.raises(InputError) as caught:  # the remote does not exist: reaching it would be a GitError
        deliver(request_to(UNREACHABLE, tmp_path, base=base))
    assert caught.value.exit_code == EXIT_BAD_INPUT and caught.value.name == "base"
    assert not marker.exists()


def request_to(url: str, tmp_path: Path, **extra: object) -> object:
    from dify_action.bump import Target

    fields: dict[str, object] = {"repo_url": url, "environment": "staging", "paths": ("environments/staging",),
                                 "targets": (Target.from_inputs("127.0.0.1:5000/acme/dify-api", "1.2.3"),),
                                 "workdir": tmp_path / "clone", "sleep": lambda s: None}
    return delivery_request(**(fields | extra))  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://api.example/", "https://user:pw@api.example",
                                 "api.github.com", "https://api.example\n/x", "javascript:alert(1)"])
def test_non_http_github_api_url_is_bad_input(url: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        deliver(request_to(UNREACHABLE, tmp_path, provider="github", github_api_url=url))
    assert caught.value.exit_code == EXIT_BAD_INPUT and caught.value.name == "github-api-url"


def test_missing_branch_and_tag_are_bad_input(emulator: GitHubEmulator, clone_dirs: Callable[[], Path]) -> None:
    emulator.repo.commit_files("main", {"TAGGED": "x\n"}, "to tag")
    subprocess.run(["git", "-C", str(emulator.repo.path), "tag", "v1", "main"], check=True)
    before = emulator.repo.branches()
    for base, why in (("nope", "no such branch"), ("v1", "this is a tag")):
        with pytest.raises(InputError, match=why) as caught:
            deliver(request(emulator, clone_dirs(), provider="git", base=base))
        assert caught.value.name == "base" and caught.value.exit_code == EXIT_BAD_INPUT
    assert emulator.repo.branches() == before and not emulator.pulls


def test_errors_keep_the_url_port(tmp_path: Path) -> None:
    workdir = tmp_path / "clone"
    workdir.mkdir()
    git = Git(UNREACHABLE, workdir, base_env=os.environ)
    with pytest.raises(GitError) as caught:
        git.clone(None)
    assert "http://127.0.0.1:9/acme/gitops.git" in str(caught.value)
