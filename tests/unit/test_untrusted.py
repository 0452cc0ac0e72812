"""The one decoder for image and registry data (issue 22, class 1): whatever the bytes, its only
failure is the project's own error, and nesting is refused before a parser recurses."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dify_action import untrusted
from dify_action.dify.facts import ImageFacts, facts_from_files, parse_dsl_version, parse_project_version
from dify_action.dify.migrations import read_graph
from dify_action.errors import DifyActionError, RegistryError
from dify_action.registry import Manifest
from dify_action.registry.model import compute_digest

DEEP = 100_000  # far past every recursion limit


@pytest.mark.parametrize("text", ["[" * DEEP, "{\"a\":" * DEEP, "[" * DEEP + "]" * DEEP])
def test_deep_json_is_refused_before_parsing(text: str) -> None:
    with pytest.raises(untrusted.Unreadable, match="nested deeper"):
        untrusted.json_value(text, "a manifest")


def test_brackets_inside_json_strings_do_not_count() -> None:
    assert untrusted.json_value(json.dumps({"a": "[" * 500}), "x") == {"a": "[" * 500}


@pytest.mark.parametrize("text", ["a = " + "[" * DEEP, "a = " + "{b = " * DEEP, "[project]\nversion = " + "[" * 300])
def test_deep_toml_is_unreadable_not_a_crash(text: str) -> None:
    assert parse_project_version(text) is None
    with pytest.raises(untrusted.Unreadable):
        untrusted.toml_document(text, "pyproject.toml")


@pytest.mark.parametrize("text", [
    "revision = " + "(" * DEEP, "revision = " + "-" * DEEP + "1", "revision = " + "not " * DEEP + "x",
    "revision = 'a'\ndown_revision = " + "(" * 150 + "'b'" + ")" * 150, "x = " + "[" * 5000 + "]" * 5000,
])
def test_hostile_migrations_make_the_graph_unreadable_never_an_escape(text: str) -> None:
    facts = facts_from_files({"migrations/versions/a_x.py": text.encode()}, "layers", label="1.4.0")
    assert facts.graph is None and facts.dify_version == "1.4.0"  # the guard's label fallback applies
    assert any("unreadable" in note for note in facts.notes)
    assert parse_dsl_version(text) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000) | st.text(alphabet="[]{}()\"'\\:,=-+ \nax01", max_size=3000).map(str.encode))
def test_any_bytes_give_a_value_or_unreadable(data: bytes) -> None:
    for call in (lambda: untrusted.json_value(data, "x"), lambda: untrusted.toml_document(data.decode("latin-1"), "x"),
                 lambda: untrusted.python_module(data.decode("latin-1"), "x")):
        with contextlib.suppress(untrusted.Unreadable):
            call()
    files = {"migrations/versions/a_x.py": data, "constants/dsl_version.py": data, "pyproject.toml": data}
    facts_from_files(files, "layers")  # never raises: unreadable parts become notes
    with contextlib.suppress(DifyActionError):
        ImageFacts.from_json(data)


SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=30)
FACT_KEYS = ("version", "migrations", "notes", "dify_version", "dsl_version", "revision", "down_revision", "file",
             "slug")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FACT_KEYS), JSON_VALUES | st.lists(
    st.dictionaries(st.sampled_from(FACT_KEYS), JSON_VALUES, max_size=5), max_size=4), max_size=6))
def test_a_facts_blob_of_any_shape_is_facts_or_the_projects_error(doc: dict[str, object]) -> None:
    doc.setdefault("version", 1)
    try:
        facts = ImageFacts.from_json(json.dumps(doc).encode())
    except DifyActionError:
        return
    assert facts.source == "record"


MANIFEST_KEYS = ("mediaType", "layers", "manifests", "config", "digest", "size", "platform", "annotations")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(MANIFEST_KEYS), JSON_VALUES | st.lists(
    st.dictionaries(st.sampled_from(MANIFEST_KEYS), JSON_VALUES, max_size=4), max_size=3), max_size=6),
       st.sampled_from(["application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json"]))
def test_a_manifest_of_any_shape_reads_or_is_a_registry_error(doc: dict[str, object], media_type: str) -> None:
    body = json.dumps(doc).encode()
    manifest = Manifest(media_type, compute_digest(body), body)
    for call in (manifest.children, manifest.blobs, manifest.layers_size):
        with contextlib.suppress(RegistryError):
            call()


def test_negative_and_non_integer_sizes_are_refused() -> None:
    for size in (-1, 1.5, "10", True, 1 << 60):
        body = json.dumps({"layers": [{"digest": "sha256:" + "a" * 64, "size": size}]}).encode()
        with pytest.raises(RegistryError, match="size"):
            Manifest("application/vnd.oci.image.manifest.v1+json", "sha256:x", body).layers_size()


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "blake2b", "nonsense", "sha256 "])
def test_unknown_digest_algorithms_are_a_registry_error_not_a_value_error(algorithm: str) -> None:
    with pytest.raises(RegistryError, match="digest algorithm"):
        compute_digest(b"x", algorithm)


def test_a_consistent_graph_still_reads() -> None:
    graph = read_graph({"a_x.py": "revision = 'a'\ndown_revision = None\n",
                        "b_y.py": "revision: str = 'b'\ndown_revision = ('a',)\n"})
    assert graph.heads == ("b",)
