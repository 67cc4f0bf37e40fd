"""The ordered notifier registry: callbacks that declare what they come after.

Order rule: a notifier runs after everything it names in ``after=`` and
before everything it names in ``before=``; among notifiers whose predecessors
have all run, the one **registered first runs first**. QEMU's NotifierList is
the opposite: it runs the newest registration first and nobody can name
another notifier, so order there is an accident of registration (see
:class:`notifiers.NotifierList`). Here the order is declared, explained by
:meth:`NotifierRegistry.explain`, and independent of hashing.

A registry is one-shot by default, like QEMU's machine-init-done: after it
has notified, a newly added notifier runs at once if everything it comes
after has run, and is refused if something it must precede already ran.
``one_shot=False`` gives an event that can fire many times (e.g. reset).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Generic, ParamSpec, final

import networkx as nx

from virtmodel.notifiers import runner
from virtmodel.notifiers.admission import check_late, reject_two_cycle
from virtmodel.notifiers.edges import DroppedEdge, Edge
from virtmodel.notifiers.errors import (
    AlreadyNotifiedError,
    DuplicateNotifierError,
    NotifierError,
    NotifierFailedError,
)
from virtmodel.notifiers.explain import Explanation, explain
from virtmodel.notifiers.export import to_dot, to_mermaid
from virtmodel.notifiers.hazards import Hazard, find_hazards
from virtmodel.notifiers.imposed import imposed_plan, violated_edges
from virtmodel.notifiers.notifier import (
    Declared,
    Names,
    Notifier,
    caller_location,
    check_name,
    declare,
)
from virtmodel.notifiers.plan import (
    Plan,
    attributed_graph,
    build_graph,
    build_plan,
    unknown,
)
from virtmodel.notifiers.trace import Status, Step, Trace

P = ParamSpec("P")


class _State(enum.Enum):
    ARMED = "armed"
    NOTIFYING = "notifying"
    DONE = "done"


@final
class NotifierRegistry(Generic[P]):
    """An ordered set of named callbacks for one event, run by :meth:`notify`.

    The type parameter is the callbacks' signature: ``NotifierRegistry[Machine]``
    holds callbacks taking one ``Machine``; ``notify(*args, **kwargs)`` passes
    its arguments to every callback. ``one_shot`` (default True) gives QEMU's
    late-registration semantics; ``keep_going`` (default False) runs everything
    not downstream of a failure instead of stopping at the first one.

    Example:
        >>> reset = NotifierRegistry[list[str]]("machine-reset", one_shot=False)
        >>> _ = reset.add("uart", lambda log: log.append("uart"), after="clocks")
        >>> _ = reset.add("gic", lambda log: log.append("gic"), before="uart")
        >>> _ = reset.add("clocks", lambda log: log.append("clocks"))
        >>> reset.order()
        ['gic', 'clocks', 'uart']
        >>> log: list[str] = []
        >>> reset.notify(log).names("ran") == log
        True
    """

    def __init__(
        self, event: str, *, one_shot: bool = True, keep_going: bool = False
    ) -> None:
        #: The event this registry notifies, e.g. "machine-init-done".
        self.event: Final = check_name(event, "event name")
        #: Whether the event fires once (late registrations run at once).
        self.one_shot: Final = one_shot
        #: Whether a failure skips only its dependents instead of stopping.
        self.keep_going: Final = keep_going
        self._lock = threading.RLock()
        #: Records by name, in registration order.
        self._notifiers: dict[str, Notifier] = {}
        self._rank = 0
        self._plan: Plan | None = None
        # Bumped by every mutation; a plan built from an older snapshot is
        # returned to its caller but not cached.
        self._version = 0
        self._state = _State.ARMED
        self._call: tuple[tuple[Any, ...], dict[str, Any]] = ((), {})
        # one-shot round: name -> outcome, filled in while the walk runs
        self._progress: dict[str, Status] = {}
        self._trace: Trace | None = None
        self._late: list[Step] = []

    # -- registration -------------------------------------------------------

    def add(
        self,
        name: str,
        callback: Callable[P, object],
        *,
        after: Names = (),
        before: Names = (),
        after_optional: Names = (),
        before_optional: Names = (),
        reads: Names = (),
        writes: Names = (),
        location: str | None = None,
    ) -> Notifier:
        """Register *callback* as *name*; a bare str constraint means one name.

        ``after``/``before`` targets must be registered by the time the order
        is computed; ``*_optional`` targets may stay absent (the edge is then
        dropped and reported). ``reads``/``writes`` name resources for
        :meth:`hazards`. On a one-shot registry that already notified, the
        callback runs now (see the module docstring). ``location`` overrides
        the "file:line" recorded for explanations, for frameworks that
        register on their users' behalf (default: the caller of ``add``).

        Raises:
            InvalidNotifierError: Bad name, callback or constraint.
            DuplicateNotifierError: *name* is already registered.
            CycleError: A registered target orders itself the other way (a
                loop of two); longer loops are reported by :meth:`order`.
            UnknownNotifierError: Late registration naming an absent notifier.
            LateRegistrationError: Late, and its place in the order has passed.
            NotifierFailedError: Late, and the callback raised (it stays registered).
        """
        if location is None:
            location = caller_location(1)
        declared = (after, before, after_optional, before_optional, reads, writes)
        return self._add(name, callback, declared, location)

    def register(
        self,
        name: str | None = None,
        *,
        after: Names = (),
        before: Names = (),
        after_optional: Names = (),
        before_optional: Names = (),
        reads: Names = (),
        writes: Names = (),
    ) -> Callable[[Callable[P, object]], Callable[P, object]]:
        """Return a decorator that registers a function, named after it by default.

        Takes the same constraints as :meth:`add`; the function is returned
        unchanged.

        Raises:
            InvalidNotifierError: Bad name (e.g. ``@register`` without
                parentheses), callback or constraint.
            DuplicateNotifierError, CycleError, UnknownNotifierError,
            LateRegistrationError, NotifierFailedError: As for :meth:`add`.
        """
        if name is not None:
            check_name(name)
        location = caller_location(1)
        declared = (after, before, after_optional, before_optional, reads, writes)

        def decorate(function: Callable[P, object]) -> Callable[P, object]:
            own = name if name is not None else getattr(function, "__name__", None)
            self._add(own, function, declared, location)
            return function

        return decorate

    def remove(self, name: str) -> Notifier:
        """Unregister *name* and return its record.

        Raises:
            UnknownNotifierError: *name* is not registered.
        """
        with self._lock:
            record = self._notifiers.pop(name, None)
            if record is None:
                raise unknown(self.event, name, self._notifiers)
            self._progress.pop(name, None)
            self._plan = None
            self._version += 1
            return record

    def rearm(self) -> None:
        """Make a one-shot registry that has notified ready to notify again.

        Raises:
            AlreadyNotifiedError: The event is being notified right now.
        """
        with self._lock:
            if self._state is _State.NOTIFYING:
                raise AlreadyNotifiedError(self.event, notifying=True)
            self._state = _State.ARMED
            self._progress = {}
            self._late = []

    # -- introspection ------------------------------------------------------

    def notifiers(self) -> tuple[Notifier, ...]:
        """Return the registered notifiers in registration order."""
        with self._lock:
            return tuple(self._notifiers.values())

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
        with self._lock:
            notifiers = dict(self._notifiers)
        return attributed_graph(self.event, notifiers)

    def dropped_edges(self) -> tuple[DroppedEdge, ...]:
        """Return the optional edges dropped because their target is absent.

        Raises:
            UnknownNotifierError: A hard constraint names an absent notifier.
        """
        with self._lock:
            notifiers = dict(self._notifiers)
        return build_graph(self.event, notifiers)[1]

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
        return to_dot(self._plan_running(order))

    def to_mermaid(self, *, order: Sequence[str] | None = None) -> str:
        """Return the order as a Mermaid flowchart (see :mod:`notifiers.export`).

        With *order*, as for :meth:`to_dot`.

        Raises:
            UnknownNotifierError: A hard constraint names an absent notifier.
            CycleError: The constraints form a loop.
            InvalidOrderError: *order* is not a permutation of the notifiers.
        """
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

    @property
    def last_trace(self) -> Trace | None:
        """Return the latest notify's trace plus any late runs, or None."""
        with self._lock:
            if self._trace is None:
                return None
            late = list(self._late)
            trace = self._trace
        return Trace(trace.event, [*trace.steps, *late], trace.dropped)

    # -- running ------------------------------------------------------------

    def notify(self, *args: P.args, **kwargs: P.kwargs) -> Trace:
        """Run every callback in :meth:`order`, passing it these arguments.

        The order is computed (and a cycle or unknown name reported) before
        any callback runs.

        Raises:
            UnknownNotifierError: A hard constraint names an absent notifier.
            CycleError: The constraints form a loop.
            AlreadyNotifiedError: One-shot event notified before (see :meth:`rearm`).
            NotifierFailedError: A callback raised; see ``keep_going``.
        """
        with self._lock:
            if self.one_shot and self._state is not _State.ARMED:
                raise AlreadyNotifiedError(
                    self.event, notifying=self._state is _State.NOTIFYING
                )
            plan = self._current_plan()
            progress: dict[str, Status] | None = None
            if self.one_shot:
                self._state = _State.NOTIFYING
                self._call = (args, kwargs)
                self._progress = progress = {}
                self._late = []
        trace: Trace | None = None
        try:
            trace = self._run(plan, plan.order, (args, kwargs), progress)
        except NotifierFailedError as failed:
            trace = failed.trace
            raise
        finally:
            with self._lock:
                if self.one_shot:
                    self._state = _State.DONE
                self._trace = trace
        return trace

    def notify_in_order(
        self, order: Sequence[str], *args: P.args, **kwargs: P.kwargs
    ) -> Trace:
        """Run the callbacks in *order*, which must be a valid order of them all.

        Meant for running a phase under alternative valid orders on fresh
        state: it has the failure semantics of :meth:`notify` but leaves the
        registry's one-shot state alone.

        Raises:
            InvalidOrderError: *order* is not a permutation of the registered
                names or breaks a declared edge (named in the message).
            UnknownNotifierError: A hard constraint names an absent notifier.
            CycleError: The constraints form a loop.
            NotifierFailedError: A callback raised; see ``keep_going``.
        """
        plan = self._current_plan()
        plan.check_order(order)
        return self._run(plan, order, (args, kwargs), None)

    # -- internals ----------------------------------------------------------

    def _current_plan(self) -> Plan:
        # The sort runs outside the lock, on a snapshot, so threads adding and
        # removing notifiers are not held up while another computes an order.
        with self._lock:
            if self._plan is not None:
                return self._plan
            snapshot, version = dict(self._notifiers), self._version
        plan = build_plan(self.event, snapshot)
        with self._lock:
            if self._version == version:
                self._plan = plan
        return plan

    def _run(
        self,
        plan: Plan,
        order: Sequence[str],
        call: tuple[tuple[Any, ...], dict[str, Any]],
        progress: dict[str, Status] | None,
    ) -> Trace:
        return runner.run(
            self.event,
            plan.notifiers,
            plan.graph,
            order,
            call,
            keep_going=self.keep_going,
            dropped=plan.dropped,
            progress=progress,
        )

    def _add(
        self,
        name: object,
        callback: object,
        declared: Declared,
        location: str,
    ) -> Notifier:
        with self._lock:
            record = declare(self.event, name, callback, declared, location, self._rank)
            notifiers = self._notifiers
            existing = notifiers.get(record.name)
            if existing is not None:
                raise DuplicateNotifierError(self.event, record.name, existing.location)
            if (
                record.before
                or record.after
                or record.before_optional
                or (record.after_optional)
            ):
                reject_two_cycle(self.event, record, notifiers)
            late = self.one_shot and self._state is not _State.ARMED
            if late:
                notifying = self._state is _State.NOTIFYING
                check_late(
                    self.event, record, self._notifiers, self._progress, notifying
                )
            self._notifiers[record.name] = record
            self._rank += 1
            self._plan = None
            self._version += 1
            args, kwargs = self._call
        if late:
            self._run_late(record, args, kwargs)
        return record

    def _run_late(
        self, record: Notifier, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        # The walk is over (or this thread is inside it): run it alone, and
        # record its outcome so later late registrations can rely on it.
        steps: list[Step] = []
        try:
            runner.run_alone(self.event, record, (args, kwargs), steps)
        finally:
            with self._lock:
                self._late.extend(steps)
                for step in steps:
                    self._progress[step.name] = step.status

    def __len__(self) -> int:
        return len(self._notifiers)

    def __contains__(self, name: object) -> bool:
        return name in self._notifiers

    def __repr__(self) -> str:
        kind = "one-shot" if self.one_shot else "multi-shot"
        return (
            f"<NotifierRegistry {self.event!r} {kind} "
            f"{len(self._notifiers)} notifiers, {self._state.value}>"
        )
