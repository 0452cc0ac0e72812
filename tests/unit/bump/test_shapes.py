"""More shapes, each checked on the whole output text."""

from __future__ import annotations

from pathlib import Path

import pytest

from dify_action.bump import Target, apply_plan, find_images, plan_bump

WORKLOADS = """\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: dify-api}
spec:
  template:
    spec:
      containers:
        - {name: api, image: "ghcr.io/acme/dify-api:1.0"}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-agent}
spec:
  template:
    spec:
      containers:
        - name: agent
          image: ghcr.io/acme/dify-api:1.0
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec:
  template:
    spec:
      containers:
        - name: rs
          image: ghcr.io/acme/dify-api:1.0 # trailing comment
"""


def _run(tmp_path: Path, files: dict[str, str], image: str, tag: str, **kwargs: object) -> dict[str, str]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    plan = plan_bump(tmp_path, [Target.from_inputs(image, tag, **kwargs)])  # type: ignore[arg-type]
    apply_plan(plan)
    return {name: (tmp_path / name).read_bytes().decode() for name in files}


def test_rollout_daemonset_replicaset(tmp_path: Path) -> None:
    out = _run(tmp_path, {"w.yaml": WORKLOADS}, "ghcr.io/acme/dify-api", "1.1")
    assert out["w.yaml"] == WORKLOADS.replace("dify-api:1.0", "dify-api:1.1")


def test_file_named_kustomization_without_suffix(tmp_path: Path) -> None:
    text = "images:\n- name: acme/dify-web\n  newTag: '1.0'\n"
    out = _run(tmp_path, {"env/Kustomization": text}, "acme/dify-web", "1.1")
    assert out["env/Kustomization"] == "images:\n- name: acme/dify-web\n  newTag: '1.1'\n"


def test_kustomize_entry_without_newtag_gets_one(tmp_path: Path) -> None:
    text = "images:\n  - name: acme/dify-web   # web\n  - name: other\n"
    out = _run(tmp_path, {"kustomization.yml": text}, "acme/dify-web", "2.0")
    expected = "images:\n  - name: acme/dify-web   # web\n    newTag: \"2.0\"\n  - name: other\n"
    assert out["kustomization.yml"] == expected


def test_helm_single_string_image_and_applicationset_sources(tmp_path: Path) -> None:
    values = "sandbox:\n  image: langgenius/dify-sandbox:0.2.12\n"
    app = (
        "kind: Application\nspec:\n  sources:\n    - helm:\n        valuesObject:\n"
        "          image: {api: {tag: '1.0'}}\n"
    )
    out = _run(tmp_path, {"values.yaml": values, "app.yaml": app}, "langgenius/dify-sandbox", "0.2.13",
               helm_paths=("image.api.tag",))
    assert out["values.yaml"] == values.replace("0.2.12", "0.2.13")
    assert out["app.yaml"] == app.replace("'1.0'", "'0.2.13'")


def test_helm_digest_key_is_set_and_an_old_digest_cleared(tmp_path: Path) -> None:
    values = 'image:\n  repository: acme/dify-api\n  tag: "1.0"\n  digest: "sha256:' + "e" * 64 + '"\n'
    out = _run(tmp_path, {"v.yaml": values}, "acme/dify-api", "1.1")
    assert out["v.yaml"] == 'image:\n  repository: acme/dify-api\n  tag: "1.1"\n  digest: ""\n'


def test_find_images_reports_every_shape(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(WORKLOADS)
    (tmp_path / "kustomization.yaml").write_text("images:\n  - name: acme/x\n    newTag: v1\n")
    (tmp_path / "values.yaml").write_text("image:\n  registry: r.io\n  repository: acme/y\n  tag: v2\n")
    found = sorted((item.file, item.line, str(item.ref)) for item in find_images(tmp_path))
    assert found == [
        ("kustomization.yaml", 3, "acme/x:v1"),
        ("values.yaml", 4, "r.io/acme/y:v2"),
        ("w.yaml", 8, "ghcr.io/acme/dify-api:1.0"),
        ("w.yaml", 18, "ghcr.io/acme/dify-api:1.0"),
        ("w.yaml", 28, "ghcr.io/acme/dify-api:1.0"),
    ]


@pytest.mark.parametrize("flow", ["[a, {image: 'acme/dify-api:1.0'}]\n", "{image: acme/dify-api:1.0}\n"])
def test_flow_style_collections(tmp_path: Path, flow: str) -> None:
    out = _run(tmp_path, {"f.yaml": flow}, "acme/dify-api", "1.2")
    assert out["f.yaml"] == flow.replace("1.0", "1.2")
