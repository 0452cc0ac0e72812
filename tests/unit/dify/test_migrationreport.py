"""Forward visibility: the migrations a bump runs and the target environment's manifest checks."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from testbed.difyapi import V14_MERGE, history

from dify_action import refs
from dify_action.dify.facts import ImageFacts
from dify_action.dify.migrationreport import forward_report
from dify_action.dify.migrations import read_graph

API = refs.parse("registry.example.com/acme/dify-api")


def facts(version: str) -> ImageFacts:
    return ImageFacts("record", version, "0.6.0", read_graph({m.file: m.text() for m in history(version)}))


def deployment(name: str, replicas: int | None, env: str = "", image: str = "registry.example.com/acme/dify-api:1",
               extra: str = "") -> str:
    count = f"  replicas: {replicas}\n" if replicas is not None else ""
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n{count}  template:\n"
            f"    spec:\n      containers:\n        - name: {name}\n          image: {image}\n{env}{extra}")


def job(mode: str = "migration") -> str:
    return ("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: dify-migrate\n  annotations:\n"
            "    argocd.argoproj.io/hook: PreSync\nspec:\n  template:\n    spec:\n      containers:\n"
            "        - name: migrate\n          image: registry.example.com/acme/dify-api:1\n          env:\n"
            f"            - name: MODE\n              value: {mode}\n")


def env(**values: str) -> str:
    return "          env:\n" + "".join(f"            - name: {k}\n              value: \"{v}\"\n"
                                        for k, v in values.items())


def tree(tmp_path: Path, *docs: str) -> Path:
    (tmp_path / "prod").mkdir(parents=True, exist_ok=True)
    (tmp_path / "prod" / "api.yaml").write_text("---\n".join(docs))
    return tmp_path


def test_lists_the_migrations_and_flags_the_race_and_the_missing_job(tmp_path: Path) -> None:
    config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-env\ndata:\n  MIGRATION_ENABLED: \"true\"\n"
    envfrom = "          envFrom:\n            - configMapRef:\n                name: api-env\n"
    root = tree(tmp_path, config_map, deployment("dify-api", 3, envfrom),
                deployment("dify-web", 2, env(MIGRATION_ENABLED="true"), image="acme/dify-web:1"))
    report = forward_report(facts("1.13.3"), facts("1.14.0"), root, ["prod"], API)
    assert report.exact and len(report.migrations) == 3 and report.migrations[-1].slug == V14_MERGE[1]
    assert [w.name for w in report.workloads] == ["dify-api"]  # the web image is not the api
    assert len(report.warnings) == 2
    assert any("no migration Job (MODE=migration)" in w for w in report.warnings)
    assert any("Deployment dify-api (prod/api.yaml:8) has MIGRATION_ENABLED=true and 3 replicas" in w
               for w in report.warnings)
    text = report.markdown()
    assert "This change runs **3 migration(s)**" in text and "merge\\_rag\\_pipeline\\_and\\_oauth (merge)" in text
    assert "[!WARNING]" in text
    assert report.summary().startswith("registry.example.com/acme/dify-api: this change runs 3")


def test_a_migration_job_and_single_writer_pass(tmp_path: Path) -> None:
    root = tree(tmp_path, job(), deployment("dify-api", 3, env(MIGRATION_ENABLED="false", MODE="api")))
    report = forward_report(facts("1.13.3"), facts("1.14.0"), root, ["prod"], API)
    assert not report.warnings and any("migration Job: Job dify-migrate" in n for n in report.notes)


def test_hpa_counts_as_replicas_and_no_migration_means_no_job_needed(tmp_path: Path) -> None:
    hpa = ("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: api\nspec:\n"
           "  scaleTargetRef:\n    kind: Deployment\n    name: dify-api\n  minReplicas: 1\n  maxReplicas: 4\n")
    root = tree(tmp_path, hpa, deployment("dify-api", None, env(MIGRATION_ENABLED="True")))
    same = forward_report(facts("1.13.2"), facts("1.13.3"), root, ["prod"], API)
    assert same.exact and not same.migrations
    assert [w for w in same.warnings if "no migration Job" in w] == []
    assert any("4 replicas" in w for w in same.warnings)
    assert same.summary().endswith("this change runs no migration")


def test_unknown_side_and_a_bump_that_lacks_migrations(tmp_path: Path) -> None:
    root = tree(tmp_path, deployment("dify-api", 1, env(MIGRATION_ENABLED="true")))
    unknown = forward_report(None, facts("1.14.0"), root, ["prod"], API)
    assert not unknown.exact and any("no migration Job" in w for w in unknown.warnings)
    assert "unknown" in unknown.markdown()
    back = forward_report(facts("1.14.0"), facts("1.13.3"), root, ["prod"], API)
    assert len(back.missing) == 3 and any("lacks 3 migration(s)" in w for w in back.warnings)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.sampled_from(["true", "false", "TRUE", ""]), st.booleans(), st.booleans())
def test_rules_as_a_table(tmp_path_factory, replicas: int, enabled: str, with_job: bool,  # type: ignore[no-untyped-def]
                          runs: bool) -> None:
    root = tree(tmp_path_factory.mktemp("t"), *([job()] if with_job else []),
                deployment("dify-api", replicas, env(MIGRATION_ENABLED=enabled) if enabled else ""))
    report = forward_report(facts("1.13.3"), facts("1.14.0" if runs else "1.13.2"), root, ["prod"], API)
    race = enabled.lower() == "true" and replicas > 1
    assert any("race" in w for w in report.warnings) == race
    assert any("no migration Job" in w for w in report.warnings) == (runs and not with_job)
