"""Scale benchmark: NotifierRegistry add + order + notify against raw networkx.

A seeded random DAG of 100,000 notifiers and 300,000 constraints (half
declared as after=, half as before=, registered in an order unrelated to the
topological one). Each round times, alternating sides on the same graph:

- ours: ``registry.add()`` x 100,000 + ``registry.order()`` +
  ``registry.notify(payload)`` on a fresh registry;
- raw:  build ``nx.DiGraph`` + ``lexicographical_topological_sort`` keyed on
  registration rank + a plain loop of calls (the hand-written baseline).

The declarations are prepared once, outside the timings. Prints the medians
of wall time (and of CPU time, steadier on a shared machine), ours split into
add / order / notify, the ratio against the target, and peak memory of one
extra run per side (tracemalloc).

    python bench/notifiers_scale.py [--notifiers N] [--edges M] [--runs R]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable

import networkx as nx

from virtmodel.notifiers import NotifierRegistry

#: DESIGN.md §7: at most the hand-written networkx version.
TARGET = 1.0

Declarations = list[tuple[str, list[str], list[str]]]


def make_dag(n: int, m: int, seed: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Return names in registration order and m distinct edges of a random DAG."""
    rng = random.Random(seed)
    names = [f"n{i}" for i in range(n)]
    topo = names[:]
    rng.shuffle(topo)  # the hidden topological order differs from registration
    edges: set[tuple[int, int]] = set()
    while len(edges) < m:
        i, j = rng.randrange(n), rng.randrange(n)
        if i != j:
            edges.add((min(i, j), max(i, j)))
    return names, [(topo[i], topo[j]) for i, j in sorted(edges)]


def declarations(
    names: list[str], edges: list[tuple[str, str]], seed: int
) -> Declarations:
    """Return (name, after, before) per notifier, each edge declared by one side."""
    rng = random.Random(seed + 1)
    after: dict[str, list[str]] = {name: [] for name in names}
    before: dict[str, list[str]] = {name: [] for name in names}
    for u, v in edges:
        if rng.random() < 0.5:
            after[v].append(u)
        else:
            before[u].append(v)
    return [(name, after[name], before[name]) for name in names]


def noop(payload: list[int]) -> None:
    """The callback both sides call."""


def register(declared: Declarations) -> NotifierRegistry[list[int]]:
    """Return a fresh multi-shot registry holding *declared*."""
    registry = NotifierRegistry[list[int]]("scale", one_shot=False)
    add = registry.add
    for name, after, before in declared:
        add(name, noop, after=after, before=before)
    return registry


def ours(declared: Declarations, laps: list[float]) -> list[str]:
    """Add, order and notify; append the three laps; return the order."""
    clock = time.perf_counter
    start = clock()
    registry = register(declared)
    added = clock()
    order = registry.order()
    ordered = clock()
    registry.notify([])
    laps += [added - start, ordered - added, clock() - ordered]
    return order


def raw(names: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """Build, sort and call with networkx alone; return the order."""
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(names)
    graph.add_edges_from(edges)
    rank = {name: i for i, name in enumerate(names)}
    callbacks = dict.fromkeys(names, noop)
    payload: list[int] = []
    order = list(nx.lexicographical_topological_sort(graph, key=rank.__getitem__))
    for name in order:
        callbacks[name](payload)
    return order


def timed(action: Callable[[], object]) -> tuple[float, float, object]:
    """Return (wall s, CPU s, result) of *action*, after a full collection."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def peak_mb(action: Callable[[], object]) -> float:
    """Return the tracemalloc peak of *action* in MiB."""
    gc.collect()
    tracemalloc.start()
    action()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    """Run the benchmark and print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifiers", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2016)
    options = parser.parse_args()
    names, edges = make_dag(options.notifiers, options.edges, options.seed)
    declared = declarations(names, edges, options.seed)
    walls: dict[str, list[float]] = {"ours": [], "raw": []}
    cpus: dict[str, list[float]] = {"ours": [], "raw": []}
    laps: list[float] = []
    for run in range(options.runs):
        # Alternate which side goes first, so drift on a shared machine
        # weighs on both alike.
        sides = ["raw", "ours"] if run % 2 else ["ours", "raw"]
        for side in sides:
            if side == "ours":
                wall, cpu, order = timed(lambda: ours(declared, laps))
            else:
                wall, cpu, expected = timed(lambda: raw(names, edges))
            walls[side].append(wall)
            cpus[side].append(cpu)
    if order != expected:
        msg = "registry order differs from raw networkx on the same graph"
        raise SystemExit(msg)
    median = statistics.median
    ours_s, raw_s = median(walls["ours"]), median(walls["raw"])
    add_s, order_s, notify_s = (median(laps[i::3]) for i in range(3))
    print(
        f"{options.notifiers} notifiers, {len(edges)} constraints, "
        f"{options.runs} alternating runs (medians)"
    )
    print(
        f"ours  add+order+notify: {ours_s:.3f} s wall "
        f"(add {add_s:.3f}, order {order_s:.3f}, notify {notify_s:.3f}; "
        f"{add_s / options.notifiers * 1e6:.1f} us per add)"
    )
    print(f"raw   nx build+sort+loop: {raw_s:.3f} s wall")
    cpu_ratio = median(cpus["ours"]) / median(cpus["raw"])
    print(
        f"ratio ours/raw: {ours_s / raw_s:.3f} wall, {cpu_ratio:.3f} CPU "
        f"(target <= {TARGET})"
    )
    print(f"peak memory ours: {peak_mb(lambda: ours(declared, [])):.1f} MiB")
    print(f"peak memory raw: {peak_mb(lambda: raw(names, edges)):.1f} MiB")


if __name__ == "__main__":
    main()
