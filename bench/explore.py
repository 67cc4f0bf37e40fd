"""Benchmark notifiers.explore: exhaustive speed, sampled mode at scale, virt.

Three measurements, medians over several runs:

- **orders/s**: a synthetic phase of 10 notifiers in three independent
  chains (4, 3, 3: 4,200 valid orders), every order run on fresh state;
- **sampled, 200 notifiers**: a seeded random DAG of 200 notifiers with
  declared writes, ``limit=500`` (mandatory orders plus random fill): once
  order-independent, once with a planted missing edge that explore must
  shrink to its culprit pair, and once with every notifier declaring the
  same resource (~19,000 unordered conflicting pairs to cover both ways);
- **virt** (:func:`bench_virt`): the real virt machine's init-done phase via
  ``machine.boards.virt.explore.init_done_builder()``, when that module exists.

    python bench/explore.py [--runs R]
"""

from __future__ import annotations

import argparse
import errno
import importlib
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from virtmodel.notifiers.explore import Built, Exploration, explore
from virtmodel.notifiers.registry import NotifierRegistry

State = dict[str, int]


def chains(lengths: tuple[int, ...]) -> Callable[[], Built]:
    """Return a build() of independent chains writing distinct keys."""

    def build() -> Built:
        state: State = {}
        registry = NotifierRegistry[[State]]("chains")
        for chain, length in enumerate(lengths):
            for step in range(length):
                name = f"c{chain}.{step}"
                after = f"c{chain}.{step - 1}" if step else ()
                registry.add(name, _writer(name), after=after, writes=name)
        return registry, (state,)

    return build


def _writer(key: str) -> Callable[[State], None]:
    def write(state: State) -> None:
        state[key] = 1

    return write


def _needs(key: str, name: str) -> Callable[[State], None]:
    def init(state: State) -> None:
        if key not in state:
            raise OSError(errno.ENXIO, f"{key} not set")
        state[name] = 1

    return init


def large(
    n: int, edges: int, resources: int, *, bug: bool, every: int = 10
) -> Callable[[], Built]:
    """Return a build() of a seeded random phase of *n* notifiers.

    Each notifier writes its own key in the state; one in *every* also
    declares it writes one of *resources* shared names (a declaration only:
    the sample must cover both orders of each unordered pair). *bug* plants
    a reader of "its.addr" with no edge to its writer.
    """
    rng = random.Random(1)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < edges:
        i, j = sorted(rng.sample(range(n), 2))
        pairs.add((i, j))
    after: dict[int, list[str]] = {i: [] for i in range(n)}
    for i, j in sorted(pairs):
        after[j].append(f"n{i}")
    shared = {i: f"res{rng.randrange(resources)}" for i in range(0, n, every)}

    def build() -> Built:
        state: State = {}
        registry = NotifierRegistry[[State]]("large")
        for i in range(n):
            name = f"n{i}"
            registry.add(name, _writer(name), after=after[i], writes=shared.get(i, ()))
        if bug:
            registry.add("its-init", _needs("its.addr", "its"), reads="its.addr")
            registry.add("set-its", _writer("its.addr"), writes="its.addr")
        return registry, (state,)

    return build


def measure(
    runs: int,
    build: Callable[[], Built],
    check: Callable[..., object] | None = None,
    **options: Any,
) -> tuple[float, Exploration]:
    """Return the median seconds of *runs* explorations and the last result."""
    times: list[float] = []
    result: Exploration | None = None
    for _ in range(runs):
        start = time.perf_counter()
        result = explore(build, check=check or (lambda state: state), **options)
        times.append(time.perf_counter() - start)
    assert result is not None
    return statistics.median(times), result


def bench_virt(runs: int) -> None:
    """Explore the virt machine's init-done phase, if the board's explore exists.

    ``machine.boards.virt.explore.init_done_builder()`` returns
    ``(build, check)``; its
    defaults are the 2016 machine (GICv3+ITS, kernel v4.8-rc1, ITS init in its
    own notifier), explored exhaustively: all 1260 valid orders.
    """
    try:
        machine_explore = importlib.import_module(
            "virtmodel.machine.boards.virt.explore"
        )
    except ModuleNotFoundError:
        print("virt: skipped: machine.boards.virt.explore not available yet")
        return
    build, check = machine_explore.init_done_builder()
    took, result = measure(runs, build, check, limit=5000)
    print(
        f"virt init-done: {result.orders_run} orders of {result.notifiers} "
        f"notifiers, exhaustive={result.exhaustive}, "
        f"{len(result.culprits)} culprits: median {took:.3f} s "
        f"= {result.orders_run / took:,.0f} orders/s"
    )


def main() -> None:
    """Run every measurement and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs

    took, result = measure(runs, chains((4, 3, 3)), limit=5000)
    assert result.exhaustive
    assert result.order_independent
    print(
        f"exhaustive, 10 notifiers: {result.orders_run} orders in {took:.3f} s "
        f"(median of {runs}) = {result.orders_run / took:,.0f} orders/s"
    )

    cases = [
        ("", large(200, 300, 8, bug=False)),
        (" (planted bug)", large(200, 300, 8, bug=True)),
        (" (all write one resource)", large(200, 300, 1, bug=False, every=1)),
    ]
    for label, build in cases:
        took, result = measure(runs, build, limit=500)
        assert not result.exhaustive
        assert result.order_independent != ("bug" in label)
        found = ", ".join(str(culprit.pair) for culprit in result.culprits) or "none"
        print(
            f"sampled, {result.notifiers} notifiers, limit 500{label}: "
            f"{result.orders_run} orders, {result.builds} builds in {took:.3f} s "
            f"(median of {runs}); culprits: {found}"
        )

    bench_virt(runs)


if __name__ == "__main__":
    main()
