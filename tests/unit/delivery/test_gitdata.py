"""sign-commits' pure parts (issue 19): which tokens GitHub signs for, the Co-authored-by trailer, the
refusal of sign-commits without the GitHub API, a push refused by GH013/GH006 named with its fix, and
the output, document and step summary of a verified or unverified commit."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dify_action.delivery import Destination, Git, Identity
from dify_action.delivery.gitdata import co_author, token_kind
from dify_action.errors import InputError
from dify_action.front.render import outputs
from dify_action.pipeline.model import Delivery, Result


@pytest.mark.parametrize(("token", "kind"), [
    ("ghs_abc", "app"), ("github_pat_11abc", "fine-grained PAT"), ("ghp_abc", "classic PAT"),
    ("gho_x", "OAuth token"), (None, "unknown"), ("secret", "unknown")])
def test_token_kind_from_githubs_prefixes(token: str | None, kind: str) -> None:
    assert token_kind(token) == kind


@given(message=st.text(min_size=1).filter(lambda m: "Co-authored-by" not in m))
def test_a_configured_author_is_one_trailer(message: str) -> None:
    person = Identity("Ops Bot", "ops@example.invalid")
    once = co_author(message, person)
    assert once.endswith("\n\nCo-authored-by: Ops Bot <ops@example.invalid>\n")
    assert co_author(once, person) == once  # never twice
    assert co_author(message, Identity()) == message  # the default identity is no person


def test_sign_commits_needs_the_github_api() -> None:
    with pytest.raises(InputError, match="sign-commits"):
        Destination("https://git.example/acme/gitops.git", provider="git", sign_commits=True).validate()
    Destination("https://github.com/acme/gitops.git", provider="github", sign_commits=True).validate()


@pytest.mark.parametrize(("stderr", "code", "kind"), [
    ("remote: error: GH013: Repository rule violations found for refs/heads/main.\n"
     "remote: - Commits must have verified signatures.\n", "GH013", "ruleset"),
    ("remote: error: GH006: Protected branch update failed for refs/heads/main.\n"
     "remote: error: Commits must have verified signatures.\n", "GH006", "branch protection"),
])
def test_a_push_refused_for_signatures_names_the_rule_and_the_fix(tmp_path: Path, stderr: str, code: str,
                                                                  kind: str) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    error = Git(str(tmp_path), tmp_path, "ghs_secret", base_env=os.environ).error("push", stderr)
    assert code in error.message and kind in error.message and "verified signatures" in error.message
    assert error.hint is not None and "sign-commits: true" in error.hint and "App" in error.hint


def test_other_rule_refusals_do_not_ask_for_signing(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    text = ("remote: error: GH013: Repository rule violations found for refs/heads/main.\n"
            "- Changes must be made through a pull request.\n")
    error = Git(str(tmp_path), tmp_path, base_env=os.environ).error("push", text)
    assert "GH013" in error.message and error.hint is not None and "sign-commits" not in error.hint


@pytest.mark.parametrize("verified", [True, False, None])
def test_output_document_and_summary_say_whether_the_commit_is_verified(verified: bool | None) -> None:
    note = ("commit abc is not verified (the token is a fine-grained PAT: GitHub signs API commits only for "
            "a GitHub App installation token or GITHUB_TOKEN)",) if verified is False else ()
    d = Delivery("bump", "created", commit="a" * 40, notes=note, commits_verified=verified)
    result = Result("bump", deliveries=(d,))
    values = outputs(result)
    assert values.get("pull-request-commits-verified") == (None if verified is None else str(verified).lower())
    assert d.as_dict()["commits_verified"] is verified
    summary = result.markdown("passed")
    assert ("**verified**" in summary) is (verified is True)
    assert ("fine-grained PAT" in summary and "WARNING" in summary) is (verified is False)
