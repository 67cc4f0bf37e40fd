"""Property tests over random registries, plus determinism and threads."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from virtmodel.notifiers import CycleError, NotifierRegistry

ROOT = Path(__file__).resolve().parents[2]
Edges = list[tuple[int, int]]


def noop() -> None:
    pass


@st.composite
def declarations(
    draw: st.DrawFn, acyclic: bool = True
) -> tuple[int, Edges, list[bool]]:
    """Return (n, edges u->v between node indices, declare-as-after flags)."""
    n = draw(st.integers(min_value=1, max_value=12))
    pairs = [
        (u, v) for u in range(n) for v in range(n) if u != v and (u < v or not acyclic)
    ]
    edges = (
        draw(st.lists(st.sampled_from(pairs), unique=True, max_size=30))
        if pairs
        else []
    )
    if acyclic:
        # hide the topological order behind a permutation of the names
        perm = draw(st.permutations(range(n)))
        edges = [(perm[u], perm[v]) for u, v in edges]
    as_after = draw(st.lists(st.booleans(), min_size=len(edges), max_size=len(edges)))
    return n, edges, as_after


def build(n: int, edges: Edges, as_after: list[bool]) -> NotifierRegistry[[]]:
    after: dict[int, list[str]] = {i: [] for i in range(n)}
    before: dict[int, list[str]] = {i: [] for i in range(n)}
    for (u, v), flag in zip(edges, as_after, strict=True):
        if flag:
            after[v].append(f"n{u}")
        else:
            before[u].append(f"n{v}")
    registry = NotifierRegistry[[]]("prop", one_shot=False)
    for i in range(n):
        registry.add(f"n{i}", noop, after=after[i], before=before[i])
    return registry


@settings(max_examples=60, deadline=None)
@given(declarations())
def test_every_declared_edge_is_respected_and_ties_follow_registration(case):
    n, edges, as_after = case
    order = build(n, edges, as_after).order()

    position = {name: i for i, name in enumerate(order)}
    assert sorted(order) == sorted(f"n{i}" for i in range(n))
    assert all(position[f"n{u}"] < position[f"n{v}"] for u, v in edges)
    graph: nx.DiGraph[str] = nx.DiGraph([(f"n{u}", f"n{v}") for u, v in edges])
    graph.add_nodes_from(f"n{i}" for i in range(n))
    rank = {f"n{i}": i for i in range(n)}
    expected = list(nx.lexicographical_topological_sort(graph, key=rank.__getitem__))
    assert order == expected


@settings(max_examples=40, deadline=None)
@given(declarations())
def test_same_declarations_give_the_same_order(case):
    assert build(*case).order() == build(*case).order()


@settings(max_examples=60, deadline=None)
@given(declarations(acyclic=False))
def test_a_reported_cycle_is_a_real_cycle_of_declared_edges(case):
    n, edges, as_after = case
    caught: CycleError | None = None
    try:
        registry = build(n, edges, as_after)
        registry.order()
    except CycleError as error:
        caught = error

    if caught is None:
        assert nx.is_directed_acyclic_graph(registry.graph())
        return
    cycle = caught.cycle
    assert cycle[0] == cycle[-1]
    declared = {(f"n{u}", f"n{v}") for u, v in edges}
    assert all(pair in declared for pair in itertools.pairwise(cycle))
    pairs = [(e.source, e.target) for e in caught.edges]
    assert pairs == list(itertools.pairwise(cycle))


@settings(max_examples=60, deadline=None)
@given(declarations(), st.data())
def test_explain_chain_is_a_real_path_of_declared_edges(case, data):
    n, edges, as_after = case
    registry = build(n, edges, as_after)
    a = data.draw(st.integers(0, n - 1))
    b = data.draw(
        st.integers(0, n - 1).filter(lambda x: x != a) if n > 1 else st.just(a)
    )
    if a == b:
        return

    explanation = registry.explain(f"n{a}", f"n{b}")

    order = registry.order()
    assert order.index(explanation.earlier) < order.index(explanation.later)
    declared = {(f"n{u}", f"n{v}") for u, v in edges}
    chain = explanation.chain
    if chain:
        assert chain[0].source == explanation.earlier
        assert chain[-1].target == explanation.later
        assert all(x.target == y.source for x, y in itertools.pairwise(chain))
        assert all((e.source, e.target) in declared for e in chain)
    else:
        graph = registry.graph()
        assert not nx.has_path(graph, explanation.earlier, explanation.later)
        assert not nx.has_path(graph, explanation.later, explanation.earlier)


SCRIPT = textwrap.dedent(
    """
    import random
    from virtmodel.notifiers import NotifierRegistry
    rng = random.Random(7)
    names = [f"dev{i}-{'x' * (i % 5)}" for i in range(300)]
    registry = NotifierRegistry[[]]("hash", one_shot=False)
    for i, name in enumerate(names):
        earlier = {names[j] for j in range(i) if rng.random() < 0.02}
        registry.add(name, lambda: None, after=earlier, reads={"a", "b", name})
    print(registry.order())
    print(registry.to_dot())
    print(registry.explain(names[5], names[200]))
    """
)


def test_order_and_exports_do_not_depend_on_pythonhashseed():
    outputs = set()
    for seed in ["0", "1", "12345"]:
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(result.stdout)

    assert len(outputs) == 1


def test_concurrent_add_and_remove_lose_nothing_and_order_stays_valid():
    registry = NotifierRegistry[[]]("threads", one_shot=False)
    registry.add("root", noop)
    errors: list[BaseException] = []
    stop = threading.Event()

    def worker(k: int) -> None:
        try:
            for i in range(150):
                registry.add(f"w{k}-{i}", noop, after="root")
                if i % 3 == 0:
                    registry.remove(f"w{k}-{i}")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def reader() -> None:
        try:
            while not stop.is_set():
                order = registry.order()
                assert order[0] == "root"
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()

    assert errors == []
    expected = {f"w{k}-{i}" for k in range(4) for i in range(150) if i % 3}
    assert set(registry.order()) == expected | {"root"}
    assert registry.order()[0] == "root"
    assert len(registry) == len(expected) + 1


def test_an_order_computed_while_the_registry_changed_is_not_kept(monkeypatch):
    # Deterministic version of the race above: a notifier arrives while
    # another thread sorts outside the lock. That caller gets the order of
    # its snapshot, but the stale plan is not cached for the next caller.
    from virtmodel.notifiers import plan as plan_module
    from virtmodel.notifiers import store as store_module

    registry = NotifierRegistry[[]]("race", one_shot=False)
    registry.add("a", noop)
    real_build = plan_module.build_plan
    arrivals = ["b"]

    def build_while_adding(*args, **kwargs):
        plan = real_build(*args, **kwargs)
        if arrivals:
            registry.add(arrivals.pop(), noop, after="a")
        return plan

    monkeypatch.setattr(store_module, "build_plan", build_while_adding)

    assert registry.order() == ["a"]
    assert registry.order() == ["a", "b"]
    assert registry.order() == ["a", "b"]
