"""What a registry's current state looks like: order, graph, explanations.

:class:`RegistryViews` is the read-only half of
:class:`notifiers.registry.NotifierRegistry`: every method here computes
from a :class:`~notifiers.plan.Plan` (the order and constraint graph of one
snapshot of the registrations, cached by the registry until the next change)
and never runs a callback. The registry supplies the plan and the snapshot;
the views may be given an *order* decided elsewhere (QEMU's list), which
they then describe instead of the declared one (see :mod:`notifiers.imposed`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from virtmodel.notifiers.errors import NotifierError
from virtmodel.notifiers.graph import attributed_graph, build_graph
from virtmodel.notifiers.imposed import imposed_plan, violated_edges
from virtmodel.notifiers.plan import Plan

if TYPE_CHECKING:
    import networkx as nx

    from virtmodel.notifiers.edges import DroppedEdge, Edge
    from virtmodel.notifiers.explain import Explanation
    from virtmodel.notifiers.hazards import Hazard
    from virtmodel.notifiers.notifier import Notifier


class RegistryViews(ABC):
    """Read-only views of a registry's order (see the module docstring)."""

    if TYPE_CHECKING:  # an attribute of the registry; read-only here

        @property
        def event(self) -> str:
            """Return the event the registry notifies."""

    @abstractmethod
    def _current_plan(self) -> Plan:
        """Return the plan of the current registrations (cached)."""

    @abstractmethod
    def _snapshot(self) -> dict[str, Notifier]:
        """Return a copy of the registrations, in registration order."""

    def order(self) -> list[str]:
        """Return the names in the order :meth:`notify` runs them; nothing runs.

        Raises:
            UnknownNotifierError: A hard constraint names an absent notifier.
            CycleError: The constraints form a loop.
        """
        return list(self._current_plan().order)

    def graph(self) -> nx.DiGraph[str]:
        """Return a fresh graph of the effective constraints (u -> v: u first).

        Nodes are in registration order; each edge carries ``declared_by``,
        ``location``, ``keyword`` and ``optional``. Optional edges to absent
        targets are left out. A cycle is not an error here.

        Raises:
            UnknownNotifierError: A hard constraint names an absent notifier.
        """
        return attributed_graph(self.event, self._snapshot())

    def dropped_edges(self) -> tuple[DroppedEdge, ...]:
        """Return the optional edges dropped because their target is absent.

        Raises:
            UnknownNotifierError: A hard constraint names an absent notifier.
        """
        return build_graph(self.event, self._snapshot())[1]

    def explain(
        self,
        first: str,
        second: str,
        *,
        order: Sequence[str] | None = None,
        imposed_by: str = "the order that runs",
    ) -> Explanation:
        """Return why *first* and *second* run in the order they do.

        ``str()`` of the result is the shortest chain of declared edges
        between them, each with its declarer and file:line, or a statement
        that nothing orders them and the tie-break decides. Give *order* when
        something else decides what runs (QEMU's list; *imposed_by* names
        it): the answer then describes that order and names any declared
        chain it breaks.

        Raises:
            UnknownNotifierError: Either name is not registered.
            CycleError: The constraints form a loop.
            InvalidOrderError: *order* is not a permutation of the notifiers.
        """
        from virtmodel.notifiers.explain import explain

        if order is None:
            return explain(self._current_plan(), first, second)
        return explain(self._plan_running(order), first, second, imposed_by)

    def hazards(self, *, order: Sequence[str] | None = None) -> list[Hazard]:
        """Return every reads/writes conflict the order leaves open.

        With *order* (the order that actually runs, if something else
        decides it), a reader declared after its writer but run before it is
        reported too ("runs-before-write").

        Raises:
            UnknownNotifierError: A hard constraint names an absent notifier.
            CycleError: The constraints form a loop.
            InvalidOrderError: *order* is not a permutation of the notifiers.
        """
        from virtmodel.notifiers.hazards import find_hazards

        return find_hazards(self._plan_running(order))

    def violated_edges(self, order: Sequence[str]) -> list[Edge]:
        """Return the declared edges *order* breaks (target runs before source).

        Raises:
            UnknownNotifierError: A hard constraint names an absent notifier.
            CycleError: The constraints form a loop.
            InvalidOrderError: *order* is not a permutation of the notifiers.
        """
        return violated_edges(self._plan_running(order))

    def to_dot(self, *, order: Sequence[str] | None = None) -> str:
        """Return the order as Graphviz DOT text (see :mod:`notifiers.export`).

        With *order*, nodes are numbered in that order and the declared edges
        it breaks are drawn as violated.

        Raises:
            UnknownNotifierError: A hard constraint names an absent notifier.
            CycleError: The constraints form a loop.
            InvalidOrderError: *order* is not a permutation of the notifiers.
        """
        from virtmodel.notifiers.export import to_dot

        return to_dot(self._plan_running(order))

    def to_mermaid(self, *, order: Sequence[str] | None = None) -> str:
        """Return the order as a Mermaid flowchart (see :mod:`notifiers.export`).

        With *order*, as for :meth:`to_dot`.

        Raises:
            UnknownNotifierError: A hard constraint names an absent notifier.
            CycleError: The constraints form a loop.
            InvalidOrderError: *order* is not a permutation of the notifiers.
        """
        from virtmodel.notifiers.export import to_mermaid

        return to_mermaid(self._plan_running(order))

    def to_svg(
        self,
        *,
        order: Sequence[str] | None = None,
        status: Mapping[str, str] | None = None,
        graphviz: bool = False,
    ) -> str:
        """Return the graph as SVG, drawn in pure Python (see :mod:`notifiers.svg`).

        Boxes are numbered in the order that runs (*order*, if given) and
        coloured by *status* (name -> "ran", "failed", ...), if given.
        ``graphviz=True`` draws it with Graphviz's ``dot`` instead when that
        is installed (nicer for large graphs; *status* is then not shown).

        Raises:
            UnknownNotifierError: A hard constraint names an absent notifier.
            CycleError: The constraints form a loop.
            InvalidOrderError: *order* is not a permutation of the notifiers.
        """
        from virtmodel.notifiers.svg import graph_svg, plan_svg

        plan = self._plan_running(order)
        return graph_svg(plan, graphviz=True) if graphviz else plan_svg(plan, status)

    def _repr_mimebundle_(
        self, include: object = None, exclude: object = None
    ) -> dict[str, Any]:
        # Jupyter: the graph, numbered in run order (notifiers.display).
        from virtmodel.notifiers.display import registry_bundle

        try:
            plan = self._current_plan()
        except NotifierError as error:
            return registry_bundle(error, repr(self))
        return registry_bundle(plan, repr(self))

    def _plan_running(self, order: Sequence[str] | None) -> Plan:
        plan = self._current_plan()
        return plan if order is None else imposed_plan(plan, order)
