"""Smoke-test a built image: run it, wait until it is ready, run commands in it, always clean up.

Ready means: its HEALTHCHECK reports ``healthy`` (``unhealthy`` or an exit fails at once), and/or
a configured HTTP probe answers the expected status. With neither, the container must still be
running after a short settle time. An image missing from the engine is pulled first (by digest
when the reference has one): on GitHub every job starts on a fresh machine. The container shares
the network namespace the probe runs in, so ``127.0.0.1`` in ``http-probe`` is the container on a
laptop and on a GitHub-hosted runner alike: ``network_mode=container:<our container>`` when we
run in a container of the same engine (the runner's per-job bridge network), else the host
network. It has a unique name and the label ``io.dify-action.smoke=<run id>``, and is
force-removed in every case: success, failure, timeout, exception, Ctrl-C or SIGTERM.
Values of secret-looking env vars (``*KEY*``, ``*SECRET*``, ``*PASSWORD*``, ``*TOKEN*``) are
masked in logs and command output before they reach the result.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dify_action import interrupt
from dify_action.config.load import SmokeSpec
from dify_action.engine.job import ensure_image, sibling_network
from dify_action.errors import DockerError
from dify_action.markdown import code, escape
from dify_action.registry import Credentials
from dify_action.text import safe_text

LABEL = "io.dify-action.smoke"
POLL = 0.25
SETTLE = 1.5
_SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL", re.IGNORECASE)


@dataclass(frozen=True)
class Check:
    """One check: ``name`` (running, healthcheck, http-probe, command), its outcome, how long."""

    name: str
    passed: bool
    duration: float
    detail: str = ""
    output: str = ""


@dataclass(frozen=True)
class SmokeResult:
    image: str
    container: str
    run_id: str
    checks: tuple[Check, ...]
    logs: tuple[str, ...] = ()
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def failing(self) -> Check | None:
        return next((check for check in self.checks if not check.passed), None)

    def as_dict(self) -> dict[str, object]:
        return {
            "image": self.image,
            "container": self.container,
            "run_id": self.run_id,
            "passed": self.passed,
            "duration": round(self.duration, 3),
            "checks": [
                {"name": c.name, "passed": c.passed, "duration": round(c.duration, 3), "detail": c.detail}
                | ({"output": c.output} if c.output else {})
                for c in self.checks
            ],
            "failing": self.failing.name if self.failing else None,
            "logs": list(self.logs),
        }


@dataclass
class _Run:
    client: Any
    image: str
    spec: SmokeSpec
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    secrets: tuple[str, ...] = ()
    checks: list[Check] = field(default_factory=list)


def run_smoke(
    client: Any,
    image: str,
    spec: SmokeSpec,
    *,
    run_id: str | None = None,
    credentials: Credentials | None = None,
    network_mode: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> SmokeResult:
    """Run the smoke test of ``image`` with a docker SDK ``client``; never leaves a container.

    ``credentials`` pull the image when the engine lacks it; ``network_mode`` overrides the
    choice above (e.g. ``host``).
    """
    import docker.errors

    run_id = run_id or uuid.uuid4().hex[:12]
    name = f"dify-action-smoke-{run_id}"
    ensure_image(client, image, credentials)
    network_mode = network_mode or sibling_network(client)
    try:
        attrs = client.images.get(image).attrs
    except docker.errors.ImageNotFound:
        raise DockerError(
            f"image {image} is not in the Docker engine", hint="build it first (dify-action build)"
        ) from None
    health = ((attrs.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
    has_healthcheck = bool(health) and health[0] != "NONE"
    secrets = tuple(v for k, v in spec.env.items() if _SECRET_NAME.search(k) and len(v) >= 4)
    state = _Run(client, image, spec, clock, sleep, secrets)
    started = clock()
    container = None
    logs: tuple[str, ...] = ()
    with interrupt.terminating():
        try:
            container = client.containers.create(
                image,
                name=name,
                labels={LABEL: run_id},
                environment=dict(spec.env),
                network_mode=network_mode,
                detach=True,
            )
            container.start()
            ready = _wait_ready(state, container, has_healthcheck)
            if ready:
                for command in spec.commands:
                    if not _exec(state, container, command):
                        break
            if not all(c.passed for c in state.checks):
                logs = _logs(state, container)
        except docker.errors.APIError as error:
            state.checks.append(Check("start", False, clock() - started, _mask(state, _api_message(error))))
            if container is not None:
                logs = _logs(state, container)
        finally:
            _remove(client, container, run_id)
    return SmokeResult(image, name, run_id, tuple(state.checks), logs, clock() - started)


def _wait_ready(state: _Run, container: Any, has_healthcheck: bool) -> bool:
    spec = state.spec
    if spec.healthcheck and has_healthcheck and not _wait_health(state, container):
        return False
    if spec.http_probe is not None:
        return _wait_http(state, container)
    if not (spec.healthcheck and has_healthcheck):
        start = state.clock()
        while state.clock() - start < SETTLE:
            state.sleep(POLL)
            if (exited := _exited(container)) is not None:
                state.checks.append(Check("running", False, state.clock() - start, exited))
                return False
        note = "" if has_healthcheck else " (the image has no HEALTHCHECK)"
        state.checks.append(Check("running", True, state.clock() - start, f"still running after {SETTLE}s{note}"))
    return True


def _exited(container: Any) -> str | None:
    container.reload()
    status = container.attrs["State"]["Status"]
    if status in {"exited", "dead"}:
        return f"the container exited with code {container.attrs['State'].get('ExitCode')}"
    return None


def _wait_health(state: _Run, container: Any) -> bool:
    start = state.clock()
    while True:
        if (exited := _exited(container)) is not None:
            state.checks.append(Check("healthcheck", False, state.clock() - start, exited))
            return False
        health = container.attrs["State"].get("Health") or {}
        status = str(health.get("Status", "starting"))
        if status in {"healthy", "unhealthy"}:
            log = health.get("Log") or [{}]
            output = _mask(state, str(log[-1].get("Output", "")).strip())
            detail = f"HEALTHCHECK reported {status}"
            state.checks.append(Check("healthcheck", status == "healthy", state.clock() - start, detail, output))
            return status == "healthy"
        if state.clock() - start >= state.spec.timeout:
            detail = f"HEALTHCHECK still '{status}' after {state.spec.timeout:g}s"
            state.checks.append(Check("healthcheck", False, state.clock() - start, detail))
            return False
        state.sleep(POLL)


def _wait_http(state: _Run, container: Any) -> bool:
    import requests

    probe = state.spec.http_probe
    assert probe is not None
    start = state.clock()
    last = "no answer yet"
    while True:
        try:
            answer = requests.get(probe.url, timeout=min(5.0, probe.timeout), allow_redirects=False)
            last = f"HTTP {answer.status_code}"
            if answer.status_code == probe.status:
                state.checks.append(Check("http-probe", True, state.clock() - start, f"{probe.url} answered {last}"))
                return True
        except requests.RequestException as error:
            last = type(error).__name__
        if (exited := _exited(container)) is not None:
            state.checks.append(Check("http-probe", False, state.clock() - start, exited))
            return False
        if state.clock() - start >= probe.timeout:
            detail = f"{probe.url}: expected HTTP {probe.status} within {probe.timeout:g}s, last: {last}"
            state.checks.append(Check("http-probe", False, state.clock() - start, detail))
            return False
        state.sleep(POLL)


def _exec(state: _Run, container: Any, command: str) -> bool:
    """Run ``command`` with ``sh -c``; a non-zero exit or a timeout fails with its output."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = container.exec_run(["/bin/sh", "-c", command], stdout=True, stderr=True)
        except Exception as error:  # reported below; the SDK raises several types
            outcome["error"] = error

    start = state.clock()
    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(state.spec.timeout)
    duration = state.clock() - start
    if worker.is_alive():
        detail = f"did not finish in {state.spec.timeout:g}s"
        state.checks.append(Check(f"command: {command}", False, duration, detail))
        return False
    if "error" in outcome:
        state.checks.append(Check(f"command: {command}", False, duration, _api_message(outcome["error"])))
        return False
    code, raw = outcome["result"]
    output = _mask(state, _tail((raw or b"").decode("utf-8", "replace"), 40))
    passed = bool(code == 0)
    state.checks.append(Check(f"command: {command}", passed, duration, f"exit code {code}", output))
    return passed


def _logs(state: _Run, container: Any) -> tuple[str, ...]:
    try:
        raw = container.logs(stdout=True, stderr=True, tail=state.spec.log_lines)
    except Exception:  # the container may already be gone; logs are best effort
        return ()
    return tuple(_mask(state, raw.decode("utf-8", "replace")).splitlines()[-state.spec.log_lines :])


def _remove(client: Any, container: Any, run_id: str) -> None:
    """Force-remove our container, found by object or, if creation raced an error, by label."""
    import docker.errors

    for attempt in range(3):
        try:
            targets = [container] if container is not None else []
            targets += client.containers.list(all=True, filters={"label": f"{LABEL}={run_id}"})
            for target in targets:
                with contextlib.suppress(docker.errors.NotFound):
                    target.remove(force=True, v=True)
            return
        except docker.errors.APIError:
            if attempt == 2:
                break
            time.sleep(0.5)
    raise DockerError(
        f"could not remove the smoke-test container(s) labelled {LABEL}={run_id}",
        hint=f"docker rm -f $(docker ps -aq --filter label={LABEL}={run_id})",
    )


def markdown(result: SmokeResult, *, title: str = "Smoke test") -> str:
    """A job-summary fragment: the checks, and on failure the failing check and the last logs."""
    verdict = "passed" if result.passed else "failed"
    lines = [f"### {escape(title)} of {code(result.image)} {verdict}", "", "| Check | Result | Duration | Detail |"]
    lines.append("| --- | --- | ---: | --- |")
    for check in result.checks:  # names, details and logs come from the image: escaped, fenced, neutralised
        lines.append(f"| {escape(check.name)} | {'ok' if check.passed else 'FAILED'} | {check.duration:.1f}s | "
                     f"{escape(' '.join(check.detail.split()))} |")
    failing = result.failing
    if failing is not None:
        lines += ["", f"**Failing check:** {escape(failing.name)}: {escape(failing.detail)}"]
        if failing.output:
            lines += ["", "Output:", "", *_fence([safe_text(line) for line in failing.output.splitlines()])]
        if result.logs:
            lines += ["", f"Last {len(result.logs)} container log lines:", "",
                      *_fence([safe_text(line) for line in result.logs])]
    lines.append("")
    return "\n".join(lines)


def _fence(lines: list[str]) -> list[str]:
    longest = max((len(m) for line in lines for m in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + "text", *lines, fence]


def _mask(state: _Run, text: str) -> str:
    for secret in state.secrets:
        text = text.replace(secret, "***")
    return text


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _api_message(error: BaseException) -> str:
    explanation = getattr(error, "explanation", None)
    return f"{type(error).__name__}: {explanation or error}"
