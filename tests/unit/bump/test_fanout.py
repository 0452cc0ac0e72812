"""Composing a tree's files in forked workers (issue 22, class 7) gives the plan a serial walk
gives, byte for byte, or the refusal it meets first: on generated trees, on the golden layouts and
on the real-world cases of ../shared/realworld (read at test time). A worker that fails, raises or
dies costs time only: its files are composed again in-process, in order."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dify_action.bump import Target, fanout, find_images, plan_bump
from dify_action.errors import DifyActionError
from tests.unit.bump.test_regions import IMAGE, document, entries, pruning

TESTS = Path(__file__).resolve().parents[2]
REALWORLD = TESTS.parents[1] / "shared" / "realworld"
TREES = sorted([p / "input" for p in (TESTS / "golden").iterdir() if (p / "input").is_dir()] +
               ([p / "in" for p in REALWORLD.iterdir() if (p / "in").is_dir()] if REALWORLD.is_dir() else []))


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Fork for any amount of work, with ``n`` processes in all (1: the serial walk)."""
    monkeypatch.setattr(fanout, "MIN_WEIGHT", 0)

    def use(count: int) -> None:
        monkeypatch.setattr(fanout, "WORKERS", count)
    return use


def outcome(root: Path, target: Target) -> tuple[object, ...]:
    try:
        plan = plan_bump(root, [target])
    except DifyActionError as error:
        return ("refused", type(error).__name__, str(error), getattr(error, "warnings", ()))
    return ("planned", [(edit.relpath, edit.after) for edit in plan.edits], plan.changes, plan.notes, plan.skipped)


def both(root: Path, target: Target, use: Callable[[int], None]) -> tuple[tuple[object, ...], tuple[object, ...]]:
    use(1)
    serial = outcome(root, target)
    use(3)
    return serial, outcome(root, target)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(entries, st.sampled_from(["", "\ufeff"]), st.sampled_from(["\n", "\r\n"])),
                min_size=2, max_size=9))
def test_a_generated_tree_plans_the_same_forked_and_serial(tmp_path_factory: pytest.TempPathFactory,
                                                           forked: Callable[[int], None],
                                                           files: list[tuple[list[tuple[str, int]], str, str]]) -> None:
    root = tmp_path_factory.mktemp("tree")
    for index, (items, bom, newline) in enumerate(files):  # several refuse: the first in order is the one named
        path = root / f"d{index % 3}" / f"values-{index}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes((bom + document(items).replace("\n", newline)).encode())
    with pruning(64):  # large documents composed in part (regions): their blanked spans cross the pickle too
        serial, parallel = both(root, Target.from_inputs(IMAGE, "9.9"), forked)
    assert parallel == serial


def test_a_bundle_composed_from_its_last_document_plans_the_same_forked_and_serial(
        tmp_path: Path, forked: Callable[[int], None]) -> None:
    """A CRD bundle whose one Deployment comes last is composed from a window (yamlnodes._first_kept)."""
    root = tmp_path / "tree"
    root.mkdir()
    crd = "---\nkind: CustomResourceDefinition\nspec:\n" + "".join(f"  f{i}: {'x' * 60}\n" for i in range(400))
    for index in range(4):
        (root / f"bundle{index}.yaml").write_text(
            crd * 3 + f"---\nkind: Deployment\nspec:\n  containers:\n    - image: {IMAGE}:1.{index}\n")
    serial, parallel = both(root, Target.from_inputs(IMAGE, "9.9"), forked)
    assert serial[0] == "planned" and parallel == serial


@pytest.mark.parametrize("tree", TREES, ids=lambda t: t.parent.name)
def test_every_real_layout_plans_the_same_forked_and_serial(tree: Path, tmp_path: Path,
                                                             forked: Callable[[int], None]) -> None:
    root = tmp_path / "tree"
    shutil.copytree(tree, root, symlinks=True)
    repositories = sorted({found.ref.repository for found in find_images(root)})[:4]
    for repository in repositories or ["registry.example.com/none"]:
        serial, parallel = both(root, Target.from_inputs(repository, "9.9.9"), forked)
        assert parallel == serial, repository


HOSTILE = [  # the refusals and skips of tests/unit/bump/test_safety.py, met by a worker
    "x-img: &img {image}:1.0\nservices:\n  api:\n    image: *img\n  worker:\n    image: *img\n",
    "x-api: &api\n  image: {image}:1.0\nservices:\n  api:\n    <<: *api\n  worker:\n    <<: *api\n",
    "a0: &a0 [{image}:1.0, x]\n" + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n"
                                        for i in range(1, 9)),
    "image: >-\n  {image}:1.0\n",
    "spec:\n  image: {image}:1.0\n  image: {image}:1.1\n",
    "image: {image}:1.0\n\0binary\n",
    "kind: Deployment\nspec:\n  containers:\n    - image: {image}:1.0\n" + "x: [" * 120 + "]" * 120 + "\n",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_refusals_and_skips_met_in_a_worker_are_the_serial_ones(text: str, tmp_path: Path,
                                                                 forked: Callable[[int], None]) -> None:
    root = tmp_path / "tree"
    for index in range(6):  # the hostile file among plain ones: in a worker or in the parent
        path = root / f"apps{index % 2}" / f"app{index}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"kind: Deployment\nspec:\n  containers:\n    - image: {IMAGE}:1.{index}\n")
    (root / "apps1" / "odd.yaml").write_text(text.replace("{image}", IMAGE))
    serial, parallel = both(root, Target.from_inputs(IMAGE, "9.9"), forked)
    assert parallel == serial


def test_the_real_world_cases_are_read() -> None:
    assert len(TREES) >= 60
    if os.environ.get("CI") == "true":  # read at test time: CI must have them
        assert any(REALWORLD in t.parents for t in TREES), f"{REALWORLD} is missing (required when CI=true)"


def _pid(index: int) -> int:
    time.sleep(0.0005)  # long enough for a worker to start before the parent has taken every task
    return os.getpid()


def _pids(count: int) -> list[int | None]:
    return fanout.fan_out(_pid, [1] * count, stand_ins=lambda i, r: (), restore=lambda key: key)


def test_workers_take_work_and_the_parent_takes_its_share(forked: Callable[[int], None]) -> None:
    forked(3)
    pids = _pids(400)
    assert None not in pids
    assert os.getpid() in pids
    assert len(set(pids)) >= 2, "no worker took any task"


def test_one_process_or_too_little_work_forks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanout, "WORKERS", 4)
    assert _pids(50) == [None] * 50  # 50 bytes of work: under MIN_WEIGHT
    monkeypatch.setattr(fanout, "MIN_WEIGHT", 0)
    monkeypatch.setattr(fanout, "WORKERS", 1)
    assert _pids(50) == [None] * 50


def test_no_fork_while_another_thread_runs(forked: Callable[[int], None]) -> None:
    forked(3)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert _pids(40) == [None] * 40  # a fork would copy the other thread's locks, held or not
    finally:
        stop.set()
        thread.join()


def test_a_worker_that_dies_costs_its_tasks_only(forked: Callable[[int], None]) -> None:
    forked(2)
    parent = os.getpid()

    def work(index: int) -> int:
        if os.getpid() != parent:
            os._exit(7)  # a crash, a kill, an OOM: no result at all
        time.sleep(0.001)
        return index * 2

    results = fanout.fan_out(work, [1] * 200, stand_ins=lambda i, r: (), restore=lambda key: key)
    assert all(result in (None, index * 2) for index, result in enumerate(results))
    assert any(result is not None for result in results)


def test_an_exception_or_an_unpicklable_result_is_left_to_the_caller(forked: Callable[[int], None]) -> None:
    forked(3)

    def work(index: int) -> object:
        if index % 5 == 0:
            raise ValueError(index)
        if index % 7 == 0:
            return lambda: index  # does not pickle: the worker sends nothing, its tasks come back None
        return index

    results = fanout.fan_out(work, [1] * 300, stand_ins=lambda i, r: (), restore=lambda key: key)
    assert all(results[i] is None for i in range(0, 300, 5))
    assert all(result in (None, index) or callable(result) for index, result in enumerate(results))


def test_objects_the_parent_holds_come_back_as_the_parents_own(forked: Callable[[int], None]) -> None:
    forked(3)
    held = [bytes([i % 256]) * 1000 + str(i).encode() for i in range(100)]

    def stand_ins(index: int, result: tuple[bytes, int]) -> Iterator[tuple[object, Hashable]]:
        yield result[0], ("held", index)

    results = fanout.fan_out(lambda i: (held[i], i), [1] * 100, stand_ins=stand_ins,
                             restore=lambda key: held[key[1]])  # type: ignore[index]
    assert all(result is not None and result[0] is held[index] for index, result in enumerate(results))


def test_an_interrupted_parent_leaves_no_worker_behind(forked: Callable[[int], None]) -> None:
    forked(3)
    parent = os.getpid()
    seen: list[int] = []

    def work(index: int) -> int:
        if os.getpid() == parent:
            seen.append(index)
            if len(seen) == 3:
                raise KeyboardInterrupt
        time.sleep(0.01)
        return index

    before = set(_children())
    with pytest.raises(KeyboardInterrupt):
        fanout.fan_out(work, [1] * 500, stand_ins=lambda i, r: (), restore=lambda key: key)
    assert set(_children()) <= before  # killed and reaped: no worker runs on, no zombie stays


def _children() -> list[int]:
    """This process's children, from /proc (zombies included)."""
    me = str(os.getpid())
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me:
                out.append(int(entry))
    return out


def test_a_small_pipe_falls_back_to_one_process(forked: Callable[[int], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """A user over its pipe quota gets one-page pipes: the task list must not block the parent."""
    forked(2)
    real_pipe = os.pipe

    def small_pipe() -> tuple[int, int]:
        read, write = real_pipe()
        import fcntl
        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096)
        return read, write

    monkeypatch.setattr(os, "pipe", small_pipe)
    old = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(AssertionError("the parent blocked")))
    signal.alarm(10)
    try:
        assert _pids(4000) == [None] * 4000  # 16 KB of task indexes do not fit a 4 KB pipe
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    """A SIGKILLed bump leaves no worker running (one would go on writing into the tree's journal)."""
    import subprocess
    import sys

    pids = tmp_path / "pids"
    script = (
        "import os, sys, time\n"
        "from dify_action.bump import fanout\n"
        "fanout.WORKERS, fanout.MIN_WEIGHT = 3, 0\n"
        "def work(i):\n"
        f"    open({str(pids)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
        "    time.sleep(60)\n"
        "fanout.fan_out(work, [1] * 9, stand_ins=lambda i, r: (), restore=lambda k: k)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=TESTS.parent)
    try:
        deadline = time.monotonic() + 30
        while (not pids.exists() or len(set(pids.read_text().split())) < 3) and time.monotonic() < deadline:
            time.sleep(0.02)
        workers = {int(pid) for pid in pids.read_text().split()} - {parent.pid}
        assert len(workers) == 2, pids.read_text()
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_fork_that_fails_leaves_the_work_to_this_process(forked: Callable[[int], None],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    forked(3)

    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    before = len(os.listdir("/proc/self/fd"))
    assert _pids(30) == [os.getpid()] * 30  # the parent took every task itself
    assert len(os.listdir("/proc/self/fd")) == before  # no pipe left open
