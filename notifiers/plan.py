"""The computed order of one registry state: :class:`Plan` and :func:`build_plan`.

:func:`build_plan` builds the constraint graph in bulk (see
:mod:`notifiers.graph`: unknown targets are found there) and sorts it with
``nx.lexicographical_topological_sort`` keyed on registration rank: among the
notifiers whose predecessors have all run, the one registered first runs
next. The sort is also the loop check: ``add()`` looks for none. A
:class:`Plan` is an immutable snapshot; the registry caches it until the
next mutation. It keeps the registry's rows and callbacks (see
:data:`notifiers.notifier.Row`) and builds :class:`Notifier` records only
when an analysis, an error or a trace's steps ask for them: computing an
order and running it need none.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, final

from virtmodel.notifiers.edges import DroppedEdge, Edge
from virtmodel.notifiers.errors import CycleError, InvalidOrderError, quote_names
from virtmodel.notifiers.graph import build_graph, edge_between, gc_paused
from virtmodel.notifiers.notifier import Notifier, Row, records

if TYPE_CHECKING:
    import networkx as nx


@final
class Plan:
    """An immutable snapshot: notifiers, constraint graph and computed order."""

    __slots__ = (
        "_notifiers",
        "_positions",
        "callbacks",
        "dropped",
        "event",
        "graph",
        "order",
        "rows",
    )

    def __init__(
        self,
        event: str,
        rows: Mapping[str, Row],
        callbacks: Mapping[str, Callable[..., object]],
        graph: nx.DiGraph[str],
        order: list[str],
        dropped: tuple[DroppedEdge, ...],
    ) -> None:
        #: The event (registry) name.
        self.event = event
        #: The registrations by name, in registration order (callbacks apart).
        self.rows = rows
        #: The callbacks by name.
        self.callbacks = callbacks
        #: The effective constraint graph (u -> v: u runs before v).
        self.graph = graph
        #: The computed order.
        self.order = order
        #: Optional edges left out because their target is absent.
        self.dropped = dropped
        self._notifiers: dict[str, Notifier] | None = None
        self._positions: dict[str, int] | None = None

    @property
    def notifiers(self) -> dict[str, Notifier]:
        """Return the records by name, in registration order (built once)."""
        if self._notifiers is None:
            self._notifiers = records(self.rows, self.callbacks)
        return self._notifiers

    def with_order(self, order: list[str]) -> Plan:
        """Return this plan with *order* as the order that runs (unchecked)."""
        plan = Plan(
            self.event, self.rows, self.callbacks, self.graph, order, self.dropped
        )
        plan._notifiers = self._notifiers
        return plan

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


def build_plan(
    event: str,
    rows: Mapping[str, Row],
    callbacks: Mapping[str, Callable[..., object]],
) -> Plan:
    """Compute the order of *rows*, which must be in registration order.

    *rows* and *callbacks* are snapshots the plan keeps (never changed).

    A loop is reported starting at its most recently registered member: the
    notifier whose ``add()`` closed it.

    Raises:
        UnknownNotifierError: A hard ``after``/``before`` names an absent notifier.
        CycleError: The effective edges form a loop.
    """
    import networkx as nx

    graph, dropped = build_graph(event, rows)
    # Registration order is dict order; positions in it are the rank order.
    rank = dict(zip(rows, range(len(rows)), strict=True))
    try:
        with gc_paused():
            order = list(
                nx.lexicographical_topological_sort(graph, key=rank.__getitem__)
            )
    except nx.NetworkXUnfeasible:
        loop = [u for u, _ in nx.find_cycle(graph)]
        start = max(range(len(loop)), key=lambda i: rank[loop[i]])
        loop = [*loop[start:], *loop[:start], loop[start]]
        notifiers = records(rows, callbacks)
        raise CycleError(
            event, [edge_between(notifiers, u, v) for u, v in itertools.pairwise(loop)]
        ) from None
    return Plan(event, rows, callbacks, graph, order, dropped)
