"""promote's input checks: every bad value is an InputError naming the input, before any side effect."""

from __future__ import annotations

import pytest

from dify_action.errors import InputError
from dify_action.promote.run import PromoteRequest


def request(**fields: object) -> PromoteRequest:
    base: dict[str, object] = {"repo_url": "file:///nowhere", "source": "staging", "target": "production",
                               "source_paths": ("envs/staging",), "target_paths": ("envs/production",)}
    return PromoteRequest(**(base | fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(("fields", "name"), [
    ({"target": "staging"}, "to-environment"),
    ({"source": "-x"}, "from-environment"),
    ({"source_paths": ()}, "from-paths"),
    ({"target_paths": ()}, "to-paths"),
    ({"provider": "gitlab"}, "provider"),
    ({"push_mode": "force"}, "push-mode"),
    ({"registry_tag": "-bad"}, "registry-tag"),
    ({"images": ("reg.example/acme/api:1.0",)}, "image"),
    ({"ours": ("acme/Api",)}, "image"),
    ({"base": "main\n"}, "base"),
    ({"base": "--upload-pack=touch /tmp/x"}, "base"),
    ({"github_api_url": "file:///etc/passwd"}, "github-api-url"),
])
def test_bad_input_names_the_input(fields: dict[str, object], name: str) -> None:
    with pytest.raises(InputError) as caught:
        request(**fields).validate()
    assert caught.value.name == name and caught.value.exit_code == 2


@pytest.mark.parametrize(("fields", "name"), [
    ({"base": "-f"}, "base"), ({"base": "a b"}, "base"), ({"github_api_url": "ftp://x"}, "github-api-url")])
def test_rollback_checks_base_and_api_url_first(fields: dict[str, object], name: str) -> None:
    from dify_action.rollback.run import RollbackRequest

    with pytest.raises(InputError) as caught:
        RollbackRequest(repo_url="file:///nowhere", commit="abcdef1", **fields).validate()  # type: ignore[arg-type]
    assert caught.value.name == name and caught.value.exit_code == 2


def test_good_request_validates() -> None:
    request(registry_tag="production", images=("127.0.0.1:5000/acme/dify-api",)).validate()
