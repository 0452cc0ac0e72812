"""The one retry policy of dify-action's HTTP clients (the registry and the GitHub API)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``attempts`` in all, exponential backoff from ``base_delay`` up to
    ``max_delay``; a wait the server asks for (Retry-After, a rate-limit reset) is honoured up to
    ``max_wait``; ``fresh_ref_attempts`` covers GitHub's 404/422 right after a branch is pushed."""

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_wait: float = 900.0
    fresh_ref_attempts: int = 4
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def backoff(self, attempt: int) -> float:
        """The delay before retry number ``attempt`` (1-based)."""
        return float(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


REGISTRY = RetryPolicy(attempts=4, base_delay=0.5)  # registries: quicker, fewer (pushes re-run cheaply)
