"""SIGTERM handled like Ctrl-C: one exception every cleanup path already handles.

A cancelled GitHub job sends SIGTERM, then SIGKILL a few seconds later. :func:`install` turns
SIGTERM into :class:`Terminated`, a ``KeyboardInterrupt``, so every ``finally``/``with`` that
cleans up after Ctrl-C (containers, temporary credentials, the bump's journal) also runs on a
cancel, and the front end exits 143 (128 + SIGTERM) instead of 130. :func:`deferred` holds both
signals over a short critical section (renaming a committed bump into place) and delivers them
when it ends. Only the main thread can receive signals; elsewhere these are no-ops.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwinds like Ctrl-C; the front end exits 143."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signum}")


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def install() -> None:
    """Make SIGTERM raise Terminated in the main thread (front ends call it once, at start)."""
    if _main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def exit_code(error: KeyboardInterrupt) -> int:
    """143 after SIGTERM, 130 after Ctrl-C."""
    return EXIT_TERMINATED if isinstance(error, Terminated) else EXIT_INTERRUPTED


@contextlib.contextmanager
def terminating() -> Iterator[None]:
    """SIGTERM raises Terminated inside the block (for a library caller that did not install)."""
    if not _main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """SIGINT and SIGTERM that arrive inside the block are raised when it ends (first one wins)."""
    if not _main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = {signum: signal.signal(signum, hold) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if pending:
        raise Terminated(f"signal {pending[0]}") if pending[0] == signal.SIGTERM else KeyboardInterrupt()
