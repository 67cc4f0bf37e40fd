"""Scale benchmark: NotifierRegistry order + notify against raw networkx.

A seeded random DAG of 100,000 notifiers and 300,000 constraints (half
declared as after=, half as before=, registered in an order unrelated to the
topological one). Each run times, side by side on the same graph:

- ours: ``registry.order()`` (cold cache) + ``registry.notify(payload)``;
- raw:  build ``nx.DiGraph`` + ``lexicographical_topological_sort`` keyed on
  registration rank + a plain loop of calls.

Registration (``add`` x 100,000) is timed and reported separately. Medians
over several runs; peak memory of one extra run per side with tracemalloc.

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
from functools import partial

import networkx as nx

from virtmodel.notifiers import NotifierRegistry

TARGET = 1.25


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


def noop(payload: list[int]) -> None:
    """The callback both sides call."""


def register(
    names: list[str], edges: list[tuple[str, str]], seed: int
) -> NotifierRegistry[list[int]]:
    """Return a multi-shot registry declaring each edge as after= or before=."""
    rng = random.Random(seed + 1)
    after: dict[str, list[str]] = {name: [] for name in names}
    before: dict[str, list[str]] = {name: [] for name in names}
    for u, v in edges:
        if rng.random() < 0.5:
            after[v].append(u)
        else:
            before[u].append(v)
    registry = NotifierRegistry[list[int]]("scale", one_shot=False)
    for name in names:
        registry.add(name, noop, after=after[name], before=before[name])
    return registry


def ours(registry: NotifierRegistry[list[int]]) -> int:
    """Order (cold) and notify; return the number of steps."""
    registry.order()
    return len(registry.notify([]))


def raw(names: list[str], edges: list[tuple[str, str]]) -> int:
    """Build, sort and call with networkx alone; return the number of calls."""
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(names)
    graph.add_edges_from(edges)
    rank = {name: i for i, name in enumerate(names)}
    callbacks = dict.fromkeys(names, noop)
    payload: list[int] = []
    calls = 0
    for name in nx.lexicographical_topological_sort(graph, key=rank.__getitem__):
        callbacks[name](payload)
        calls += 1
    return calls


def timed(action: Callable[[], object]) -> float:
    """Return the wall time of *action* in seconds, with the GC quiet."""
    gc.collect()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


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
    registration: list[float] = []
    mine: list[float] = []
    theirs: list[float] = []
    registry = register(names, edges, options.seed)
    for _ in range(options.runs):
        start = time.perf_counter()
        registry = register(names, edges, options.seed)
        registration.append(time.perf_counter() - start)
        theirs.append(timed(lambda: raw(names, edges)))
        mine.append(timed(partial(ours, registry)))  # a fresh registry: cold cache
    rank = {n: i for i, n in enumerate(names)}
    expected = list(nx.lexicographical_topological_sort(_graph(names, edges), rank.get))
    if registry.order() != expected:
        msg = "registry order differs from raw networkx on the same graph"
        raise SystemExit(msg)
    ours_s, raw_s = statistics.median(mine), statistics.median(theirs)
    ratio = ours_s / raw_s
    print(
        f"{options.notifiers} notifiers, {len(edges)} constraints, {options.runs} runs"
    )
    adds = statistics.median(registration)
    print(f"registration (add x {options.notifiers}): {adds:.3f} s")
    print(f"ours  order+notify: {ours_s:.3f} s (median)")
    print(f"raw   nx build+sort+loop: {raw_s:.3f} s (median)")
    print(f"ratio ours/raw: {ratio:.3f} (target <= {TARGET})")
    fresh = register(names, edges, options.seed)
    print(f"peak memory ours order+notify: {peak_mb(partial(ours, fresh)):.1f} MiB")
    print(f"peak memory raw: {peak_mb(lambda: raw(names, edges)):.1f} MiB")
    rebuild = partial(register, names, edges, options.seed)
    print(f"peak memory registration: {peak_mb(rebuild):.1f} MiB")


def _graph(names: list[str], edges: list[tuple[str, str]]) -> nx.DiGraph[str]:
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(names)
    graph.add_edges_from(edges)
    return graph


if __name__ == "__main__":
    main()
