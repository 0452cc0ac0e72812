"""The emergency path (issue 22, class 1): facts that cannot be read never stop
``--allow-schema-rollback``; without it, the guard refuses and says why."""

from __future__ import annotations

import pytest

from dify_action import refs
from dify_action.errors import DifyActionError
from dify_action.rollback.guard import ImageMove, guard_moves
from dify_action.untrusted import Unreadable

CURRENT = refs.parse("r.example/acme/dify-api:1.14.0")
RESTORED = refs.parse("r.example/acme/dify-api:1.13.3")
MOVE = ImageMove("deploy.yaml", 3, "containers[0].image", CURRENT, RESTORED)


def unreadable(_: refs.ImageRef) -> object:
    raise Unreadable("the recorded image facts are unreadable: nested deeper than 8 levels")


def test_the_override_always_works_on_an_unreadable_image() -> None:
    notes: list[str] = []
    checks = guard_moves([MOVE], unreadable, (None, None), allow=True, notes=notes)  # type: ignore[arg-type]
    assert len(checks) == 1 and any("could not read" in note for note in notes)


def test_without_the_override_unreadable_facts_refuse_naming_the_image() -> None:
    with pytest.raises(DifyActionError, match="dify-api"):
        guard_moves([MOVE], unreadable, (None, None), allow=False, notes=[])  # type: ignore[arg-type]
