"""The Dify facts of a multi-platform set (issue 20): each platform's facts were recorded next to its
own digest by its build; an index digest has none of its own.

When every platform carries the same ``/app/api`` (same version, DSL version and migration graph:
the usual case, since the Python tree is the same on amd64 and arm64) any of them answers, and the
note says so. When they differ, the platform the environment runs answers (``linux/amd64`` unless
the caller knows better), and the note names the difference so a reviewer sees it.
"""

from __future__ import annotations

from dify_action.dify.facts import ImageFacts, with_note
from dify_action.registry import RegistryClient

DEFAULT_PLATFORM = "linux/amd64"


def index_facts(client: RegistryClient, repository: str, digest: str,
                platform: str = DEFAULT_PLATFORM) -> ImageFacts | None:
    """The facts of the index ``repository@digest`` from its platforms' records; None when it is not an
    index or no platform has recorded facts (the caller then reads the layers)."""
    from dify_action.registry.gates import read_facts  # gates imports facts: keep this lazy
    from dify_action.registry.index import platforms_of, same_platform

    if not client.get_manifest(repository, digest).is_index:
        return None
    found = [(p.platform, read_facts(client, repository, p.digest)) for p in platforms_of(client, repository, digest)]
    recorded = [(name, facts) for name, facts in found if facts is not None]
    if not recorded:
        return None
    names = ", ".join(name for name, _ in recorded)
    if all(facts == recorded[0][1] for _, facts in recorded) and len(recorded) == len(found):
        return with_note(recorded[0][1], f"the same /app/api on every platform ({names})")
    chosen = next(((n, f) for n, f in recorded if same_platform(platform, n)), recorded[0])
    return with_note(chosen[1], f"platforms differ or lack recorded facts ({names} of "
                     f"{', '.join(n for n, _ in found)}): read {chosen[0]}, the platform the environment runs")
