from __future__ import annotations

import pytest

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
         "registry.example.com/a_b/c__d/e-f.g"),
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
    assert ref.remote_path == "acme/dify-api" and ref.registry == "registry.example.com:5000"


def test_repository_input_rejects_tags() -> None:
    with pytest.raises(InputError, match="without tag"):
        refs.parse_repository("acme/dify-api:1.0")
    with pytest.raises(InputError, match="tag"):
        refs.validate_tag(".hidden")
    with pytest.raises(InputError, match="digest"):
        refs.validate_digest("sha256:XYZ")
