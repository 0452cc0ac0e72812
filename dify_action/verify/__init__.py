"""The verify stage: prove what an environment runs, record it, revert what fails (issue 18).

Public API (the front ends, CoreStages and promote use only these):

- ``VerifyInputs`` -> ``resolve_request(inputs)`` -> ``VerifyRequest`` (every check, exit 2, before
  anything is contacted);
- ``verify(request, registry_for)`` -> ``VerifyResult`` (``verified``; its verdict names the cause);
- ``read_verifications`` / ``refusal``: the records promote reads ("verified freight");
- ``markdown(result)`` / ``text_lines(result)``: the step summary and the CLI's lines.
"""

from __future__ import annotations

from dify_action.verify.model import Verdict, VerifyResult
from dify_action.verify.record import Verification, read_verifications, refusal, verify_tag
from dify_action.verify.render import markdown, text_lines
from dify_action.verify.request import VerifyInputs, VerifyRequest, argocd_url, resolve_request
from dify_action.verify.run import verify

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
