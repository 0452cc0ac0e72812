"""The SLSA v1 provenance statement (build/provenance.py): its in-toto shape, and that no value of a
build secret can reach it (only the ids are ever given to it)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dify_action import refs
from dify_action.build.component import BuildMetadata, BuildSpec
from dify_action.build.platforms import Provenance, build_facts
from dify_action.build.provenance import (
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    BuildFacts,
    base_images,
    source_of,
    statement,
)

DIGEST = "sha256:" + "b" * 64
DOCKERFILE = "ARG BASE=langgenius/dify-api:1.13.3\nFROM ${BASE} AS app\nFROM app\nFROM scratch\nCOPY x /\n"


def facts(tmp_path: Path, **changes: object) -> BuildFacts:
    (tmp_path / "docker").mkdir(exist_ok=True)
    dockerfile = tmp_path / "docker" / "api.Dockerfile"
    dockerfile.write_text(DOCKERFILE)
    base = dict(builder_id="https://github.com/acme/app/.github/workflows/ship.yml@refs/heads/main",
                source="https://github.com/acme/app", revision="c" * 40, dockerfile=dockerfile, context=tmp_path,
                platform="linux/arm64", build_args={"PIP_EXTRA": "boto3"}, secret_ids=("pip_token",),
                base_images={"langgenius/dify-api:1.13.3": "sha256:" + "d" * 64},
                started=dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC),
                finished=dt.datetime(2026, 12, 7, 9, 3, tzinfo=dt.UTC), invocation="https://ci/run/1")
    return BuildFacts(**(base | changes))  # type: ignore[arg-type]


def test_the_statement_has_the_in_toto_v1_and_slsa_v1_shape(tmp_path: Path) -> None:
    doc = statement("reg.example/acme/dify-api", DIGEST, facts(tmp_path))
    assert doc["_type"] == STATEMENT_TYPE and doc["predicateType"] == PREDICATE_TYPE
    assert doc["subject"] == [{"name": "reg.example/acme/dify-api", "digest": {"sha256": "b" * 64}}]
    definition = doc["predicate"]["buildDefinition"]
    assert set(doc["predicate"]) == {"buildDefinition", "runDetails"}
    assert set(definition) == {"buildType", "externalParameters", "internalParameters", "resolvedDependencies"}
    assert definition["externalParameters"] == {
        "source": "https://github.com/acme/app", "revision": "c" * 40, "platform": "linux/arm64",
        "dockerfile": "docker/api.Dockerfile", "buildArgs": {"PIP_EXTRA": "boto3"}, "secrets": ["pip_token"],
        "target": None}
    assert definition["internalParameters"] == {
        "dockerfileDigest": "sha256:" + hashlib.sha256(DOCKERFILE.encode()).hexdigest()}
    assert definition["resolvedDependencies"] == [
        {"uri": "git+https://github.com/acme/app", "digest": {"gitCommit": "c" * 40}},
        {"uri": "pkg:docker/langgenius/dify-api:1.13.3", "digest": {"sha256": "d" * 64}}]
    assert doc["predicate"]["runDetails"] == {
        "builder": {"id": "https://github.com/acme/app/.github/workflows/ship.yml@refs/heads/main"},
        "metadata": {"invocationId": "https://ci/run/1", "startedOn": "2026-12-07T09:00:00Z",
                     "finishedOn": "2026-12-07T09:03:00Z"}}
    assert source_of(doc) == "https://github.com/acme/app"


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), st.text(min_size=6, max_size=40),
                       min_size=1, max_size=3))
def test_no_secret_value_reaches_the_statement(values: dict[str, str]) -> None:
    """The mechanism: build_facts takes the spec (values included) and keeps only the ids."""
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        (root / "Dockerfile").write_text(DOCKERFILE)
        now = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)

        def made_from(secrets: dict[str, str]) -> tuple[BuildFacts, str]:
            spec = BuildSpec("api", root / "Dockerfile", root, refs.parse_repository("reg.example/acme/dify-api"),
                             ("1.0",), secrets=secrets, build_args={"A": "b"})
            made = build_facts(spec, BuildMetadata("https://github.com/acme/app", "c" * 40), Provenance(),
                               "linux/amd64", {}, now, now)
            return made, json.dumps(statement("reg.example/acme/dify-api", DIGEST, made), ensure_ascii=False)

        # a value that is also an id, or already part of a statement without it, proves nothing
        baseline = made_from({k: "" for k in values})[1]
        assume(all(v not in baseline for v in values.values()))
        made, text = made_from(values)
    assert made.secret_ids == tuple(sorted(values))
    for value in values.values():
        assert value not in text and json.dumps(value)[1:-1] not in text


def test_base_images_are_the_external_froms(tmp_path: Path) -> None:
    assert base_images(DOCKERFILE, {"BASE": "langgenius/dify-api:1.13.3"}) == ("langgenius/dify-api:1.13.3",)
    assert base_images("FROM --platform=$BUILDPLATFORM golang:1.22 AS b\nFROM b\n", {}) == ("golang:1.22",)
