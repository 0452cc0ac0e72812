"""Per-file work of a bump spread over forked processes (issue 22, class 7: bump at grep speed).

Composing the YAML a bump edits is CPU work in Python, one core at a time; a large tree has
hundreds of such files, and the journal stages a copy of each. ``fan_out`` forks workers once the
files are read (each inherits the bytes: nothing is sent to it); every process, the parent too,
takes the next file from one task pipe, heaviest first. A worker sends back its results pickled,
with the objects the parent already holds (the files' bytes and texts) replaced by keys
(``stand_ins``/``restore``).

A worker's work must be safe to do twice: pure (composing a file), or writing only a file that is
the worker's own (a journal's staged copy, removed with the journal). Whatever goes wrong in one (an
exception, a result that does not pickle, a crash, a kill) then costs time, never correctness: the
item comes back as ``None`` and the caller computes it in-process, in order, where the exception
a serial run would raise is raised again, at the same file. A worker dies with its parent. The
parent forks only when nothing else runs in it (one thread: a fork copies no other thread's
locks) and the work is large enough to pay for the fork.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import pickle
import signal
import sys
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

R = TypeVar("R")

MIN_WEIGHT = 1 << 20  # bytes of work: below this, a fork and a pickle cost more than they save
MAX_WORKERS = 4
WORKERS: int | None = None  # processes in all (the parent included); None: one per usable CPU, at most 4


def processes() -> int:
    if WORKERS is not None:
        return max(1, WORKERS)
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, usable))


def _may_fork() -> bool:
    threading = sys.modules.get("threading")
    return hasattr(os, "fork") and (threading is None or threading.active_count() == 1)


_RECORD = 4  # bytes per task in the task pipe: an index, little-endian; a pipe reads it whole (PIPE_BUF)
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
MAX_TASKS = 8192  # 32 KiB of indexes: within a pipe's usual 64 KiB, written whole before the first fork


def order(weights: Sequence[int]) -> list[int]:
    """The tasks, heaviest first: the last ones taken are the light ones, so the processes end together."""
    return sorted(range(len(weights)), key=lambda i: -weights[i])


def fan_out(work: Callable[[int], R], weights: Sequence[int], *,
            stand_ins: Callable[[int, R], Iterable[tuple[object, Hashable]]],
            restore: Callable[[Hashable], object]) -> list[R | None]:
    """``work(i)`` for every index of ``weights``, spread over processes; ``None`` where the caller
    must compute it itself (a worker failed, or the parent's own share raised: in-process again,
    the caller meets the exception at its place in the order).

    Every process, the parent too, takes the next index from one pipe until it is empty: the files
    are shared by how long they really take, not by a guess from their size.
    ``stand_ins(i, result)``: objects inside ``result`` that the parent already holds, each with a
    key; ``restore(key)`` gives the parent's object back."""
    results: list[R | None] = [None] * len(weights)
    count = processes() if _may_fork() and sum(weights) >= MIN_WEIGHT else 1
    if count < 2 or not 2 <= len(weights) <= MAX_TASKS:
        return results
    tasks, feed = os.pipe()
    payload = b"".join(index.to_bytes(_RECORD, "little") for index in order(weights))
    try:
        os.set_blocking(feed, False)  # a pipe smaller than usual (a user over its pipe quota): no hang
        written = os.write(feed, payload)
    except BlockingIOError:
        written = 0
    finally:
        os.close(feed)  # the last writer gone: an empty pipe reads as the end of the tasks
    if written != len(payload):
        os.close(tasks)
        return results
    # the objects alive now are left out of garbage collection until the workers are done: a
    # collection touches every object it tracks, and each page it touches is copied for the
    # process that touched it (the parent's and every worker's copy of the same heap)
    gc.freeze()
    try:
        _share(work, tasks, min(count, len(weights)) - 1, results, stand_ins, restore)
    finally:
        gc.unfreeze()
    return results


def _share(work: Callable[[int], R], tasks: int, workers: int, results: list[R | None],
           stand_ins: Callable[[int, R], Iterable[tuple[object, Hashable]]],
           restore: Callable[[Hashable], object]) -> None:
    """Fork ``workers``, take tasks in this process too, then gather what the workers sent."""
    children: list[tuple[int, int]] = []
    try:
        for _ in range(workers):
            try:
                children.append(_spawn(work, tasks, stand_ins))
            except OSError:  # no process or memory to spare: the workers running and this one do it all
                break
        for index in _take(tasks):
            with contextlib.suppress(Exception):
                results[index] = work(index)
    except BaseException:  # Ctrl-C, SIGTERM: the workers' results are no longer wanted
        for pid, fd in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            os.close(fd)
            os.waitpid(pid, 0)
        raise
    finally:
        os.close(tasks)
    for pid, fd in children:
        for index, result in _collect(pid, fd, restore).items():
            if isinstance(index, int) and 0 <= index < len(results):
                results[index] = result


def _take(tasks: int) -> Iterator[int]:
    while len(record := os.read(tasks, _RECORD)) == _RECORD:
        yield int.from_bytes(record, "little")


def _spawn(work: Callable[[int], R], tasks: int,
           stand_ins: Callable[[int, R], Iterable[tuple[object, Hashable]]]) -> tuple[int, int]:
    read, write = os.pipe()
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        raise
    if pid:
        os.close(write)
        return pid, read
    code = 1  # the child: never returns into the caller's stack, never runs its cleanup
    try:
        _die_with(parent)
        os.close(read)
        done: dict[int, R] = {}
        for index in _take(tasks):
            with contextlib.suppress(Exception):
                done[index] = work(index)
        keys = {id(obj): key for index, result in done.items() for obj, key in stand_ins(index, result)}
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.persistent_id = lambda obj: keys.get(id(obj))  # type: ignore[method-assign]
        pickler.dump(done)
        view = memoryview(buffer.getbuffer())
        while view:
            view = view[os.write(write, view):]
        code = 0
    finally:
        os._exit(code)


def _die_with(parent: int) -> None:
    """A worker ends with its parent: a killed bump leaves no process behind writing its journal."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _collect(pid: int, fd: int, restore: Callable[[Hashable], object]) -> dict[int, Any]:
    """What the worker sent, or nothing when it failed."""
    chunks: list[bytes] = []
    try:
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    except OSError:
        chunks = []
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not chunks:
        return {}
    # our own fork wrote it, through a pipe nobody else holds: not untrusted data
    unpickler = pickle.Unpickler(io.BytesIO(b"".join(chunks)))  # noqa: S301
    unpickler.persistent_load = restore  # type: ignore[method-assign]
    try:
        done = unpickler.load()
    except Exception:  # a worker's garbage is its failure: the caller computes the share itself
        return {}
    return done if isinstance(done, dict) else {}
