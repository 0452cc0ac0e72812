"""``base`` and other branch inputs: what check_branch accepts, real git accepts as a branch name
(git check-ref-format --branch), and nothing it accepts can be read as an option or hold a
control character (issue #9 item 8)."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dify_action.delivery.git import _strip_userinfo, check_branch
from dify_action.errors import InputError

names = st.lists(st.one_of(st.sampled_from(["main", "release", "/", ".", "..", "-", "@", "{", "~", "^", ":", "?",
                                            "*", "[", "\\", " ", "\n", "\x1b", ".lock", "--upload-pack=x", "v1"]),
                           st.characters(max_codepoint=0x7f)), min_size=1, max_size=8).map("".join)


def accepted(name: str) -> bool:
    try:
        check_branch(name)
    except InputError as error:
        assert error.name == "base" and error.exit_code == 2
        return False
    return True


@settings(max_examples=200, deadline=None)
@given(names)
def test_accepted_names_are_branches_git_accepts(name: str) -> None:
    if accepted(name):
        assert not name.startswith("-") and name.isprintable()
        proc = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True, check=False)
        assert proc.returncode == 0, name


@pytest.mark.parametrize("name", ["main", "release/1.2", "dify-action/production/dify-api", "v1.0", "feat_x+y"])
def test_ordinary_branches_pass(name: str) -> None:
    assert accepted(name)


@pytest.mark.parametrize(("url", "shown"), [
    ("https://x-access-token:tok@git.example:8443/acme/gitops.git", "https://git.example:8443/acme/gitops.git"),
    ("http://user@127.0.0.1:3000/a.git", "http://127.0.0.1:3000/a.git"),
    ("https://git.example/a.git", "https://git.example/a.git"),
])
def test_scrubbed_urls_keep_host_and_port(url: str, shown: str) -> None:
    assert _strip_userinfo(url) == shown
