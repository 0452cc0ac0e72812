"""Bounded YAML: a depth, node and alias budget checked on the event stream before composing.

PyYAML's composer and constructor recurse once per nesting level (40 KB of ``[`` is a
RecursionError) and expand aliases without limit (a "billion laughs" file is a hang once
anything walks it). Every YAML text dify-action reads goes through a :class:`Budget`: either
a loader mixin (:class:`Guarded`, the budget checked as the composer pulls each event, so the
composer never goes deeper than the budget) or :func:`check` (a libyaml event pass, linear in
the text). Both raise :class:`BudgetExceeded`, a ``yaml.MarkedYAMLError`` with the line.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import yaml

_EventParser: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it


@dataclass(frozen=True)
class Budget:
    """``max_depth``: nested collections; ``max_nodes``: nodes with every alias expanded
    (counted across the whole text); ``recursive_aliases``: allow an alias inside its own anchor."""

    max_depth: int = 100
    max_nodes: int = 200_000
    recursive_aliases: bool = False


class BudgetExceeded(yaml.MarkedYAMLError):
    """The text is over a :class:`Budget`: ``problem`` says which limit, ``problem_mark`` where."""


class _Tracker:
    """Counts depth and expanded nodes event by event; raises BudgetExceeded at the first excess."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.total = 0
        self.open: list[tuple[str | None, int]] = []  # (anchor, total when it opened)
        self.sizes: dict[str, int] = {}

    def feed(self, event: yaml.Event) -> None:
        budget = self.budget
        if isinstance(event, yaml.AliasEvent):
            anchor = event.anchor or ""
            if any(name == anchor for name, _ in self.open):
                if not budget.recursive_aliases:
                    self._fail(event, f"the alias *{anchor} is inside its own anchor (a recursive alias)")
                self._add(event, 1)
            else:
                self._add(event, self.sizes.get(anchor, 1))
        elif isinstance(event, yaml.ScalarEvent):
            self._add(event, 1)
            if event.anchor is not None:
                self.sizes[event.anchor] = 1
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            if len(self.open) >= budget.max_depth:
                self._fail(event, f"nested deeper than {budget.max_depth} levels")
            self._add(event, 1)
            self.open.append((event.anchor, self.total - 1))
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent) and self.open:
            opened, start = self.open.pop()
            if opened is not None:
                self.sizes[opened] = self.total - start

    def _add(self, event: yaml.Event, count: int) -> None:
        self.total += count
        if self.total > self.budget.max_nodes:
            self._fail(
                event, f"aliases expand it to over {self.budget.max_nodes} nodes (an alias bomb)"
                if self.sizes else f"more than {self.budget.max_nodes} nodes",
            )

    def _fail(self, event: yaml.Event, problem: str) -> None:
        raise BudgetExceeded(problem=f"{problem}; refusing to read it", problem_mark=cast(Any, event.start_mark))


LARGE = 64 * 1024  # characters; above this a libyaml pass checks the budget first (about 20x faster)


class Guarded:
    """Mixin for a pure-Python loader (``class L(Guarded, yaml.SafeLoader)``): the budget is
    checked on each event as the composer takes it, before the node is composed; a large text
    is checked by a libyaml event pass first, so a refusal costs little."""

    budget = Budget()

    def get_event(self) -> yaml.Event:
        tracker = self.__dict__.get("_budget_tracker")
        if tracker is None:
            text = self.__dict__.get("buffer")
            if isinstance(text, str) and len(text) > LARGE:
                try:  # libyaml refuses it before the slow composer starts
                    check(text.rstrip("\0"), self.budget)
                except BudgetExceeded:
                    raise
                except yaml.YAMLError:  # syntax is for the loader's own parser to judge, as before
                    pass
            tracker = self.__dict__["_budget_tracker"] = _Tracker(self.budget)
        event: yaml.Event = super().get_event()  # type: ignore[misc]
        tracker.feed(event)
        return event


def check(text: str, budget: Budget) -> None:
    """Raise BudgetExceeded (or the parser's own YAMLError) when ``text`` is over ``budget``."""
    tracker = _Tracker(budget)
    loader = _EventParser(text)
    try:
        while loader.check_event():
            tracker.feed(loader.get_event())
    finally:
        loader.dispose()


def line_of(error: yaml.YAMLError) -> int | None:
    """The 1-based line an error points at, if it has one."""
    mark = getattr(error, "problem_mark", None)
    return mark.line + 1 if mark is not None else None


def problem_of(error: yaml.YAMLError) -> str:
    return str(getattr(error, "problem", None) or str(error).splitlines()[0])


def nodes(docs: Iterable[yaml.Node]) -> Iterator[yaml.Node]:
    """Every node of the composed documents once (an aliased node is one node), without recursion:
    a document's depth is bounded by the budget, not by Python's stack."""
    seen: set[int] = set()
    stack = list(docs)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(item for pair in node.value for item in pair)


def duplicate_keys(docs: tuple[yaml.Node, ...]) -> dict[int, tuple[str, int]]:
    """``id(node) -> (key, line)`` for every mapping that has a key twice and for each key and
    value directly in it: an edit there is ambiguous (YAML parsers disagree on which one wins)."""
    found: dict[int, tuple[str, int]] = {}
    for node in nodes(docs):
        if isinstance(node, yaml.MappingNode):
            names: set[object] = set()
            duplicate: tuple[str, int] | None = None
            for key, _ in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in names and duplicate is None:
                        duplicate = (str(key.value), key.start_mark.line + 1)
                    names.add(key.value)
            if duplicate is not None:
                found[id(node)] = duplicate
                for key, value in node.value:
                    found[id(key)] = found[id(value)] = duplicate
    return found
