"""Hammer one NotifierRegistry from many threads while another orders it.

Each worker thread registers a chain of notifiers: every name comes after the
last *kept* name of its thread (an anchor first), and all but every
``keep_every``-th name are removed again a few registrations later. Kept
names are never removed, so every constraint always has its target and any
snapshot the ordering thread sees must be a valid order. Used by
``tests/faults/test_registry_threads.py`` (small) and ``bench/load.py`` (full).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from virtmodel.notifiers import NotifierRegistry

#: How many registrations a doomed name lives before it is removed.
_WINDOW = 5


@dataclass
class LoadResult:
    """What one load run did and found."""

    threads: int
    per_thread: int
    keep_every: int
    adds: int = 0
    removes: int = 0
    orders: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    final_order: list[str] = field(default_factory=list)
    expected: dict[str, str] = field(default_factory=dict)


def _noop(payload: object) -> None:
    return None


def _worker(
    registry: NotifierRegistry[object],
    tid: int,
    per_thread: int,
    keep_every: int,
    result: LoadResult,
    lock: threading.Lock,
) -> None:
    anchor = f"t{tid}-anchor"
    registry.add(anchor, _noop)
    kept = {anchor: ""}
    last_kept = anchor
    doomed: deque[str] = deque()
    adds = removes = 0
    for k in range(per_thread):
        name = f"t{tid}-{k}"
        registry.add(name, _noop, after=last_kept)
        adds += 1
        if k % keep_every == 0:
            kept[name] = last_kept
            last_kept = name
        else:
            doomed.append(name)
        if len(doomed) > _WINDOW:
            registry.remove(doomed.popleft())
            removes += 1
    while doomed:
        registry.remove(doomed.popleft())
        removes += 1
    with lock:
        result.adds += adds + 1
        result.removes += removes
        result.expected.update(kept)


def predecessor(name: str, keep_every: int) -> str | None:
    """Return the name *name* was declared after, or None for an anchor."""
    tid, _, index = name.partition("-")
    if index == "anchor":
        return None
    k = int(index)
    if k == 0:
        return f"{tid}-anchor"
    return f"{tid}-{(k - 1) // keep_every * keep_every}"


def check_order(order: list[str], keep_every: int) -> str | None:
    """Return what is wrong with a snapshot order, or None when it is valid.

    Every name's declared predecessor (kept names are never removed) must be
    in the snapshot, earlier; no name may appear twice.
    """
    position: dict[str, int] = {}
    for i, name in enumerate(order):
        if name in position:
            return f"{name!r} appears twice"
        position[name] = i
    for name in order:
        before = predecessor(name, keep_every)
        if before is not None and position.get(before, len(order)) > position[name]:
            return f"{name!r} is not after {before!r}"
    return None


def run_load(
    threads: int = 8,
    per_thread: int = 10_000,
    keep_every: int = 10,
    *,
    with_orderer: bool = True,
) -> LoadResult:
    """Run the load and return what happened (errors collected, not raised).

    ``with_orderer=False`` leaves out the ordering thread, as a baseline.
    """
    registry: NotifierRegistry[object] = NotifierRegistry("load", one_shot=False)
    result = LoadResult(threads, per_thread, keep_every)
    lock = threading.Lock()
    done = threading.Event()

    def guarded(target: Callable[..., None], *args: object) -> None:
        try:
            target(*args)
        except Exception as exc:  # collected, so the main thread can report it
            with lock:
                result.errors.append(f"{type(exc).__name__}: {exc}")

    def orderer() -> None:
        while not done.is_set():
            order = registry.order()
            problem = check_order(order, keep_every)
            if problem is not None:
                raise AssertionError(problem)
            result.orders += 1

    workers = [
        threading.Thread(
            target=guarded,
            args=(_worker, registry, t, per_thread, keep_every, result, lock),
        )
        for t in range(threads)
    ]
    watcher = threading.Thread(target=guarded, args=(orderer,))
    start = time.perf_counter()
    if with_orderer:
        watcher.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    done.set()
    if with_orderer:
        watcher.join()
    result.seconds = time.perf_counter() - start
    result.final_order = registry.order()
    return result


def final_problems(result: LoadResult) -> list[str]:
    """Return what is wrong with the registry after the load (empty when fine)."""
    problems = []
    if result.errors:
        problems.append(f"{len(result.errors)} errors, first: {result.errors[0]}")
    if sorted(result.final_order) != sorted(result.expected):
        lost = sorted(set(result.expected) - set(result.final_order))[:3]
        extra = sorted(set(result.final_order) - set(result.expected))[:3]
        problems.append(f"final set differs: lost {lost}, unexpected {extra}")
    position = {name: i for i, name in enumerate(result.final_order)}
    for name, after in result.expected.items():
        if after and position.get(after, -1) >= position.get(name, -1):
            problems.append(f"{name!r} does not come after {after!r}")
            break
    problem = check_order(result.final_order, result.keep_every)
    if problem is not None:
        problems.append(problem)
    return problems
