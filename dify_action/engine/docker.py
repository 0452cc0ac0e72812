"""The Docker engine adapter: build (legacy builder via the SDK, or BuildKit via the docker CLI),
tag, inspect and push. Nothing here knows about components, configs or tag policies.

Every build runs with the host network (``network_mode="host"`` / ``--network host``): runners
without a default bridge need it, and RUN steps under BuildKit fail without it.
Credentials reach the daemon only as values: ``auth_config`` of the push API, and for the CLI a
config.json that is a named pipe, removed as soon as the CLI has read it (engine/credentials.py).
An interrupted build (Ctrl-C, SIGTERM) stops the CLI, which cancels the build in the daemon.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dify_action import refs
from dify_action.engine.credentials import docker_config
from dify_action.errors import DockerError, InputError
from dify_action.registry import Credentials

Builder = Literal["auto", "buildkit", "legacy"]
Progress = Callable[[str], None]
DOCKER_CLI = "/usr/bin/docker"
_TAIL = 25


@dataclass(frozen=True)
class BuildRequest:
    """One ``docker build``: every value resolved (paths absolute, tags full references)."""

    dockerfile: Path
    context: Path
    tags: tuple[str, ...]
    build_args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    cache_from: tuple[str, ...] = ()
    platform: str | None = None
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)  # id -> value
    secret_files: Mapping[str, Path] = field(default_factory=dict)  # id -> file


class Throttle:
    """Pass progress lines on at most once per ``interval`` seconds per stream (readable CI logs).

    ``flush`` emits the last held-back line of a stream, so the final state is always shown.
    """

    def __init__(self, sink: Progress | None, interval: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sink, self.interval, self.clock = sink, interval, clock
        self._last: dict[str, float] = {}
        self._held: dict[str, str] = {}

    def __call__(self, stream: str, line: str, *, force: bool = False) -> None:
        line = line.rstrip()
        if self.sink is None or not line:
            return
        now = self.clock()
        if force or now - self._last.get(stream, -1e9) >= self.interval:
            self._last[stream] = now
            self._held.pop(stream, None)
            self.sink(f"[{stream}] {line}")
        else:
            self._held[stream] = line

    def flush(self, stream: str) -> None:
        held = self._held.pop(stream, None)
        if held is not None and self.sink is not None:
            self.sink(f"[{stream}] {held}")


class DockerEngine:
    """A Docker daemon at ``base_url`` (e.g. ``unix:///var/run/docker.sock``; the front end reads
    DOCKER_HOST, never this module). ``cli`` is the docker client used for BuildKit builds."""

    def __init__(self, base_url: str, *, cli: str | None = DOCKER_CLI, timeout: int = 1800) -> None:
        import docker  # lazy: `--help` must stay fast

        self.base_url = base_url
        self.cli = cli
        try:
            self.client = docker.DockerClient(base_url=base_url, timeout=timeout)
            self.client.ping()
        except Exception as error:  # the SDK raises several unrelated types here
            raise DockerError(
                f"cannot reach the Docker engine at {base_url}: {type(error).__name__}",
                hint="start dockerd or set DOCKER_HOST / --docker-host to its socket",
            ) from None

    def close(self) -> None:
        self.client.close()

    def buildkit_available(self) -> bool:
        return bool(self.cli) and Path(str(self.cli)).is_file()

    def choose(self, builder: Builder) -> Literal["buildkit", "legacy"]:
        if builder == "auto":
            return "buildkit" if self.buildkit_available() else "legacy"
        if builder == "buildkit" and not self.buildkit_available():
            raise InputError("builder", builder, f"buildkit needs the docker CLI at {self.cli}; "
                             "install it or choose builder 'legacy' (or 'auto')")
        return builder

    # -- build ----------------------------------------------------------------------------------
    def build(self, request: BuildRequest, builder: Literal["buildkit", "legacy"], progress: Throttle,
              credentials: Mapping[str, Credentials] | None = None) -> str:
        """Build and tag; return the image id."""
        for secret_id in request.secrets:  # before anything is written or run
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", secret_id):
                raise InputError("secrets", secret_id, "an id of letters, digits, '_', '.' or '-' (1-64)")
        if builder == "buildkit":
            return self._build_cli(request, progress, credentials or {})
        if request.secrets:
            raise InputError("builder", builder, "build secrets (RUN --mount=type=secret) need BuildKit: "
                             "builder 'buildkit' or 'auto' with the docker CLI present")
        return self._build_sdk(request, progress)

    def _build_sdk(self, request: BuildRequest, progress: Throttle) -> str:
        tail: list[str] = []
        image_id = None
        stream = self.client.api.build(
            path=str(request.context), dockerfile=str(request.dockerfile), tag=request.tags[0],
            buildargs=dict(request.build_args), labels=dict(request.labels), target=request.target,
            cache_from=list(request.cache_from) or None, network_mode="host", rm=True, forcerm=True,
            decode=True, platform=request.platform,
        )
        for chunk in stream:
            if "error" in chunk:
                tail.append(str(chunk["error"]))
                raise DockerError("docker build failed:\n" + "\n".join(tail[-_TAIL:]),
                                  hint="fix the failing step shown above")
            text = str(chunk.get("stream") or chunk.get("status") or "")
            for line in text.splitlines():
                if line.strip():
                    tail.append(line)
                    progress("build", line)
            image_id = chunk.get("aux", {}).get("ID", image_id)
        progress.flush("build")
        if not image_id:
            raise DockerError("docker build ended without an image id:\n" + "\n".join(tail[-_TAIL:]))
        for tag in request.tags[1:]:
            self.tag(str(image_id), tag)
        return str(image_id)

    def _build_cli(
        self, request: BuildRequest, progress: Throttle, credentials: Mapping[str, Credentials]
    ) -> str:
        with tempfile.TemporaryDirectory(prefix="dify-action-build-") as temp, \
                docker_config(credentials) as config:
            iidfile = Path(temp) / "iid"
            argv = [str(self.cli), "build", "--network", "host", "--progress", "plain",
                    "--iidfile", str(iidfile), "-f", str(request.dockerfile)]
            for tag in request.tags:
                argv += ["-t", tag]
            # inline cache metadata lets the next build use this image with --cache-from
            for key, value in {"BUILDKIT_INLINE_CACHE": "1", **request.build_args}.items():
                argv += ["--build-arg", f"{key}={value}"]
            for key, value in request.labels.items():
                argv += ["--label", f"{key}={value}"]
            if request.target:
                argv += ["--target", request.target]
            for image in request.cache_from:
                argv += ["--cache-from", image]
            if request.platform:
                argv += ["--platform", request.platform]
            argv += _secret_args(request, Path(temp))
            argv.append(str(request.context))
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": temp, "DOCKER_HOST": self.base_url,
                   "DOCKER_BUILDKIT": "1", "DOCKER_CONFIG": str(config.path)}
            # the CLI has read its config before the build prints anything: remove it then
            tail = self._run_streaming(argv, env, progress, first_line=config.close)
            if not iidfile.exists():
                raise DockerError("docker build failed:\n" + "\n".join(tail[-_TAIL:]),
                                  hint="fix the failing step shown above")
            return iidfile.read_text().strip()

    def _run_streaming(self, argv: list[str], env: dict[str, str], progress: Throttle,
                       first_line: Callable[[], None] | None = None) -> list[str]:
        tail: list[str] = []
        with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, text=True, errors="replace") as proc:
            assert proc.stdout is not None
            try:
                for line in proc.stdout:
                    if first_line is not None:
                        first_line()
                        first_line = None
                    if line.strip():
                        tail.append(line.rstrip())
                        del tail[:-200]
                        progress("build", line)
                code = proc.wait()
            except BaseException:  # Ctrl-C, SIGTERM (interrupt.Terminated): stop the build too
                _stop(proc)
                raise
        progress.flush("build")
        if code != 0:
            raise DockerError(f"docker build failed (exit {code}):\n" + "\n".join(tail[-_TAIL:]),
                              hint="fix the failing step shown above")
        return tail

    # -- images ---------------------------------------------------------------------------------
    def tag(self, image: str, reference: str) -> None:
        ref = refs.parse(reference, input_name="tag")  # registry:5000/a/b:tag, as the grammar splits it
        self.client.api.tag(image, ref.name, ref.tag or "latest")

    def inspect(self, image: str) -> dict[str, Any]:
        import docker

        try:
            return dict(self.client.api.inspect_image(image))
        except docker.errors.ImageNotFound:
            raise DockerError(f"image {image} not found in the Docker engine") from None

    def exists(self, image: str) -> bool:
        try:
            self.inspect(image)
        except DockerError:
            return False
        return True

    def pull(self, repository: str, tag: str, credentials: Credentials | None) -> bool:
        """Best-effort pull (cache source); False when it is not there or not reachable."""
        import docker

        auth = {"username": credentials.username, "password": credentials.password} if credentials else None
        try:
            self.client.api.pull(repository, tag=tag, auth_config=auth)
        except docker.errors.APIError:
            return False
        return self.exists(f"{repository}:{tag}")

    def push(self, repository: str, tag: str, credentials: Credentials | None, progress: Throttle) -> str:
        """Push one tag; return the digest the daemon reports for it."""
        auth = {"username": credentials.username, "password": credentials.password} if credentials else None
        digest = None
        for chunk in self.client.api.push(repository, tag=tag, auth_config=auth, stream=True, decode=True):
            if "error" in chunk:
                raise DockerError(
                    f"docker push {repository}:{tag} failed: {_scrub(str(chunk['error']), credentials)}",
                    hint="check the registry credentials (push permission) and that the registry is up",
                )
            digest = chunk.get("aux", {}).get("Digest", digest)
            status = " ".join(str(chunk.get(key, "")) for key in ("id", "status", "progress")).strip()
            progress("push", status)
        progress.flush("push")
        if not digest:
            raise DockerError(f"docker push {repository}:{tag} reported no digest")
        return str(digest)

    def remove(self, images: Iterable[str]) -> None:
        for image in images:
            with contextlib.suppress(Exception):  # cleanup is best effort
                self.client.api.remove_image(image, force=True)


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM lets the CLI cancel the build in the daemon; SIGKILL if it does not exit soon."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _scrub(text: str, credentials: Credentials | None) -> str:
    return text.replace(credentials.password, "***") if credentials and credentials.password else text


def _secret_args(request: BuildRequest, temp: Path) -> list[str]:
    """``--secret id=ID,src=FILE`` for every build secret. A value is written to a 0600 file in the
    build's own 0700 temporary directory (removed when the build ends, signals included): BuildKit
    mounts it for the RUN steps that ask, never into a layer, a build argument or the log."""
    argv: list[str] = []
    for index, (name, value) in enumerate(request.secrets.items()):
        path = temp / f"secret-{index}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value)
        argv += ["--secret", f"id={name},src={path}"]
    for name, file in request.secret_files.items():
        argv += ["--secret", f"id={name},src={file}"]
    return argv
