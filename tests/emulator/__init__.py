"""GitHub API emulator for the delivery tests: stateful, OpenAPI-checked, backed by a real bare repo
served over git smart-http with basic auth. See server.py."""

from __future__ import annotations

from .bare import BareRepo
from .githttp import GitFault, GitHttpConfig
from .openapi import OpenApiValidator, spec_path
from .server import Fault, GitHubEmulator, Record, primary_rate_limit, secondary_rate_limit

__all__ = [
    "BareRepo",
    "Fault",
    "GitFault",
    "GitHttpConfig",
    "GitHubEmulator",
    "OpenApiValidator",
    "Record",
    "primary_rate_limit",
    "secondary_rate_limit",
    "spec_path",
]
