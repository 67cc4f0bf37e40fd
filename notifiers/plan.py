"""The computed order of one registry state: :class:`Plan` and :func:`build_plan`.

:func:`build_plan` builds the constraint graph in bulk (see
:mod:`notifiers.graph`: unknown targets are found there) and sorts it with
``nx.lexicographical_topological_sort`` keyed on registration rank: among the
notifiers whose predecessors have all run, the one registered first runs
next. The sort is also the loop check: ``add()`` looks for none. A
:class:`Plan` is an immutable snapshot; the registry caches it until the
next mutation.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, final

from virtmodel.notifiers.edges import DroppedEdge, Edge
from virtmodel.notifiers.errors import CycleError, InvalidOrderError, quote_names
from virtmodel.notifiers.graph import build_graph, edge_between, gc_paused
from virtmodel.notifiers.notifier import Notifier

if TYPE_CHECKING:
    import networkx as nx


@final
class Plan:
    """An immutable snapshot: notifiers, constraint graph and computed order."""

    __slots__ = ("_positions", "dropped", "event", "graph", "notifiers", "order")

    def __init__(
        self,
        event: str,
        notifiers: dict[str, Notifier],
        graph: nx.DiGraph[str],
        order: list[str],
        dropped: tuple[DroppedEdge, ...],
    ) -> None:
        #: The event (registry) name.
        self.event = event
        #: The notifiers by name, in registration order.
        self.notifiers = notifiers
        #: The effective constraint graph (u -> v: u runs before v).
        self.graph = graph
        #: The computed order.
        self.order = order
        #: Optional edges left out because their target is absent.
        self.dropped = dropped
        self._positions: dict[str, int] | None = None

    def position(self, name: str) -> int:
        """Return the 0-based position of *name* in the order."""
        if self._positions is None:
            self._positions = {n: i for i, n in enumerate(self.order)}
        return self._positions[name]

    def edge(self, u: str, v: str) -> Edge:
        """Return the declaration behind graph edge ``u -> v``."""
        return edge_between(self.notifiers, u, v)

    def edges(self) -> Iterator[Edge]:
        """Yield each effective edge once, in declaration order."""
        seen: set[tuple[str, str]] = set()
        for record in self.notifiers.values():
            name = record.name
            pairs = [(other, name) for other in record.after]
            pairs += [(name, other) for other in record.before]
            pairs += [(other, name) for other in record.after_optional]
            pairs += [(name, other) for other in record.before_optional]
            for pair in pairs:
                if pair not in seen and self.graph.has_edge(*pair):
                    seen.add(pair)
                    yield self.edge(*pair)

    def check_order(self, order: Sequence[str]) -> None:
        """Check *order* is a permutation of the names respecting every edge.

        Raises:
            InvalidOrderError: It is not, naming the name or edge at fault.
        """
        event = self.event
        positions: dict[str, int] = {}
        for index, name in enumerate(order):
            if name not in self.notifiers:
                msg = f"order for {event!r} names {name!r}, which is not registered"
                raise InvalidOrderError(event, msg)
            if name in positions:
                msg = f"order for {event!r} lists {name!r} twice"
                raise InvalidOrderError(event, msg)
            positions[name] = index
        missing = [name for name in self.order if name not in positions]
        if missing:
            msg = f"order for {event!r} leaves out {quote_names(missing)}"
            raise InvalidOrderError(event, msg)
        for name in order:
            for before in self.graph.predecessors(name):
                if positions[before] > positions[name]:
                    edge = self.edge(before, name)
                    msg = (
                        f"order for {event!r} runs {name!r} before {before!r}, "
                        f"breaking {edge.describe()}"
                    )
                    raise InvalidOrderError(event, msg, edge)


def build_plan(event: str, notifiers: dict[str, Notifier]) -> Plan:
    """Compute the order of *notifiers*, which must be in registration order.

    A loop is reported starting at its most recently registered member: the
    notifier whose ``add()`` closed it.

    Raises:
        UnknownNotifierError: A hard ``after``/``before`` names an absent notifier.
        CycleError: The effective edges form a loop.
    """
    import networkx as nx

    graph, dropped = build_graph(event, notifiers)
    # Registration order is dict order; positions in it are the rank order.
    rank = dict(zip(notifiers, range(len(notifiers)), strict=True))
    try:
        with gc_paused():
            order = list(
                nx.lexicographical_topological_sort(graph, key=rank.__getitem__)
            )
    except nx.NetworkXUnfeasible:
        loop = [u for u, _ in nx.find_cycle(graph)]
        start = max(range(len(loop)), key=lambda i: rank[loop[i]])
        loop = [*loop[start:], *loop[:start], loop[start]]
        raise CycleError(
            event, [edge_between(notifiers, u, v) for u, v in itertools.pairwise(loop)]
        ) from None
    return Plan(event, notifiers, graph, order, dropped)
