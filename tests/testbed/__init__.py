"""The integration test bed: a private dockerd, registries (htpasswd and token auth), base images.

Used by tests/conftest.py (session fixtures) and, outside pytest, by ``python -m tests.testbed up``
(the demo script). Everything lives under one short state dir (/tmp/da-XXXX) and every process is
stopped by the pid we started.
"""

from __future__ import annotations

from .bed import Testbed, load_testbed, start_testbed, stop_testbed
from .dockerd import Dockerd, start_dockerd, stop_dockerd
from .images import BASE_ALIASES, BASE_IMAGE, build_base_image, busybox_context
from .procs import TestbedError, free_port
from .proxy import FaultProxy
from .registry import Registry, Request, start_registry, stop_registry

__all__ = [
    "BASE_ALIASES", "BASE_IMAGE", "Dockerd", "FaultProxy", "Registry", "Request", "Testbed",
    "TestbedError", "build_base_image", "busybox_context", "free_port", "load_testbed",
    "start_dockerd", "start_registry", "start_testbed", "stop_dockerd", "stop_registry", "stop_testbed",
]
