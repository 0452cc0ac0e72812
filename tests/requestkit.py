"""Build the core's requests from flat keyword arguments in tests: the destination's fields (repo_url,
base, provider, push_mode, token, labels, author...) go into one ``Destination``, the rest to the
request. Keeps each test's table of fields readable."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from dify_action.delivery import DeliveryRequest, Destination
from dify_action.promote.run import PromoteRequest
from dify_action.rollback.model import RollbackRequest

FIELDS = frozenset(f.name for f in dataclasses.fields(Destination))


def destination(fields: dict[str, Any]) -> Destination:
    """Pop the destination's fields out of ``fields``; git inherits this test process's environment."""
    taken = {name: fields.pop(name) for name in list(fields) if name in FIELDS}
    taken.setdefault("environ", os.environ)
    if "author" in taken:
        taken.setdefault("committer", taken["author"])
    return Destination(**taken)


def delivery_request(**fields: Any) -> DeliveryRequest:
    return DeliveryRequest(destination(fields), **fields)


def promote_request(**fields: Any) -> PromoteRequest:
    return PromoteRequest(destination(fields), **fields)


def rollback_request(**fields: Any) -> RollbackRequest:
    return RollbackRequest(destination(fields), **fields)
