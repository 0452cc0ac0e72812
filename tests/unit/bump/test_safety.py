"""Refusals, bad input and all-or-nothing: every failure leaves the tree byte-identical."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dify_action.bump import Target, apply_plan, plan_bump
from dify_action.errors import ManifestError
from dify_action.front.cli import main

DEPLOY = (
    "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
    "        - name: api\n          image: acme/dify-api:1.0\n"
)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    (root / "apps").mkdir(parents=True)
    (root / "apps" / "api.yaml").write_text(DEPLOY)
    return root


def _bump(tree: Path, *extra: str, tag: str = "2.0", image: str = "acme/dify-api") -> int:
    default = [] if "--tag" in extra else ["--tag", tag]  # a flag given twice is refused (one value each)
    return main(["bump", "--gitops-dir", str(tree), "--image", image, *default, *extra])


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--tag", "bad tag"], "tag"),
        (["--tag", ".x"], "tag"),
        (["--tag", "ünï"], "tag"),
        (["--image", "acme/dify-api:1.0"], "image"),
        (["--image", "Acme//x"], "image"),
        (["--digest", "sha256:123"], "digest"),
        (["--path", "../outside"], "path"),
        (["--path", "/etc"], "path"),
        (["--path", "missing.yaml"], "path"),
        (["--helm-path", "image..tag"], "helm-path"),
        (["--helm-path", "image.nothere.tag"], "helm-path"),
    ],
)
def test_bad_input_exits_2_names_the_input_and_changes_nothing(
    tree: Path, args: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(tree)
    base = {"--image": "acme/dify-api", "--tag": "2.0"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = ["bump", "--gitops-dir", str(tree)]
    for flag, value in base.items():
        argv += [flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"invalid --{named}" in err  # the CLI names its flag, not the action's input
    assert _snapshot(tree) == before


def test_symlink_escaping_the_tree_is_refused(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(DEPLOY)
    os.symlink(outside, tree / "apps" / "link.yaml")
    assert _bump(tree, "--json") == 0
    assert outside.read_text() == DEPLOY
    assert main(["bump", "--gitops-dir", str(tree), "--image", "acme/dify-api", "--tag", "3",
                 "--path", "apps/link.yaml"]) == 2
    os.symlink(tmp_path, tree / "dirlink")
    assert _bump(tree, "--path", "dirlink") == 2


def test_template_files_are_skipped_with_a_warning_unless_named(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = "image: {{ .Values.image }}:{{ .Values.tag }}\n  dify-api: [\n"
    (tree / "apps" / "tpl.yaml").write_text(template)
    assert _bump(tree) == 0
    captured = capsys.readouterr()
    assert "apps/tpl.yaml: skipped: not valid YAML" in captured.err
    assert (tree / "apps" / "tpl.yaml").read_text() == template
    before = _snapshot(tree)
    assert _bump(tree, "--tag", "3.0", "--path", "apps/tpl.yaml") == 2  # bad input (issue #9)
    assert "apps/tpl.yaml was named with --path" in capsys.readouterr().err
    assert _snapshot(tree) == before


def test_binary_and_oversized_files_are_skipped(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "apps" / "blob.yaml").write_bytes(b"dify-api\0\1\2")
    (tree / "apps" / "huge.yaml").write_bytes(b"# dify-api\n" + b"#" * (3 * 1024 * 1024))
    assert _bump(tree) == 0
    err = capsys.readouterr().err
    assert "apps/blob.yaml: skipped: binary" in err
    assert "apps/huge.yaml: skipped" in err and "limit" in err


def test_alias_bomb_is_refused(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = ["a0: &a0 [acme/dify-api:1.0, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    (tree / "bomb.yaml").write_text("\n".join(lines) + "\n")
    assert _bump(tree) == 0
    assert "alias bomb" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text",
    [
        "x-img: &img acme/dify-api:1.0\nservices:\n  api:\n    image: *img\n  worker:\n    image: *img\n",
        "x-api: &api\n  image: acme/dify-api:1.0\nservices:\n  api:\n    <<: *api\n  worker:\n    <<: *api\n",
    ],
)
def test_values_shared_through_anchors_are_refused(tree: Path, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "compose.yaml").write_text(text)
    before = _snapshot(tree)
    assert _bump(tree) == 2
    err = capsys.readouterr().err
    assert "shared through the YAML anchor" in err and "compose.yaml" in err
    assert _snapshot(tree) == before, "all-or-nothing: apps/api.yaml must not be written either"


def test_block_scalars_are_refused(tree: Path) -> None:
    (tree / "odd.yaml").write_text("image: >-\n  acme/dify-api:1.0\n")
    before = _snapshot(tree)
    assert _bump(tree) == 2
    assert _snapshot(tree) == before


def test_apply_is_all_or_nothing_when_a_file_changed_meanwhile(tree: Path) -> None:
    (tree / "apps" / "worker.yaml").write_text(DEPLOY.replace("name: api", "name: worker"))
    plan = plan_bump(tree, [Target.from_inputs("acme/dify-api", "2.0")])
    assert len(plan.edits) == 2
    (tree / "apps" / "worker.yaml").write_text(DEPLOY + "# edited meanwhile\n")
    before = _snapshot(tree)
    with pytest.raises(ManifestError, match="changed while the bump was planned"):
        apply_plan(plan)
    assert _snapshot(tree) == before
    assert not [p for p in tree.rglob(".*") if p.is_file()], "no temp file left behind"


def test_file_mode_is_kept(tree: Path) -> None:
    path = tree / "apps" / "api.yaml"
    path.chmod(0o640)
    assert _bump(tree) == 0
    assert path.stat().st_mode & 0o777 == 0o640
    assert "acme/dify-api:2.0" in path.read_text()


def test_existing_pin_is_kept_when_only_the_same_tag_is_requested(tree: Path) -> None:
    pinned = DEPLOY.replace("acme/dify-api:1.0", "acme/dify-api:1.0@sha256:" + "c" * 64)
    (tree / "apps" / "api.yaml").write_text(pinned)
    assert _bump(tree, tag="1.0") == 0
    assert (tree / "apps" / "api.yaml").read_text() == pinned
    assert _bump(tree, tag="1.1") == 0
    assert "acme/dify-api:1.1\n" in (tree / "apps" / "api.yaml").read_text()


def test_kustomize_digest_without_new_digest_is_refused(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "kustomization.yaml").write_text(
        "images:\n  - name: acme/dify-api\n    newTag: '1.0'\n    digest: sha256:" + "d" * 64 + "\n"
    )
    before = _snapshot(tree)
    assert _bump(tree) == 2
    assert "pins digest" in capsys.readouterr().err
    assert _snapshot(tree) == before


def test_an_image_nothing_deploys_is_refused_without_calling_it_invalid(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(tree)
    assert _bump(tree, image="acme/dify-api-extra") == 2
    err = capsys.readouterr().err
    assert "no file under the GitOps directory deploys docker.io/acme/dify-api-extra" in err
    assert "near-miss repositories the tree does contain: acme/dify-api (apps/api.yaml)" in err
    assert "invalid" not in err
    assert _snapshot(tree) == before
