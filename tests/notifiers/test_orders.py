from __future__ import annotations

import random

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from virtmodel.notifiers.explore.orders import (
    Poset,
    apply_swaps,
    distance,
    respects,
    swap_path,
)


def diamond() -> Poset:
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(["top", "left", "right", "bottom", "free"])
    graph.add_edges_from([("top", "left"), ("top", "right")])
    graph.add_edges_from([("left", "bottom"), ("right", "bottom")])
    return Poset(graph, ["top", "left", "right", "bottom", "free"])


def test_reachability_is_transitive_and_directed() -> None:
    poset = diamond()

    assert poset.reaches("top", "bottom")
    assert not poset.reaches("bottom", "top")
    assert poset.ordered("bottom", "top")
    assert not poset.ordered("left", "right")
    assert not poset.ordered("free", "top")


def test_lexicographic_breaks_ties_by_rank_either_way_and_honours_extra_edges() -> None:
    poset = diamond()

    assert poset.lexicographic() == ("top", "left", "right", "bottom", "free")
    assert poset.lexicographic(reverse_ties=True) == (
        "free",
        "top",
        "right",
        "left",
        "bottom",
    )
    assert poset.lexicographic([("bottom", "free")])[-1] == "free"
    assert poset.lexicographic([("right", "left")])[1:3] == ("right", "left")


def test_all_orders_stops_past_the_limit() -> None:
    poset = diamond()

    assert poset.all_orders(100) is not None
    assert len(poset.all_orders(10) or []) == 10
    assert poset.all_orders(9) is None


def test_random_orders_are_valid_and_seeded() -> None:
    poset = diamond()

    first = [poset.random_order(random.Random(7)) for _ in range(3)]
    again = [poset.random_order(random.Random(7)) for _ in range(3)]

    assert first == again
    edges = list(poset.graph.edges)
    assert all(respects(order, edges) for order in first)


def test_respects_and_distance_compare_positions() -> None:
    assert respects(("a", "b", "c"), [("a", "c")])
    assert not respects(("a", "b", "c"), [("c", "b")])
    assert distance(("a", "b", "c"), ("a", "b", "c")) == 0
    assert distance(("a", "b", "c"), ("c", "b", "a")) == 4


@settings(max_examples=40, deadline=None)
@given(st.permutations(list("abcdef")), st.permutations(list("abcdef")))
def test_swap_path_reaches_the_goal_by_adjacent_inversions(
    start: list[str], goal: list[str]
) -> None:
    swaps = swap_path(start, goal)

    assert apply_swaps(start, swaps) == tuple(goal)
    current = list(start)
    for at in swaps:
        a, b = current[at], current[at + 1]
        assert goal.index(a) > goal.index(b)  # only pairs goal puts the other way
        current[at], current[at + 1] = b, a


def test_covering_runs_every_wanted_pair_its_way_in_few_valid_orders() -> None:
    graph: nx.DiGraph[str] = nx.DiGraph()
    names = [f"n{i}" for i in range(30)]
    graph.add_nodes_from(names)
    graph.add_edges_from((names[i], names[i + 10]) for i in range(20))
    poset = Poset(graph, list(nx.topological_sort(graph)))
    wanted = [
        (a, b) for a in names for b in names if a != b and not poset.ordered(a, b)
    ]

    orders = poset.covering(wanted)

    assert len(orders) < 10 < len(wanted)
    edges = list(graph.edges)
    assert all(respects(order, edges) for order in orders)
    for a, b in wanted:
        assert any(order.index(a) < order.index(b) for order in orders), (a, b)
