"""A client for the distribution / OCI registry API: manifests, tag copy, blob mount.

``RegistryClient`` (client.py) holds the operations promote and rollback use; ``Transport``
(transport.py) the HTTP, auth and retries; model.py the values.
"""

from __future__ import annotations

from dify_action.registry.client import RegistryClient, RegistryFor, clients_for
from dify_action.registry.model import (
    ACCEPT,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    CopyResult,
    Credentials,
    Descriptor,
    Manifest,
    compute_digest,
    default_scheme,
)
from dify_action.retry import RetryPolicy

__all__ = [
    "ACCEPT",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "CopyResult",
    "Credentials",
    "Descriptor",
    "Manifest",
    "RegistryClient",
    "RegistryFor",
    "RetryPolicy",
    "clients_for",
    "compute_digest",
    "default_scheme",
]
