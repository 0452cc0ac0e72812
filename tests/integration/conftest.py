"""Fixtures for the delivery tests: the GitHub API emulator (with its git smart-http server) and a
GitOps fixture tree in its bare repository.

At teardown every JSON response the emulator sent is validated against GitHub's OpenAPI
description (fails the test on a mismatch), and the token is searched for in captured output,
logs, PR bodies and every file under the clones' .git directories (fails the test if found).
The OpenAPI file comes from $OCTOKIT_NODE_MODULES (default /opt/octokit/node_modules); when it is
missing the fixture errors: these tests never skip.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from emulator import GitHubEmulator, OpenApiValidator
from gitopstree import gitops_files


@pytest.fixture(scope="session")
def openapi() -> OpenApiValidator:
    return OpenApiValidator()


@pytest.fixture
def token() -> str:
    return "ghs_" + secrets.token_hex(18)


class SecretWatch:
    """Places a token must never reach; checked at teardown."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.forms = [token, base64.b64encode(f"x-access-token:{token}".encode()).decode()]
        self.dirs: list[Path] = []

    def leaks_in_text(self, text: str) -> bool:
        return any(form in text for form in self.forms)

    def leaking_files(self) -> list[str]:
        found = []
        for root in self.dirs:
            for path in root.rglob("*"):
                if path.is_file() and any(form.encode() in path.read_bytes() for form in self.forms):
                    found.append(str(path))
        return found


@pytest.fixture
def secret_watch(
    token: str, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Iterator[SecretWatch]:
    caplog.set_level(logging.DEBUG)
    watch = SecretWatch(token)
    yield watch
    out, err = capfd.readouterr()
    problems = []
    if watch.leaks_in_text(out + err):
        problems.append("captured stdout/stderr")
    if watch.leaks_in_text(caplog.text):
        problems.append("log records")
    problems += watch.leaking_files()
    if problems:
        pytest.fail(f"the token leaked into: {', '.join(problems)}")


@pytest.fixture
def emulator(
    tmp_path: Path, token: str, openapi: OpenApiValidator, secret_watch: SecretWatch
) -> Iterator[GitHubEmulator]:
    em = GitHubEmulator(tmp_path / "srv", token).start()
    em.repo.commit_files("main", gitops_files(), "initial GitOps tree")
    try:
        yield em
    finally:
        em.stop()
    check_emulator(em, openapi, secret_watch)


def check_emulator(em: GitHubEmulator, openapi: OpenApiValidator, secret_watch: SecretWatch) -> None:
    """Every answer the emulator gave matches GitHub's OpenAPI description; no PR carries the token."""
    problems = []
    for record in em.records:
        if record.template == "?":
            problems.append(f"unrouted {record.method} answered {record.status}")
            continue
        for message in openapi.errors(record.method, record.template, record.status, record.body):
            problems.append(f"{record.method} {record.template} {record.status}: {message}")
    for pull in em.pulls.values():
        if secret_watch.leaks_in_text(f"{pull.title}\n{pull.body}"):
            problems.append(f"token in PR #{pull.number}")
    if problems:
        pytest.fail(
            "emulator responses do not match GitHub's OpenAPI description / leaks:\n" + "\n".join(problems[:30])
        )


@pytest.fixture
def clone_dirs(tmp_path: Path, secret_watch: SecretWatch) -> Callable[[], Path]:
    """Makes fresh directories for clones; every file in them is searched for the token."""
    counter = iter(range(10_000))

    def make() -> Path:
        path = tmp_path / f"clone-{next(counter)}"
        secret_watch.dirs.append(path)
        return path

    return make
