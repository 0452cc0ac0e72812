"""SIGTERM unwinds like Ctrl-C (issue #9, item 7): real signals sent to this process."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from dify_action import interrupt


@pytest.fixture(autouse=True)
def _restore_handlers() -> Iterator[None]:
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_sigterm_raises_terminated_a_keyboard_interrupt_that_exits_143() -> None:
    interrupt.install()
    cleaned = []
    with pytest.raises(KeyboardInterrupt) as caught:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.pause()
        finally:
            cleaned.append(True)  # the cleanup Ctrl-C runs, runs
    assert isinstance(caught.value, interrupt.Terminated) and cleaned
    assert interrupt.exit_code(caught.value) == 143
    assert interrupt.exit_code(KeyboardInterrupt()) == 130


@pytest.mark.parametrize(
    ("signum", "kind"), [(signal.SIGTERM, interrupt.Terminated), (signal.SIGINT, KeyboardInterrupt)]
)
def test_deferred_holds_the_signal_until_the_block_ends(signum: int, kind: type[BaseException]) -> None:
    interrupt.install()
    finished = []
    with pytest.raises(KeyboardInterrupt) as caught, interrupt.deferred():
        os.kill(os.getpid(), signum)
        os.kill(os.getpid(), signal.SIGTERM)  # a second one changes nothing: the first wins
        finished.append(True)
    assert finished == [True] and type(caught.value) is kind
    assert signal.getsignal(signal.SIGTERM) is not None


def test_terminating_restores_the_previous_handler() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with pytest.raises(interrupt.Terminated), interrupt.terminating():
        os.kill(os.getpid(), signal.SIGTERM)
        signal.pause()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
