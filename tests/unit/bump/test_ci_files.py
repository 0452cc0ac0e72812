"""CI pipeline definitions are never deployments (issue 22, class 6): in every CI system alike,
an image key there is skipped with a note when walked, and refused when named with --path."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dify_action.bump import Target, plan_bump
from dify_action.bump.tree import CI_FILES, CI_FOLDERS, ci_system
from dify_action.errors import InputError

JOB = "smoke:\n  image: registry.example.com/acme/dify-api:1.0\n  script: [flask db current]\n"
DEPLOY = ("kind: Deployment\nspec:\n  containers:\n    - name: api\n"
          "      image: registry.example.com/acme/dify-api:1.0\n")
TARGET = Target.from_inputs("registry.example.com/acme/dify-api", "2.0")
PLACES = [*CI_FILES, *(f"{folder}/pipeline.yml" for folder in CI_FOLDERS), "ci/nested/.gitlab-ci.yml"]


@pytest.mark.parametrize("rel", PLACES)
def test_a_ci_file_is_skipped_with_a_note_and_only_the_deployment_changes(tmp_path: Path, rel: str) -> None:
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / rel).write_text(JOB)
    (tmp_path / "deploy.yaml").write_text(DEPLOY)
    plan = plan_bump(tmp_path, [TARGET])
    assert [edit.relpath for edit in plan.edits] == ["deploy.yaml"]
    hidden_folder = any(part.startswith(".") for part in Path(rel).parts[:-1])
    if not hidden_folder:  # hidden folders are never walked at all
        assert any(skip.file == rel and "CI pipeline definition" in skip.reason for skip in plan.skipped)


@pytest.mark.parametrize("rel", PLACES)
def test_a_ci_file_named_with_path_is_refused(tmp_path: Path, rel: str) -> None:
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / rel).write_text(JOB)
    with pytest.raises(InputError, match="CI pipeline definition"):
        plan_bump(tmp_path, [TARGET], [rel])
    assert (tmp_path / rel).read_text() == JOB


@pytest.mark.parametrize("rel", ["deploy/gitlab-ci-runner.yaml", "values-ci.yaml", "apps/azure/pipelines.yaml",
                                 "github/workflow-deploy.yaml"])
def test_deployment_files_with_ci_like_names_are_still_deployments(rel: str) -> None:
    assert ci_system(rel) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", ".github", "workflows", ".gitlab-ci.yml", "x.yaml", ".", "", "..",
                                 "buildspec.yml", ".circleci", "cloudbuild.yaml"]), min_size=1, max_size=5),
       st.sampled_from(["", "/", "./"]))
def test_ci_system_reads_the_parts_pathlib_reads(parts: list[str], lead: str) -> None:
    """ci_system splits the path itself (pathlib cost 0.1 s over a 20,000-file walk): same parts."""
    rel = lead + "/".join(parts)
    pure = PurePosixPath(rel).parts
    expected = None if not pure else (CI_FILES.get(pure[-1]) or next(
        (CI_FOLDERS[part] for part in pure[:-1] if part in CI_FOLDERS), None))
    assert ci_system(rel) == expected
