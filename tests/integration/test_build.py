"""build_component and ``dify-action build`` against the private dockerd and the real registries."""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dify_action import refs
from dify_action.build.component import (
    BASE_VERSION_LABEL,
    BuildMetadata,
    BuildSpec,
    build_component,
    dify_base_version,
)
from dify_action.config.load import SizeBudget
from dify_action.engine.docker import DockerEngine, Throttle
from dify_action.errors import DockerError, GateFailed, InputError
from dify_action.front.cli import main as cli_main
from dify_action.registry import Credentials, RegistryClient

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]

DOCKERFILE = """\
# a customized Dify api image, as users write it
ARG DIFY_VERSION=1.13.3
FROM langgenius/dify-api:${DIFY_VERSION}
ARG EXTRA=boto3
RUN echo "$EXTRA" > /app/api/extra.txt && echo {marker} > /app/api/marker
HEALTHCHECK --interval=2s CMD test -f /app/api/extra.txt
"""


@pytest.fixture(scope="module")
def engine(docker_host: str, base_image: str) -> Any:
    engine = DockerEngine(docker_host)
    yield engine
    engine.close()


def make_context(tmp_path: Path, marker: str, dockerfile: str = DOCKERFILE) -> Path:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile.replace("{marker}", marker))
    return context


def spec_for(context: Path, registry: Any, name: str, tags: tuple[str, ...], **kw: Any) -> BuildSpec:
    repository = refs.parse_repository(f"{registry.host}/acme/{name}")
    return BuildSpec(name, context / "Dockerfile", context, repository, tags, **kw)


@pytest.mark.parametrize("builder", ["legacy", "buildkit"])
def test_build_push_reports_the_registry_digest_and_labels(
    tmp_path: Path, engine: DockerEngine, registry: Any, builder: str
) -> None:
    context = make_context(tmp_path, builder)
    lines: list[str] = []
    spec = spec_for(context, registry, f"api-{builder}", ("sha-abc1234", "1.13.3-acme.1"),
                    build_args={"EXTRA": "boto3"})
    created = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    meta = BuildMetadata("https://github.com/acme/dify-custom", "a" * 40, "1.13.3-acme.1", created)
    creds = Credentials(registry.username, registry.password)
    result = build_component(spec, engine, creds, builder=builder, meta=meta, progress=lines.append)  # type: ignore[arg-type]
    assert result.builder == builder and result.pushed
    client = RegistryClient(registry.host, creds)
    for tag in spec.tags:
        assert client.resolve_digest(f"{registry.host}/acme/api-{builder}:{tag}") == result.digest
    assert result.size > 1_900_000 and result.compressed_size is not None
    manifest = client.get_manifest(f"acme/api-{builder}", str(result.digest))
    assert result.compressed_size == sum(layer["size"] for layer in manifest.document["layers"])
    labels = engine.inspect(result.image_id)["Config"]["Labels"]
    assert labels[BASE_VERSION_LABEL] == "1.13.3"
    assert labels["org.opencontainers.image.source"] == "https://github.com/acme/dify-custom"
    assert labels["org.opencontainers.image.revision"] == "a" * 40
    assert labels["org.opencontainers.image.created"] == "2026-01-02T03:04:05Z"
    assert labels["org.opencontainers.image.version"] == "1.13.3-acme.1"
    assert labels["org.opencontainers.image.title"] == f"api-{builder}"
    out = engine.client.containers.run(result.image_id, ["cat", "/app/api/extra.txt"], network_mode="host",
                                       remove=True)
    assert out.strip() == b"boto3"
    assert lines and lines[0].startswith("[build] building")
    assert any(line.startswith("[push] pushed 2 tag(s)") for line in lines)
    # no credentials left behind by the CLI path
    assert not glob.glob("/tmp/dify-action-docker-*")


def test_cache_from_previous_pushed_image(tmp_path: Path, engine: DockerEngine, registry: Any) -> None:
    creds = Credentials(registry.username, registry.password)
    context = make_context(tmp_path, "cache")
    first = build_component(spec_for(context, registry, "api-cache", ("prev",)), engine, creds, builder="legacy")
    first_layers = engine.inspect(first.image_id)["RootFS"]["Layers"]
    engine.remove([first.image_id])  # a fresh runner: the previous image is only in the registry
    lines: list[str] = []
    previous = f"{registry.host}/acme/api-cache:prev"
    second = build_component(spec_for(context, registry, "api-cache", ("next",), cache_from=(previous,)),
                             engine, creds, builder="legacy", progress=lines.append, throttle_seconds=0)
    assert f"[build] cache image {previous} pulled" in lines
    assert any("Using cache" in line for line in lines)
    layers = engine.inspect(second.image_id)["RootFS"]["Layers"]
    assert layers == first_layers  # the RUN layer was reused, not rebuilt


def test_size_budget_warns_or_fails_before_push(tmp_path: Path, engine: DockerEngine, registry: Any) -> None:
    creds = Credentials(registry.username, registry.password)
    context = make_context(tmp_path, "budget")
    warned = build_component(
        spec_for(context, registry, "api-warn", ("w1",), size_budget=SizeBudget(warn=1_000_000, fail=10**9)),
        engine, creds, builder="legacy",
    )
    assert warned.warnings and "over its size warning of 1.0 MB" in warned.warnings[0]
    with pytest.raises(GateFailed) as failed:
        budget = SizeBudget(fail=1_000_000)
        build_component(spec_for(context, registry, "api-fail", ("f1",), size_budget=budget), engine, creds,
                        builder="legacy")
    assert "over its size budget of 1.0 MB" in str(failed.value)
    assert not RegistryClient(registry.host, creds).exists(f"{registry.host}/acme/api-fail:f1")


def test_failing_step_and_bad_input(tmp_path: Path, engine: DockerEngine, registry: Any) -> None:
    broken = "FROM langgenius/dify-api:1.13.3\nRUN echo about-to-fail && exit 3\n"
    context = make_context(tmp_path, "x", broken)
    for builder in ("legacy", "buildkit"):
        with pytest.raises(DockerError) as error:
            build_component(spec_for(context, registry, "broken", ("b1",)), engine, None, push=False,
                            builder=builder)  # type: ignore[arg-type]
        assert "about-to-fail" in str(error.value)
    with pytest.raises(InputError) as bad:
        build_component(spec_for(context, registry, "broken", ("not a tag",)), engine, None, push=False)
    assert bad.value.exit_code == 2
    missing = BuildSpec("x", tmp_path / "nope" / "Dockerfile", context,
                        refs.parse_repository(f"{registry.host}/acme/x"), ("t",))
    with pytest.raises(InputError):
        build_component(missing, engine, None)


def test_wrong_password_push_error_has_no_password(
    tmp_path: Path, engine: DockerEngine, registry: Any
) -> None:
    secret = "Wr0ng-" + registry.password
    context = make_context(tmp_path, "wrongpw")
    with pytest.raises(DockerError) as error:
        build_component(spec_for(context, registry, "api-denied", ("d1",)), engine,
                        Credentials(registry.username, secret), builder="legacy")
    assert "push" in str(error.value) and secret not in str(error.value)


def test_push_to_token_registry(tmp_path: Path, engine: DockerEngine, token_registry: Any) -> None:
    creds = Credentials(token_registry.username, token_registry.password)
    context = make_context(tmp_path, "token")
    result = build_component(spec_for(context, token_registry, "api-token", ("t1",)), engine, creds,
                             builder="buildkit")
    client = RegistryClient(token_registry.host, creds)
    assert client.resolve_digest(f"{token_registry.host}/acme/api-token:t1") == result.digest


def test_cli_build_json(tmp_path: Path, docker_host: str, registry: Any) -> None:
    context = make_context(tmp_path, "cli")
    env = {**os.environ, "DOCKER_HOST": docker_host, "DIFY_ACTION_REGISTRY_PASSWORD": registry.password}
    argv = [sys.executable, "-m", "dify_action", "build", "--context", str(context),
            "--repository", f"{registry.host}/acme/api-cli", "--tag", "c1", "--tag", "c2",
            "--registry-username", registry.username, "--revision", "b" * 40, "--json"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["components"][0]
    assert report["tag_names"] == ["c1", "c2"] and report["digest"].startswith("sha256:")
    assert report["tags"] == [f"{report['image']}:c1", f"{report['image']}:c2"] and report["imageid"]
    assert report["labels"][BASE_VERSION_LABEL] == "1.13.3"
    client = RegistryClient(registry.host, Credentials(registry.username, registry.password))
    assert client.resolve_digest(f"{registry.host}/acme/api-cli:c2") == report["digest"]
    assert registry.password not in done.stderr + done.stdout
    bad = subprocess.run([*argv[:-1], "--size-budget", "lots"], env=env, capture_output=True, text=True,
                         cwd=REPO_ROOT, timeout=120)
    assert bad.returncode == 2 and "size-budget" in bad.stderr


def test_cli_build_from_config_with_tag_policy(tmp_path: Path, docker_host: str, registry: Any) -> None:
    context = make_context(tmp_path, "config")
    (tmp_path / "dify-action.yaml").write_text(
        "components:\n"
        "  - name: api\n"
        f"    image: {registry.host}/acme/api-config\n"
        "    context: ctx\n"
        "tags:\n"
        "  rules:\n"
        "    - type=sha,format=short\n"
        "    - type=dify,suffix=-acme\n"
    )
    env = {**os.environ, "DOCKER_HOST": docker_host, "DIFY_ACTION_REGISTRY_PASSWORD": registry.password}
    argv = [sys.executable, "-m", "dify_action", "build", "--config", str(tmp_path / "dify-action.yaml"),
            "--component", "api", "--registry-username", registry.username, "--revision", "c" * 40,
            "--no-push", "--json"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["components"][0]
    assert report["tag_names"] == ["sha-ccccccc", "1.13.3-acme"] and report["digest"] is None
    assert context.is_dir()


@pytest.mark.parametrize(
    ("text", "args", "expected"),
    [
        ("FROM langgenius/dify-api:1.13.3\n", {}, "1.13.3"),
        ("ARG DIFY_VERSION=1.13.3\nFROM langgenius/dify-api:${DIFY_VERSION} AS base\n", {}, "1.13.3"),
        ("ARG DIFY_VERSION=1.13.3\nFROM langgenius/dify-api:${DIFY_VERSION}\n", {"DIFY_VERSION": "1.16.1"},
         "1.16.1"),
        ("ARG V\nFROM --platform=$BUILDPLATFORM docker.io/langgenius/dify-web:${V:-1.10.1-fix.1}\n", {},
         "1.10.1-fix.1"),
        ("FROM python:3.12 AS build\nRUN x\nFROM \\\n  langgenius/dify-sandbox:0.2.12\n", {}, "0.2.12"),
        ("ARG BASE=registry.local/mirror/langgenius/dify-api:1.14.0\nFROM $BASE\n", {}, "1.14.0"),
        ("FROM scratch\n", {"DIFY_VERSION": "1.13.3"}, "1.13.3"),
        ("FROM busybox\n", {}, None),
        ("FROM langgenius/dify-api@sha256:" + "a" * 64 + "\n", {}, None),
    ],
)
def test_dify_base_version(text: str, args: dict[str, str], expected: str | None) -> None:
    assert dify_base_version(text, args) == expected


def test_throttle_passes_at_most_one_line_per_interval_per_stream() -> None:
    now = [0.0]
    seen: list[str] = []
    throttle = Throttle(seen.append, interval=3.0, clock=lambda: now[0])
    for step in range(100):
        now[0] = step * 0.1  # 10 s of output, a line every 0.1 s
        throttle("build", f"line {step}")
        throttle("push", f"push {step}")
    throttle.flush("build")
    builds = [line for line in seen if line.startswith("[build]")]
    assert builds == ["[build] line 0", "[build] line 30", "[build] line 60", "[build] line 90",
                      "[build] line 99"]
    assert len([line for line in seen if line.startswith("[push]")]) == 4


SECRET_DOCKERFILE = """\
FROM langgenius/dify-api:1.13.3
RUN --mount=type=secret,id=index --mount=type=secret,id=netrc \\
    test "$(sha256sum < /run/secrets/index | cut -c1-64)" = "{sha}" && test -s /run/secrets/netrc && \
    echo ok > /app/api/secret-ok
RUN --mount=type=cache,target=/root/.cache echo cached > /root/.cache/x && echo {marker} > /app/api/marker
"""


@pytest.mark.usefixtures("base_image")
def test_build_secrets_reach_run_steps_and_no_layer_log_or_argument(
        tmp_path: Path, docker_host: str, registry: Any, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """BuildKit secrets through the CLI: a value from the environment and a file; the image's
    layers, history, labels and the build log never hold the value; temp files are gone."""
    import tarfile

    import docker as sdk

    value = "s3cr3t-" + secrets_hex()
    import hashlib

    sha = hashlib.sha256(value.encode()).hexdigest()  # the RUN step checks the value without naming it
    context = make_context(tmp_path, "sec", SECRET_DOCKERFILE.replace("{sha}", sha))
    netrc = tmp_path / "netrc"
    netrc.write_text("machine pypi.example login ci password " + value + "\n")
    monkeypatch.setenv("INDEX_TOKEN", value)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    code = cli_main(["build", "--repository", f"{registry.host}/acme/secret", "--context", str(context),
                     "--tag", "s1", "--no-push", "--builder", "buildkit", "--docker-host", docker_host,
                     "--secret", "id=index,env=INDEX_TOKEN", "--secret", f"id=netrc,src={netrc}"])
    log = capfd.readouterr()
    assert code == 0, log.err[-3000:]
    assert value not in log.out + log.err
    assert not any((tmp_path / "tmp").iterdir()), "the secret files outlived the build"
    client = sdk.DockerClient(base_url=docker_host)
    try:
        image = client.images.get(f"{registry.host}/acme/secret:s1")
        assert value not in json.dumps(image.attrs) + json.dumps(image.history())
        archive = tmp_path / "image.tar"
        with archive.open("wb") as handle:
            for chunk in image.save(named=True):
                handle.write(chunk)
        with tarfile.open(archive) as outer:
            for member in outer.getmembers():
                data = outer.extractfile(member)
                if data is not None:
                    assert value.encode() not in data.read(), member.name
    finally:
        client.close()


@pytest.mark.usefixtures("base_image")
def test_build_secrets_need_buildkit(tmp_path: Path, docker_host: str, registry: Any,
                                     capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INDEX_TOKEN", "x")
    context = make_context(tmp_path, "sec")
    assert cli_main(["build", "--repository", f"{registry.host}/acme/secret", "--context", str(context),
                     "--tag", "s2", "--no-push", "--builder", "legacy", "--docker-host", docker_host,
                     "--secret", "id=index,env=INDEX_TOKEN"]) == 2
    assert "invalid --secret 'index': BuildKit" in capfd.readouterr().err
    for bad in ("id=index", "id=a,src=/nonexistent", "id=a,env=NOT_SET_ANYWHERE_X"):
        assert cli_main(["build", "--repository", f"{registry.host}/acme/secret", "--context", str(context),
                         "--tag", "s3", "--no-push", "--docker-host", docker_host, "--secret", bad]) == 2


def secrets_hex() -> str:
    import secrets as random

    return random.token_hex(8)
