"""The valid orders of one constraint graph: enumerate, sample, walk between.

A :class:`Poset` wraps a registry's constraint graph (u -> v: u runs first)
with reachability computed once, as one bitset per notifier, so asking
whether two notifiers are ordered costs O(1) however large the phase.
Every order this module produces is a linear extension of the graph (plus
any *extra* edges asked for), and everything is deterministic: ties follow
registration rank and randomness comes only from a seeded ``random.Random``.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeAlias, final

if TYPE_CHECKING:
    import networkx as nx

#: One complete order of a phase's notifier names.
Order: TypeAlias = tuple[str, ...]


@final
class Poset:
    """The partial order a constraint graph declares, with reachability.

    *graph* holds every notifier as a node, in registration order; *order*
    is any valid order of it (the registry's own order is used).
    """

    __slots__ = (
        "_ancestors",
        "_bit",
        "_indegree",
        "_names",
        "_reach",
        "_successors",
        "graph",
        "rank",
    )

    def __init__(self, graph: nx.DiGraph[str], order: Sequence[str]) -> None:
        #: The constraint graph (u -> v: u runs before v).
        self.graph = graph
        #: Registration rank of each name (its position among the nodes).
        self.rank: Mapping[str, int] = {name: i for i, name in enumerate(graph)}
        self._bit = {name: 1 << i for name, i in self.rank.items()}
        self._successors = {name: tuple(graph.successors(name)) for name in graph}
        self._indegree = {name: graph.in_degree(name) for name in graph}
        reach: dict[str, int] = {}
        # Successors come later in a valid order: fill from the end.
        for name in reversed(order):
            bits = 0
            for successor in self._successors[name]:
                bits |= self._bit[successor] | reach[successor]
            reach[name] = bits
        self._reach = reach
        ancestors: dict[str, int] = {}
        for name in order:
            bits = 0
            for predecessor in graph.predecessors(name):
                bits |= self._bit[predecessor] | ancestors[predecessor]
            ancestors[name] = bits
        self._ancestors = ancestors
        self._names = tuple(graph)

    def reaches(self, first: str, second: str) -> bool:
        """Return whether declared edges force *first* to run before *second*."""
        return bool(self._reach[first] & self._bit[second])

    def ordered(self, a: str, b: str) -> bool:
        """Return whether declared edges order *a* and *b* either way."""
        return self.reaches(a, b) or self.reaches(b, a)

    def lexicographic(
        self, extra: Iterable[tuple[str, str]] = (), *, reverse_ties: bool = False
    ) -> Order:
        """Return the tie-broken order of the graph plus the *extra* edges.

        Ties go to the notifier registered first, or last with *reverse_ties*.
        The extra edges must keep the graph acyclic (pairs not yet ordered).
        """
        import networkx as nx  # loaded with the graph; not by importing explore

        graph = self.graph
        extra = list(extra)
        if extra:
            graph = graph.copy()
            graph.add_edges_from(extra)
        rank = self.rank
        sign = -1 if reverse_ties else 1
        return tuple(
            nx.lexicographical_topological_sort(
                graph, key=lambda name: sign * rank[name]
            )
        )

    def random_order(self, rng: random.Random) -> Order:
        """Return a random valid order: each step picks any ready notifier."""
        successors = self._successors
        waiting = dict(self._indegree)
        ready = [name for name, count in waiting.items() if count == 0]
        result: list[str] = []
        pick = rng.random
        while ready:
            index = int(pick() * len(ready))
            # Swap-remove keeps each pick O(1); ready's order is deterministic.
            ready[index], ready[-1] = ready[-1], ready[index]
            name = ready.pop()
            result.append(name)
            for successor in successors[name]:
                waiting[successor] -= 1
                if waiting[successor] == 0:
                    ready.append(successor)
        return tuple(result)

    def covering(self, wanted: Sequence[tuple[str, str]]) -> list[Order]:
        """Return few valid orders that together run each pair of *wanted* its way.

        Each pair ``(a, b)`` asks for an order with *a* before *b*; the graph
        must leave the two unordered. Greedy: each order takes every pair
        still missing that is consistent with those already taken (checked
        with incrementally updated reachability), so n conflicting pairs
        need far fewer than n orders.
        """
        orders: list[Order] = []
        missing = list(wanted)
        while missing:
            closure = self.closure()
            batch: list[tuple[str, str]] = []
            for a, b in missing:
                if closure.ordered(a, b):
                    continue  # taken pairs already put one of them first
                batch.append((a, b))
                closure.add(a, b)
            order = self.lexicographic(batch)
            orders.append(order)
            position = {name: i for i, name in enumerate(order)}
            missing = [(a, b) for a, b in missing if position[a] > position[b]]
        return orders

    def _members(self, mask: int) -> Iterable[str]:
        """Yield the names whose bits are set in *mask*."""
        names = self._names
        while mask:
            low = mask & -mask
            yield names[low.bit_length() - 1]
            mask ^= low

    def closure(self) -> Closure:
        """Return the declared order's reachability, to extend edge by edge."""
        return Closure(self, dict(self._reach), dict(self._ancestors))

    def all_orders(self, limit: int) -> list[Order] | None:
        """Return every valid order if there are at most *limit*, else None.

        Enumeration stops at the (limit + 1)-th order, so a phase with
        astronomically many orders costs only O(limit) of them.
        """
        import networkx as nx

        found = itertools.islice(nx.all_topological_sorts(self.graph), limit + 1)
        orders = [tuple(order) for order in found]
        return orders if len(orders) <= limit else None


@final
class Closure:
    """The declared order plus extra edges, transitively closed (bitsets).

    Adding ``a -> b`` for a pair still unordered keeps it acyclic; every
    name above *a* (and *a*) gains everything below *b* (and *b*).
    """

    __slots__ = ("_above", "_below", "_poset")

    def __init__(
        self, poset: Poset, below: dict[str, int], above: dict[str, int]
    ) -> None:
        self._poset = poset
        self._below = below
        self._above = above

    def ordered(self, a: str, b: str) -> bool:
        """Return whether *a* and *b* are ordered either way."""
        bit = self._poset._bit
        return bool(self._below[a] & bit[b] or self._below[b] & bit[a])

    def add(self, a: str, b: str) -> None:
        """Order *a* before *b*; the two must be unordered."""
        poset, below, above = self._poset, self._below, self._above
        gained_below = poset._bit[b] | below[b]
        gained_above = poset._bit[a] | above[a]
        for name in poset._members(gained_above):
            below[name] |= gained_below
        for name in poset._members(gained_below):
            above[name] |= gained_above

    def __len__(self) -> int:
        return len(self._below)

    def copy(self) -> Closure:
        """Return an independent copy."""
        return Closure(self._poset, dict(self._below), dict(self._above))


def respects(order: Sequence[str], edges: Iterable[tuple[str, str]]) -> bool:
    """Return whether *order* puts the first name of each edge before the second."""
    edges = list(edges)
    if not edges:
        return True
    position = {name: i for i, name in enumerate(order)}
    return all(position[u] < position[v] for u, v in edges)


def distance(reference: Sequence[str], order: Sequence[str]) -> int:
    """Return how far *order* is from *reference* (sum of position shifts).

    Spearman's footrule: within a factor of two of the number of adjacent
    swaps between the orders, and O(n) to compute.
    """
    position = {name: i for i, name in enumerate(reference)}
    return sum(abs(position[name] - i) for i, name in enumerate(order))


def swap_path(start: Sequence[str], goal: Sequence[str]) -> list[int]:
    """Return adjacent swaps that turn *start* into *goal*, both valid orders.

    Each entry ``p`` swaps positions ``p`` and ``p + 1``. Every swap exchanges
    two neighbours that *goal* places the other way round, so the pair is
    unordered by the graph and every intermediate order is valid too.
    """
    current = list(start)
    position = {name: i for i, name in enumerate(current)}
    swaps: list[int] = []
    for target, name in enumerate(goal):
        at = position[name]
        while at > target:
            other = current[at - 1]
            current[at - 1], current[at] = name, other
            position[other] = at
            swaps.append(at - 1)
            at -= 1
        position[name] = target
    return swaps


def apply_swaps(start: Sequence[str], swaps: Sequence[int]) -> Order:
    """Return *start* after the adjacent *swaps* (see :func:`swap_path`)."""
    current = list(start)
    for at in swaps:
        current[at], current[at + 1] = current[at + 1], current[at]
    return tuple(current)
