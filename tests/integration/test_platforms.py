"""Multi-platform images (issue 20) in the real engine and registry, checked by an independent client
(skopeo): one-process `build --platforms a,b --push`, the matrix path (`--push-by-digest` per
platform, then `merge`), provenance per platform digest, a set copy that keeps every child and
artifact, and promote's checks of every platform. COPY-only stages need no emulation; the RUN test
registers QEMU through binfmt_misc for its duration (testbed/qemu.py)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import secrets
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from testbed.images import BUSYBOX
from testbed.qemu import aarch64_emulation, arm64_busybox

from dify_action import refs
from dify_action.build.provenance import PREDICATE_TYPE, STATEMENT_TYPE, read_provenance
from dify_action.dify.registryfacts import image_facts
from dify_action.front.cli import main
from dify_action.promote.platforms import check_digest
from dify_action.registry import Credentials, RegistryClient
from dify_action.registry.gates import record_gates
from dify_action.registry.index import platforms_of
from dify_action.registry.mirror import copy_set
from dify_action.scan.sbom import Sbom, attach_sboms, read_sboms

pytestmark = pytest.mark.integration
REVISION = "c" * 40
SOURCE = "https://github.com/acme/dify-custom"
COPY_ONLY = "FROM scratch\nARG TARGETARCH\nCOPY busybox-${TARGETARCH} /bin/busybox\nCOPY hello.txt /hello.txt\n"
PLATFORMS = "linux/amd64,linux/arm64"


@pytest.fixture
def context(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    root.mkdir()
    shutil.copy2(BUSYBOX, root / "busybox-amd64")
    shutil.copy2(arm64_busybox(), root / "busybox-arm64")
    (root / "hello.txt").write_text("hello from every platform\n")
    (root / "Dockerfile").write_text(COPY_ONLY)
    return root


@pytest.fixture
def cli_env(registry: Any, docker_host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIFY_ACTION_REGISTRY_PASSWORD", registry.password)
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    monkeypatch.delenv("DIFY_ACTION_REGISTRY_USERNAME", raising=False)


@pytest.fixture
def client(registry: Any) -> RegistryClient:
    return RegistryClient(registry.host, Credentials(registry.username, registry.password))


def build(capsys: pytest.CaptureFixture[str], registry: Any, context: Path, repository: str, tag: str,
          *extra: str) -> tuple[int, Any, str]:
    code = main(["build", "--repository", f"{registry.host}/{repository}", "--context", str(context),
                 "--tag", tag, "--registry-username", registry.username, "--revision", REVISION,
                 "--source", SOURCE, "--builder", "buildkit", "--json", *extra])
    out, err = capsys.readouterr()
    assert registry.password not in out + err
    return code, json.loads(out) if code == 0 else None, err


def skopeo(registry: Any, *args: str) -> bytes:
    done = subprocess.run(["skopeo", *args[:-1], "--tls-verify=false", "--creds",
                           f"{registry.username}:{registry.password}", args[-1]], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout


@pytest.mark.usefixtures("cli_env")
def test_build_two_platforms_pushes_an_index_that_skopeo_reads(
        capsys: pytest.CaptureFixture[str], registry: Any, context: Path, client: RegistryClient) -> None:
    repository = f"plat{secrets.token_hex(3)}/dify-api"
    code, doc, err = build(capsys, registry, context, repository, "1.0", "--platforms", PLATFORMS)
    assert code == 0, err[-3000:]
    [component] = doc["components"]
    assert [p["platform"] for p in component["platforms"]] == ["linux/amd64", "linux/arm64"]
    raw = skopeo(registry, "inspect", "--raw", f"docker://{registry.host}/{repository}:1.0")
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == component["digest"]  # the tag serves the index
    index = json.loads(raw)
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [(m["platform"]["architecture"], m["digest"], m["size"]) for m in index["manifests"]] == [
        (p["platform"].split("/")[1], p["digest"], p["size"]) for p in component["platforms"]]
    arm = json.loads(skopeo(registry, "inspect", "--override-arch", "arm64", "--override-os", "linux",
                            f"docker://{registry.host}/{repository}:1.0"))
    child = client.get_manifest(repository, component["platforms"][1]["digest"]).document
    assert arm["Architecture"] == "arm64" and arm["Layers"] == [layer["digest"] for layer in child["layers"]]
    for platform in component["platforms"]:
        statement = read_provenance(client, repository, platform["digest"])
        assert statement is not None and statement["_type"] == STATEMENT_TYPE
        assert statement["predicateType"] == PREDICATE_TYPE
        assert statement["subject"] == [{"name": f"{registry.host}/{repository}",
                                         "digest": {"sha256": platform["digest"].split(":")[1]}}]
        definition = statement["predicate"]["buildDefinition"]
        assert definition["externalParameters"]["platform"] == platform["platform"]
        assert {"uri": f"git+{SOURCE}", "digest": {"gitCommit": REVISION}} in definition["resolvedDependencies"]
        assert definition["internalParameters"]["dockerfileDigest"] == "sha256:" + hashlib.sha256(
            COPY_ONLY.encode()).hexdigest()
        assert statement["predicate"]["runDetails"]["builder"]["id"]
    # the one image tag, and per platform digest (this registry has no referrers API, so by fallback
    # tags) its provenance, its SBOMs and its Dify facts record: nothing about the index itself
    artifacts = (".provenance", ".cyclonedx.sbom", ".spdx.sbom", ".gates")
    assert sorted(client.tags(repository) or []) == sorted(
        ["1.0", *(p["digest"].replace(":", "-") + a for p in component["platforms"] for a in artifacts)])
    assert [s["subject"] for s in component["sboms"]] == [p["digest"] for p in component["platforms"]
                                                          for _ in ("cyclonedx", "spdx")]
    # the Dify facts of the index are its platforms' (recorded next to each platform digest)
    facts = image_facts(client, refs.parse(f"{registry.host}/{repository}:1.0"))
    assert "the same /app/api on every platform (linux/amd64, linux/arm64)" in facts.notes


@pytest.mark.usefixtures("cli_env")
def test_matrix_jobs_push_by_digest_and_merge_tags_the_index_last(
        capsys: pytest.CaptureFixture[str], registry: Any, context: Path, tmp_path: Path,
        client: RegistryClient) -> None:
    repository = f"matrix{secrets.token_hex(3)}/dify-web"
    files = []
    for platform in PLATFORMS.split(","):
        code, doc, err = build(capsys, registry, context, repository, "2.0", "--platforms", platform,
                               "--push-by-digest")
        assert code == 0, err[-3000:]
        assert [p["platform"] for p in doc["components"][0]["platforms"]] == [platform]
        assert "2.0" not in (client.tags(repository) or [])  # no tag while the set is incomplete
        path = tmp_path / f"{platform.replace('/', '-')}.json"
        path.write_text(json.dumps(doc))
        files.append(str(path))
    # one job's result missing: the merge names the platform, writes no tag
    code = main(["merge", files[0], "--platforms", PLATFORMS, "--registry-username", registry.username])
    _, err = capsys.readouterr()
    assert code == 1 and "linux/arm64" in err and "2.0" not in (client.tags(repository) or [])
    code = main(["merge", *files, "--platforms", PLATFORMS, "--registry-username", registry.username, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    [merged] = json.loads(out)["components"]
    assert client.resolve_digest(f"{registry.host}/{repository}:2.0") == merged["digest"]
    index = json.loads(skopeo(registry, "inspect", "--raw", f"docker://{registry.host}/{repository}:2.0"))
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]


@pytest.mark.usefixtures("cli_env")
def test_a_job_that_lies_about_its_platform_is_refused_by_the_merge(
        capsys: pytest.CaptureFixture[str], registry: Any, context: Path, tmp_path: Path) -> None:
    repository = f"liar{secrets.token_hex(3)}/dify-api"
    code, doc, _ = build(capsys, registry, context, repository, "3.0", "--platforms", "linux/amd64",
                         "--push-by-digest")
    assert code == 0
    doc["components"][0]["platforms"][0]["platform"] = "linux/arm64"  # the amd64 digest, said to be arm64
    path = tmp_path / "liar.json"
    path.write_text(json.dumps(doc))
    code = main(["merge", str(path), "--registry-username", registry.username])
    assert code == 1 and "is an image for linux/amd64, not linux/arm64" in capsys.readouterr().err


@pytest.mark.usefixtures("cli_env")
def test_provenance_names_secret_ids_never_values(
        capsys: pytest.CaptureFixture[str], registry: Any, context: Path, client: RegistryClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    value = f"s3cr3t-{secrets.token_hex(8)}"
    monkeypatch.setenv("PIP_TOKEN", value)
    repository = f"prov{secrets.token_hex(3)}/dify-api"
    code, doc, err = build(capsys, registry, context, repository, "4.0", "--platforms", PLATFORMS,
                           "--secret", "id=pip_token,env=PIP_TOKEN", "--build-arg", "EXTRA=boto3")
    assert code == 0, err[-3000:]
    for platform in doc["components"][0]["platforms"]:
        statement = read_provenance(client, repository, platform["digest"])
        assert statement is not None
        params = statement["predicate"]["buildDefinition"]["externalParameters"]
        assert params["secrets"] == ["pip_token"] and params["buildArgs"] == {"EXTRA": "boto3"}
        assert value not in json.dumps(statement)
        manifest = client.get_manifest(repository, platform["provenance"])
        assert value.encode() not in client.get_blob(repository, manifest.document["layers"][0]["digest"])


@pytest.mark.usefixtures("cli_env")
def test_set_copy_keeps_every_child_and_artifact_without_layer_uploads(
        capsys: pytest.CaptureFixture[str], registry: Any, context: Path, client: RegistryClient) -> None:
    source = f"stage{secrets.token_hex(3)}/dify-api"
    target = f"prod{secrets.token_hex(3)}/dify-api"
    code, doc, err = build(capsys, registry, context, source, "5.0", "--platforms", PLATFORMS)
    assert code == 0, err[-3000:]
    index = doc["components"][0]["digest"]
    children = [p["digest"] for p in doc["components"][0]["platforms"]]
    for child in children:
        record_gates(client, source, child, {"smoke": "passed", "scan": "passed"})
        attach_sboms(client, source, child, [Sbom("cyclonedx", json.dumps({"bomFormat": "CycloneDX",
                                                                              "subject": child}).encode())])
    checked = check_digest(client, source, source, index, require_sbom=True, require_provenance=True, source=SOURCE)
    assert (checked.refused, checked.unproven) == ((), ())
    offset = registry.log_offset()
    result = copy_set(client, source, "5.0", target, "5.0")
    uploads = [r for r in registry.requests_since(offset) if r.method in ("PUT", "PATCH") and "/blobs/" in r.path]
    assert uploads == [] and result.blobs_streamed == 0  # every blob mounted, no layer moved
    assert client.resolve_digest(f"{registry.host}/{target}:5.0") == index
    assert [p.digest for p in platforms_of(client, target, index)] == children
    for child in children:
        for tag in (".gates", ".cyclonedx.sbom", ".provenance"):
            ref = child.replace(":", "-") + tag
            assert client.resolve_digest(f"{registry.host}/{target}:{ref}") == client.resolve_digest(
                f"{registry.host}/{source}:{ref}")
        assert read_sboms(client, target, child) and read_provenance(client, target, child)
    checked = check_digest(client, target, target, index, require_sbom=True, require_provenance=True, source=SOURCE)
    assert (checked.refused, checked.unproven) == ((), ())


@pytest.mark.usefixtures("cli_env")
def test_promote_checks_name_the_platform_that_fails(
        capsys: pytest.CaptureFixture[str], registry: Any, context: Path, client: RegistryClient) -> None:
    repository = f"gate{secrets.token_hex(3)}/dify-api"
    code, doc, _ = build(capsys, registry, context, repository, "6.0", "--platforms", PLATFORMS)
    assert code == 0
    amd, arm = (p["digest"] for p in doc["components"][0]["platforms"])
    record_gates(client, repository, amd, {"smoke": "passed", "scan": "passed"})
    record_gates(client, repository, arm, {"smoke": "passed", "scan": "failed"})
    checked = check_digest(client, repository, "img", doc["components"][0]["digest"], require_sbom=False,
                           require_provenance=True, source="https://github.com/someone/else")
    assert checked.refused == (f"img@{arm} (linux/arm64): gate(s) failed: scan (failed)",)
    assert len(checked.unproven) == 2 and all(f"was built from {SOURCE}, not" in u for u in checked.unproven)


@pytest.mark.usefixtures("cli_env")
def test_run_steps_of_both_platforms_under_qemu(
        capsys: pytest.CaptureFixture[str], registry: Any, context: Path, client: RegistryClient) -> None:
    (context / "Dockerfile").write_text(COPY_ONLY + 'RUN ["/bin/busybox", "sh", "-c", '
                                        '"/bin/busybox uname -m > /arch"]\n')
    repository = f"qemu{secrets.token_hex(3)}/dify-api"
    with aarch64_emulation():
        code, doc, err = build(capsys, registry, context, repository, "7.0", "--platforms", PLATFORMS)
    assert code == 0, err[-3000:]
    found = {}
    for platform in doc["components"][0]["platforms"]:
        manifest = client.get_manifest(repository, platform["digest"])
        layer = client.get_blob(repository, manifest.document["layers"][-1]["digest"], max_size=64 << 20)
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
            member = tar.extractfile("arch")
            assert member is not None
            found[platform["platform"]] = member.read().decode().strip()
    assert found == {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


def test_the_workflow_steps_platform_jobs_then_merge_through_the_action(
        tmp_path: Path, registry: Any, docker_host: str, base_image: str, client: RegistryClient,
        capsys: pytest.CaptureFixture[str]) -> None:
    """What pipeline.yml's matrix runs: per platform ``command: pipeline`` with ``push-by-digest`` (build,
    smoke test, scan, gates against the platform digest, no tag), then ``command: merge``."""
    from testbed.appsource import write_app_source
    from testbed.outputs import parse_output_file

    from dify_action.front.action import main as action_main
    from dify_action.registry.gates import read_gates

    config = write_app_source(tmp_path / "src", registry.host)

    def action(name: str, **inputs: str) -> dict[str, str]:
        out = tmp_path / f"{name}.out"
        out.write_text("")
        env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(tmp_path / "sum"),
               "PATH": "/usr/local/bin:/usr/bin:/bin:" + str(Path(sys.executable).parent), "DOCKER_HOST": docker_host,
               "GITHUB_WORKSPACE": str(tmp_path / "src"), "GITHUB_SHA": REVISION, "GITHUB_REF": "refs/heads/main",
               "GITHUB_EVENT_NAME": "push", "GITHUB_RUN_NUMBER": "7", "GITHUB_SERVER_URL": "https://github.com",
               "GITHUB_REPOSITORY": "acme/dify-custom", "GITHUB_RUN_ID": "99",
               "GITHUB_WORKFLOW_REF": "acme/dify-custom/.github/workflows/ship.yml@refs/heads/main",
               "INPUT_REGISTRY-USERNAME": registry.username, "INPUT_REGISTRY-PASSWORD": registry.password}
        env |= {f"INPUT_{k.upper().replace('_', '-')}": v for k, v in inputs.items()}
        code = action_main(env)
        captured = capsys.readouterr()
        assert code == 0, (captured.out + captured.err)[-3000:]
        shown = (captured.out + captured.err).replace(f"::add-mask::{registry.password}", "")  # masking it is fine
        assert registry.password not in shown + out.read_text()
        return parse_output_file(out.read_text())

    results = tmp_path / "src" / "results"
    results.mkdir()
    out = action("amd64", command="pipeline", config=str(config), platforms="linux/amd64", push_by_digest="true")
    [component] = json.loads(out["json"])["components"]
    digest = component["platforms"][0]["digest"]
    assert out["digest"] == digest and "sha-ccccccc" not in (client.tags("acme/dify-api") or [])
    record = read_gates(client, "acme/dify-api", digest)
    assert record is not None and dict(record.results) == {"smoke": "passed", "scan": "passed"}
    statement = read_provenance(client, "acme/dify-api", digest)
    assert statement is not None and statement["predicate"]["runDetails"]["builder"]["id"] == (
        "https://github.com/acme/dify-custom/.github/workflows/ship.yml@refs/heads/main")
    (results / "linux-amd64.json").write_text(out["json"])
    merged = action("merge", command="merge", results="results", platforms="linux/amd64")
    assert merged["images"] == f"{registry.host}/acme/dify-api:1.13.3-acme.7@{merged['digest']}"
    assert client.resolve_digest(f"{registry.host}/acme/dify-api:sha-ccccccc") == merged["digest"]
    assert [p.digest for p in platforms_of(client, "acme/dify-api", merged["digest"])] == [digest]
