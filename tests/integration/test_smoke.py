"""Smoke tests against the private dockerd: healthy, unhealthy, exiting, HTTP probe, commands,
and cleanup verified by label after every run (also on Ctrl-C and SIGTERM)."""

from __future__ import annotations

import io
import os
import signal
import socket
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from dify_action import interrupt
from dify_action.config.load import HttpProbe, SmokeSpec
from dify_action.errors import DockerError
from dify_action.front import cli
from dify_action.smoke import run as smoke

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _build(client: Any, base_image: str, tag: str, body: str) -> str:
    dockerfile = f"FROM {base_image}\n{body}"
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile.encode())
        tar.addfile(info, io.BytesIO(dockerfile.encode()))
    data.seek(0)
    client.images.build(fileobj=data, custom_context=True, tag=tag, network_mode="host", rm=True)
    return tag


@pytest.fixture(scope="module")
def images(docker_client: Any, base_image: str) -> dict[str, Any]:
    port = _free_port()
    serve = f"RUN mkdir -p /www && echo ok > /www/health\nENV PORT={port}\nCMD httpd -f -p 127.0.0.1:$PORT -h /www\n"
    health = (
        "HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD wget -q -O /dev/null http://127.0.0.1:$PORT/health\n"
    )
    return {
        "port": port,
        "healthy": _build(docker_client, base_image, "smoke-healthy:1", serve + health),
        "served": _build(docker_client, base_image, "smoke-served:1", serve),
        "unhealthy": _build(
            docker_client,
            base_image,
            "smoke-unhealthy:1",
            'HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD ["false"]\nCMD ["sleep", "300"]\n',
        ),
        "exits": _build(
            docker_client,
            base_image,
            "smoke-exits:1",
            'HEALTHCHECK --interval=1s CMD ["true"]\n'
            'CMD ["sh", "-c", "echo starting; echo boom: missing SECRET_KEY >&2; exit 3"]\n',
        ),
        "exits-plain": _build(docker_client, base_image, "smoke-exits-plain:1", 'CMD ["sh", "-c", "exit 4"]\n'),
        "sleeper": _build(docker_client, base_image, "smoke-sleeper:1", 'CMD ["sleep", "300"]\n'),
    }


def _left_behind(client: Any, run_id: str | None = None) -> list[Any]:
    label = f"{smoke.LABEL}={run_id}" if run_id else smoke.LABEL
    return list(client.containers.list(all=True, filters={"label": label}))


@pytest.fixture(autouse=True)
def _no_container_left(docker_client: Any) -> Any:
    yield
    assert _left_behind(docker_client) == []


def test_healthy_image_passes_with_commands(docker_client: Any, images: dict[str, Any]) -> None:
    spec = SmokeSpec(
        env={"MODE": "api"}, commands=('test "$MODE" = api', "wget -q -O - http://127.0.0.1:$PORT/health"), timeout=30
    )
    result = smoke.run_smoke(docker_client, images["healthy"], spec)
    assert result.passed, smoke.markdown(result)
    assert [c.name for c in result.checks] == ["healthcheck", *(f"command: {c}" for c in spec.commands)]
    assert result.checks[1].output == "" and result.checks[2].output.strip() == "ok"
    assert all(c.duration >= 0 for c in result.checks) and result.logs == ()
    assert _left_behind(docker_client, result.run_id) == []


def test_unhealthy_fails_fast_with_the_health_output(docker_client: Any, images: dict[str, Any]) -> None:
    result = smoke.run_smoke(docker_client, images["unhealthy"], SmokeSpec(timeout=60, commands=("true",)))
    assert not result.passed
    failing = result.failing
    assert failing is not None and failing.name == "healthcheck" and "unhealthy" in failing.detail
    assert failing.duration < 20  # fail fast, not at the 60 s timeout
    assert [c.name for c in result.checks] == ["healthcheck"]  # commands do not run
    assert "Failing check:** healthcheck" in smoke.markdown(result)


def test_container_that_exits_fails_with_its_logs(docker_client: Any, images: dict[str, Any]) -> None:
    result = smoke.run_smoke(docker_client, images["exits"], SmokeSpec(timeout=60, log_lines=5))
    failing = result.failing
    assert failing is not None and "exited with code 3" in failing.detail
    assert "boom: missing SECRET_KEY" in "\n".join(result.logs)
    text = smoke.markdown(result)
    assert "boom: missing SECRET_KEY" in text and "container log lines" in text
    plain = smoke.run_smoke(docker_client, images["exits-plain"], SmokeSpec())
    assert plain.failing is not None and plain.failing.name == "running" and "code 4" in plain.failing.detail


def test_http_probe(docker_client: Any, images: dict[str, Any]) -> None:
    port = images["port"]
    good = SmokeSpec(http_probe=HttpProbe(f"http://127.0.0.1:{port}/health", 200, 20))
    result = smoke.run_smoke(docker_client, images["served"], good)
    assert result.passed, smoke.markdown(result)
    assert result.checks[-1].name == "http-probe" and "HTTP 200" in result.checks[-1].detail
    wrong = SmokeSpec(http_probe=HttpProbe(f"http://127.0.0.1:{port}/missing", 200, 2))
    result = smoke.run_smoke(docker_client, images["served"], wrong)
    failing = result.failing
    assert failing is not None and failing.name == "http-probe"
    assert "expected HTTP 200 within 2s, last: HTTP 404" in failing.detail


def test_failing_command_reports_its_output_and_masks_secrets(docker_client: Any, images: dict[str, Any]) -> None:
    spec = SmokeSpec(
        env={"SECRET_KEY": "sk-do-not-print-42", "MODE": "api"},
        commands=("true", "echo key=$SECRET_KEY; echo importing boto3 >&2; exit 7", "touch /never-run"),
        timeout=30,
    )
    result = smoke.run_smoke(docker_client, images["healthy"], spec)
    failing = result.failing
    assert failing is not None and failing.name.startswith("command: echo key") and failing.detail == "exit code 7"
    assert "importing boto3" in failing.output and "key=***" in failing.output
    assert "sk-do-not-print-42" not in str(result.as_dict()) + smoke.markdown(result)
    assert len(result.checks) == 3  # healthcheck, true, the failing one; the third command never ran


def test_command_timeout(docker_client: Any, images: dict[str, Any]) -> None:
    result = smoke.run_smoke(docker_client, images["sleeper"], SmokeSpec(commands=("sleep 30",), timeout=1))
    failing = result.failing
    assert failing is not None and "did not finish in 1s" in failing.detail


@pytest.mark.parametrize("how", ["keyboard-interrupt", "sigterm"])
def test_interrupt_still_removes_the_container(docker_client: Any, images: dict[str, Any], how: str) -> None:
    run_id = uuid.uuid4().hex[:12]
    seen: list[int] = []

    def sleep(seconds: float) -> None:
        seen.append(len(_left_behind(docker_client, run_id)))
        if how == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)  # the handler raises interrupt.Terminated here
        raise KeyboardInterrupt

    before = signal.getsignal(signal.SIGTERM)
    expected = interrupt.Terminated if how == "sigterm" else KeyboardInterrupt
    with pytest.raises(expected):
        smoke.run_smoke(docker_client, images["sleeper"], SmokeSpec(), run_id=run_id, sleep=sleep)
    assert seen == [1]  # the container was there when interrupted...
    assert _left_behind(docker_client, run_id) == []  # ...and is gone now
    assert signal.getsignal(signal.SIGTERM) == before  # the previous handler is back


def test_missing_image_is_an_error_and_starts_nothing(docker_client: Any) -> None:
    with pytest.raises(DockerError, match="not in the Docker engine"):
        smoke.run_smoke(docker_client, "smoke-never-built:0", SmokeSpec())


def test_cli(
    docker_host: str, docker_client: Any, images: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "summary.md"
    base = ["test", "--docker-host", docker_host, "--summary", str(summary)]
    assert cli.main([*base, "--image", images["healthy"], "--smoke-command", "true", "--timeout", "30s"]) == 0
    assert cli.main([*base, "--image", images["exits-plain"], "--json"]) == 1
    out = capsys.readouterr()
    assert '"failing": "running"' in out.out and "failed check: running" in out.err
    text = summary.read_text()
    assert "smoke-healthy&#58;1</code> passed" in text and "smoke-exits-plain&#58;1</code> failed" in text
    config = tmp_path / "dify-action.yaml"
    config.write_text(
        "components:\n  - name: api\n    image: r.example.com/acme/dify-api\n"
        f"smoke:\n  api:\n    http-probe: {{url: 'http://127.0.0.1:{images['port']}/health'}}\n"
        "    commands: ['false']\n"
    )
    # Config settings apply; the flag replaces the config's commands.
    assert (
        cli.main(
            [
                "test",
                "--docker-host",
                docker_host,
                "--image",
                images["served"],
                "--config",
                str(config),
                "--component",
                "api",
            ]
        )
        == 1
    )
    assert (
        cli.main(
            [
                "test",
                "--docker-host",
                docker_host,
                "--image",
                images["served"],
                "--config",
                str(config),
                "--component",
                "api",
                "--smoke-command",
                "true",
            ]
        )
        == 0
    )
    # Bad input: exit 2 and nothing started.
    for bad in (
        ["--env", "NOEQUALS"],
        ["--timeout", "soon"],
        ["--http-probe", "ftp://x"],
        ["--component", "api"],
        ["--expect-status", "700"],
    ):
        assert cli.main(["test", "--docker-host", docker_host, "--image", images["healthy"], *bad]) == 2
    assert cli.main(["test", "--docker-host", docker_host, "--image", "Not A Ref"]) == 2
