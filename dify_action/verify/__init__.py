"""The verify stage: prove what an environment runs, record it, revert what fails (issue 18).

Public API (the front ends, CoreStages and promote use only these):

- ``VerifyInputs`` -> ``resolve_request(inputs)`` -> ``VerifyRequest`` (every check, exit 2, before
  anything is contacted);
- ``verify(request, registry_for)`` -> ``VerifyResult`` (``verified``; its verdict names the cause);
- ``read_verifications`` / ``refusal``: the records promote reads ("verified freight");
- ``markdown(result)`` / ``text_lines(result)``: the step summary and the CLI's lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dify_action.lazy import loader

if TYPE_CHECKING:  # the real names for the type checker; at run time __getattr__ loads them on first use
    from dify_action.verify.model import Verdict, VerifyResult
    from dify_action.verify.record import Verification, read_verifications, refusal, verify_tag
    from dify_action.verify.render import markdown, text_lines
    from dify_action.verify.request import VerifyInputs, VerifyRequest, argocd_url, resolve_request
    from dify_action.verify.run import verify

# promote reads the records without loading the live sources (requests, the Kubernetes client)
_LAZY = {
    "Verdict": "model", "VerifyResult": "model", "Verification": "record", "read_verifications": "record",
    "refusal": "record", "verify_tag": "record", "markdown": "render", "text_lines": "render",
    "VerifyInputs": "request", "VerifyRequest": "request", "argocd_url": "request", "resolve_request": "request",
    "verify": "run",
}

__all__ = [
    "Verdict",
    "Verification",
    "VerifyInputs",
    "VerifyRequest",
    "VerifyResult",
    "argocd_url",
    "markdown",
    "read_verifications",
    "refusal",
    "resolve_request",
    "text_lines",
    "verify",
    "verify_tag",
]


__getattr__ = loader(__name__, _LAZY, globals())
