"""The allowed values of the core's choices, one definition each: argparse ``choices``, the action's
input checks and the config schema's enums all read these; and the one rule for environment names."""

from __future__ import annotations

import re

from dify_action.errors import InputError

COMMANDS = ("build", "test", "scan", "bump", "promote", "rollback", "pipeline", "check", "merge")  # merge: issue 20
PROVIDERS = ("github", "git")
PUSH_MODES = ("branch", "direct")
BUILDERS = ("auto", "buildkit", "legacy")
SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
GITHUB_API = "https://api.github.com"  # the default GitHub API (GitHub Enterprise: https://HOST/api/v3)
# the CLI's environment variables (the action has inputs instead); the core only names them in messages
PASSWORD_ENV = "DIFY_ACTION_REGISTRY_PASSWORD"  # noqa: S105 - a variable name, not a secret
USERNAME_ENV = "DIFY_ACTION_REGISTRY_USERNAME"
TOKEN_ENV = ("GITOPS_TOKEN", "GITHUB_TOKEN")
_ENVIRONMENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def check_environment(name: str, input_name: str = "environment") -> str:
    """The one rule for environment names (they become branch names and PR titles)."""
    if not _ENVIRONMENT_RE.fullmatch(name):
        raise InputError(input_name, name, "an environment name: 1-63 characters of [A-Za-z0-9._-], starting "
                         "with a letter or digit, e.g. staging")
    return name
