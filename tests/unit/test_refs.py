from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dify_action import refs
from dify_action.errors import InputError

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "domain", "path", "tag", "digest", "repository"),
    [
        ("nginx", None, "nginx", None, None, "docker.io/library/nginx"),
        ("nginx:1.25", None, "nginx", "1.25", None, "docker.io/library/nginx"),
        ("langgenius/dify-api:1.13.3", None, "langgenius/dify-api", "1.13.3", None, "docker.io/langgenius/dify-api"),
        ("docker.io/library/nginx", "docker.io", "library/nginx", None, None, "docker.io/library/nginx"),
        ("index.docker.io/acme/x", "index.docker.io", "acme/x", None, None, "docker.io/acme/x"),
        ("registry:5000/x", "registry:5000", "x", None, None, "registry:5000/x"),
        ("registry:5000/x:1.0", "registry:5000", "x", "1.0", None, "registry:5000/x"),
        ("localhost/a/b", "localhost", "a/b", None, None, "localhost/a/b"),
        (f"ghcr.io/acme/dify-api:1.13.3@{D}", "ghcr.io", "acme/dify-api", "1.13.3", D, "ghcr.io/acme/dify-api"),
        (f"acme/dify-api@{D}", None, "acme/dify-api", None, D, "docker.io/acme/dify-api"),
        ("[::1]:5000/acme/x:t", "[::1]:5000", "acme/x", "t", None, "[::1]:5000/acme/x"),
        ("Registry.Example.com/a_b/c__d/e-f.g", "Registry.Example.com", "a_b/c__d/e-f.g", None, None,
         "Registry.Example.com/a_b/c__d/e-f.g"),
    ],
)
def test_parse(text: str, domain: str | None, path: str, tag: str | None, digest: str | None, repository: str) -> None:
    ref = refs.parse(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest, ref.repository) == (domain, path, tag, digest, repository)
    assert str(ref) == text


@pytest.mark.parametrize(
    "text",
    ["", "acme/UPPER", "a:b:c", "acme/x:", "acme/x:-bad", "acme/x@sha256:abc", "acme//x", "acme/x/",
     "acme/x:" + "t" * 129, "a b", "${IMAGE}", "-acme/x", "acme/x@md5:" + "a" * 32],
)
def test_rejects(text: str) -> None:
    assert refs.try_parse(text) is None
    with pytest.raises(InputError) as info:
        refs.parse(text, input_name="image")
    assert info.value.exit_code == 2
    assert repr(text) in str(info.value)


def test_matching_is_exact_on_normalized_repositories() -> None:
    api = refs.parse("acme/dify-api")
    assert api.same_repository(refs.parse("docker.io/acme/dify-api:1"))
    assert not api.same_repository(refs.parse("acme/dify-api-extra"))
    assert not api.same_repository(refs.parse("ghcr.io/acme/dify-api"))
    assert refs.parse("nginx").same_repository(refs.parse("docker.io/library/nginx"))


def test_formatting_keeps_the_users_spelling() -> None:
    ref = refs.parse("Registry.Example.com:5000/acme/dify-api:1.0")
    assert str(ref.with_version("2.0", D)) == f"Registry.Example.com:5000/acme/dify-api:2.0@{D}"
    assert ref.remote_path == "acme/dify-api" and ref.registry == "Registry.Example.com:5000"


def test_repository_input_rejects_tags() -> None:
    with pytest.raises(InputError, match="without tag"):
        refs.parse_repository("acme/dify-api:1.0")
    with pytest.raises(InputError, match="tag"):
        refs.validate_tag(".hidden")
    with pytest.raises(InputError, match="digest"):
        refs.validate_digest("sha256:XYZ")


def test_host_case_is_kept_but_matching_ignores_it() -> None:
    upper = refs.parse("Foo/bar")
    assert (upper.domain, upper.registry, upper.repository) == ("Foo", "Foo", "Foo/bar")
    assert not upper.same_repository(refs.parse("foo/bar"))  # no host there: docker.io/foo/bar
    assert refs.parse("Registry.Example.com/x").same_repository(refs.parse("registry.example.com/x:1"))


def test_legacy_hub_host_normalizes_in_registry_too() -> None:
    ref = refs.parse("index.docker.io/library/ubuntu")
    assert (ref.registry, ref.repository, ref.remote_path) == ("docker.io", "docker.io/library/ubuntu",
                                                               "library/ubuntu")
    assert str(ref) == "index.docker.io/library/ubuntu"


def test_a_bare_image_id_is_not_a_name() -> None:
    image_id = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
    assert refs.try_parse(image_id) is None
    assert refs.try_parse(image_id[:63]) is not None
    assert refs.try_parse(f"acme/{image_id}") is not None


@given(st.integers(min_value=1, max_value=300), st.integers(min_value=1, max_value=200))
def test_the_length_limit_is_on_the_path(path_length: int, host_length: int) -> None:
    host = "h" * host_length + ".example.com"
    ref = refs.try_parse(f"{host}/{'a' * path_length}")
    assert (ref is not None) == (path_length <= 255)
