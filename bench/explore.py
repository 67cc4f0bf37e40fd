"""Benchmark notifiers.explore: exhaustive speed, sampled mode at scale, virt.

Three measurements, medians over several runs:

- **orders/s**: a synthetic phase of 10 notifiers in three independent
  chains (4, 3, 3: 4,200 valid orders), every order run on fresh state
  (``reduce=False``), then the same by classes (one: the chains are
  independent);
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
import random
import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from virtmodel.notifiers.explore import Built, Exploration, explore
from virtmodel.notifiers.registry import NotifierRegistry

if TYPE_CHECKING:
    from virtmodel.devices.its_init import ItsInit
    from virtmodel.machine.kvm.eras import SemanticsName

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


def bring_up(
    options: dict[str, str], its_init: ItsInit, kernel: SemanticsName
) -> Callable[[], None]:
    """Return one strict bring-up of the virt machine (build, notify, first run)."""
    from virtmodel.machine.boards.virt.board import boot_virt, create_virt
    from virtmodel.machine.boards.virt.config import VirtConfig

    config = VirtConfig.from_options(**options)

    def once() -> None:
        machine = create_virt(
            config,
            kernel_semantics=kernel,
            notifiers="ordered",
            its_init=its_init,
            strict=True,
            seed=0,
        )
        boot_virt(machine)

    return once


def bench_virt(runs: int) -> None:
    """Explore the virt machine's init-done phase against one bring-up.

    Three cases, each timed against one bring-up of the same machine
    (medians, alternating): the 2016 machine (GICv3+ITS, kernel v4.8-rc1,
    ITS init in its own notifier) proved order-independent; the same with
    the ITS edge dropped, where the culprit must be found; and ``-smp 200``
    under a mainline kernel. Each line gives the classes, the runs (builds),
    the ratio to one bring-up and the target.
    """
    from virtmodel.machine.boards.virt.config import VirtConfig
    from virtmodel.machine.boards.virt.explore import DEFAULT_OPTIONS, init_done_builder

    smp200 = {**DEFAULT_OPTIONS, "smp": "200"}
    Case = tuple[
        str, dict[str, str], "SemanticsName", tuple[tuple[str, str], ...], float | None
    ]
    cases: list[Case] = [
        ("2016 machine, edge declared", DEFAULT_OPTIONS, "v4.8-rc1", (), 3.0),
        (
            "2016 machine, ITS edge dropped",
            DEFAULT_OPTIONS,
            "v4.8-rc1",
            (("its-ctrl-init", "kvm-set-addr:its"),),
            None,
        ),
        ("-smp 200, mainline", smp200, "mainline", (), 10.0),
    ]
    for label, options, kernel, drops, target in cases:
        config = VirtConfig.from_options(**options)
        build, fingerprint = init_done_builder(
            config, kernel_semantics=kernel, drop_edges=drops
        )
        seen: list[object] = []

        def check(
            machine: Any, fingerprint: Any = fingerprint, seen: list[object] = seen
        ) -> object:
            seen.append(fingerprint(machine))
            return seen[-1]

        one = bring_up(options, "init-done", kernel)
        explored: list[float] = []
        single: list[float] = []
        result: Exploration | None = None
        for _ in range(runs):
            seen.clear()
            start = time.perf_counter()
            result = explore(build, check=check, limit=5000)
            explored.append(time.perf_counter() - start)
            start = time.perf_counter()
            one()
            single.append(time.perf_counter() - start)
        assert result is not None
        ratio = statistics.median(explored) / statistics.median(single)
        differs = [i for i, state in enumerate(seen, 1) if state != seen[0]]
        first = f", first difference at run {differs[0]}" if differs else ""
        verdict = "order-independent" if result.order_independent else "order matters"
        culprits = ", ".join(str(c.pair) for c in result.culprits) or "none"
        goal = f" (target <= {target:g})" if target else ""
        print(
            f"virt {label}: {result.classes} classes, {result.orders_run} runs, "
            f"{result.builds} builds, exhaustive={result.exhaustive}, {verdict}"
            f"{first}; culprits: {culprits}; median "
            f"{statistics.median(explored):.3f} s = {ratio:.2f}x one bring-up "
            f"({statistics.median(single) * 1e3:.1f} ms){goal}"
        )


def main() -> None:
    """Run every measurement and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs

    took, result = measure(runs, chains((4, 3, 3)), limit=5000, reduce=False)
    assert result.exhaustive
    assert result.order_independent
    print(
        f"exhaustive, 10 notifiers: {result.orders_run} orders in {took:.3f} s "
        f"(median of {runs}) = {result.orders_run / took:,.0f} orders/s"
    )
    took, result = measure(runs, chains((4, 3, 3)), limit=5000)
    print(
        f"same, one order per class: {result.classes} class, {result.orders_run} "
        f"run in {took:.4f} s (median of {runs})"
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
