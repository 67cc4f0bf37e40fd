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
from collections.abc import Callable, Sequence
from functools import partial
from sys import _getframe
from typing import Any, Final, Generic, ParamSpec, final

from virtmodel.notifiers.admission import check_late
from virtmodel.notifiers.constraints import Constraints, Names, check_name
from virtmodel.notifiers.errors import (
    AlreadyNotifiedError,
    DuplicateNotifierError,
    NotifierFailedError,
)
from virtmodel.notifiers.graph import unknown
from virtmodel.notifiers.notifier import (
    LOCATION,
    Keywords,
    Notifier,
    caller_location,
    check_declarer,
    declare,
    declare_keywords,
    given_constraints,
    hard_targets,
    record_of,
    records,
)
from virtmodel.notifiers.plan import Plan
from virtmodel.notifiers.runner import run, run_alone
from virtmodel.notifiers.store import RegistryStore
from virtmodel.notifiers.trace import Status, Step, Trace
from virtmodel.notifiers.views import RegistryViews

P = ParamSpec("P")


class _State(enum.Enum):
    ARMED = "armed"
    NOTIFYING = "notifying"
    DONE = "done"


@final
class NotifierRegistry(RegistryStore, RegistryViews, Generic[P]):
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
        RegistryStore.__init__(self, self.event)
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
        constraints: Constraints | None = None,
        location: str | None = None,
    ) -> Notifier:
        """Register *callback* as *name*; a bare str constraint means one name.

        ``after``/``before`` targets must be registered by the time the order
        is computed; ``*_optional`` targets may stay absent (the edge is then
        dropped and reported). ``reads``/``writes`` name resources for
        :meth:`hazards`. A ready :class:`~notifiers.constraints.Constraints`
        may be given as ``constraints=`` instead of those keywords. On a
        one-shot registry that already notified, the callback runs now (see
        the module docstring). ``location`` overrides the "file:line"
        recorded for explanations, for frameworks that register on their
        users' behalf (default: the caller of ``add``).

        Raises:
            InvalidNotifierError: Bad name, callback or constraint, or both
                ``constraints=`` and keywords.
            DuplicateNotifierError: *name* is already registered.
            CycleError: It names one target both after and before. Loops
                through other notifiers, even of two, are reported by
                :meth:`order` and :meth:`notify`: ``add()`` only stores.
            UnknownNotifierError: Late registration naming an absent notifier.
            LateRegistrationError: Late, and its place in the order has passed.
            NotifierFailedError: Late, and the callback raised (it stays registered).
        """
        if location is None:
            frame = _getframe(1)  # caller_location(1), written out: the hot path
            location = f"{frame.f_code.co_filename}:{frame.f_lineno}"
        if type(name) is not str or not name or not callable(callback):
            check_declarer(name, callback)  # raises: name first, then callback
        if constraints is None:
            # The common case (two plain target lists, a new name, not late),
            # written out: the hot path of registering 100,000 notifiers.
            targets = hard_targets(
                name, after, before, after_optional, before_optional, reads, writes
            )
            if targets is not None:
                with self._lock:
                    if name not in self._rows and (
                        not self.one_shot or self._state is _State.ARMED
                    ):
                        if self._shared:
                            self._unshare()
                        rank = self._rank
                        hard_after, hard_before = targets
                        row = (
                            name, None, hard_after, hard_before, (), (), (), (),
                            location, rank,
                        )  # fmt: skip
                        self._rows[name] = row
                        self._callbacks[name] = callback
                        self._rank = rank + 1
                        self._plan = None
                        self._version += 1
                        return record_of(row, callback)
        keywords = (after, before, after_optional, before_optional, reads, writes)
        if constraints is None:
            return self._add(name, callback, keywords, location)
        declared = given_constraints(name, constraints, keywords)
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
        constraints: Constraints | None = None,
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
        keywords = (after, before, after_optional, before_optional, reads, writes)

        def decorate(function: Callable[P, object]) -> Callable[P, object]:
            given = name if name is not None else getattr(function, "__name__", None)
            own = check_declarer(given, function)
            if constraints is None:
                self._add(own, function, keywords, location)
            else:
                declared = given_constraints(own, constraints, keywords)
                self._add(own, function, declared, location)
            return function

        return decorate

    def remove(self, name: str) -> Notifier:
        """Unregister *name* and return its record.

        Raises:
            UnknownNotifierError: *name* is not registered.
        """
        with self._lock:
            if name not in self._rows:
                raise unknown(self.event, name, self._rows)
            if self._shared:
                self._unshare()
            record = record_of(self._rows.pop(name), self._callbacks.pop(name))
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
            return tuple(records(self._rows, self._callbacks).values())

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

    def _run(
        self,
        plan: Plan,
        order: Sequence[str],
        call: tuple[tuple[Any, ...], dict[str, Any]],
        progress: dict[str, Status] | None,
    ) -> Trace:
        return run(
            self.event,
            plan.callbacks,
            # The records, when the trace's steps are read: from the rows, not
            # the plan, so a trace kept does not keep the plan's graph alive.
            partial(records, plan.rows, plan.callbacks),
            plan.graph,
            order,
            call,
            keep_going=self.keep_going,
            dropped=plan.dropped,
            progress=progress,
        )

    def _add(
        self,
        name: str,
        callback: Callable[..., object],
        declared: Keywords | Constraints,
        location: str,
    ) -> Notifier:
        # The row is built under the lock, which hands out ranks.
        with self._lock:
            if type(declared) is tuple:
                row = declare_keywords(self.event, name, declared, location, self._rank)
            else:
                assert isinstance(declared, Constraints)
                row = declare(self.event, name, declared, location, self._rank)
            rows = self._rows
            existing = rows.get(name)
            if existing is not None:
                raise DuplicateNotifierError(self.event, name, existing[LOCATION])
            record = record_of(row, callback)
            # Loops, even of two, are found when the order is computed: the
            # sort finds them for free, where a check here would visit every
            # target's record at each add (a third of add()'s cost).
            late = self.one_shot and self._state is not _State.ARMED
            if late:
                # A loop through the newcomer is refused here too: its
                # neighbour would have to have run and not have run.
                notifying = self._state is _State.NOTIFYING
                registered = records(rows, self._callbacks)
                check_late(self.event, record, registered, self._progress, notifying)
                args, kwargs = self._call
            if self._shared:
                self._unshare()
            self._rows[name] = row
            self._callbacks[name] = callback
            self._rank += 1
            self._plan = None
            self._version += 1
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
            run_alone(self.event, record, (args, kwargs), steps)
        finally:
            with self._lock:
                self._late.extend(steps)
                for step in steps:
                    self._progress[step.name] = step.status

    def __repr__(self) -> str:
        kind = "one-shot" if self.one_shot else "multi-shot"
        return (
            f"<NotifierRegistry {self.event!r} {kind} "
            f"{len(self._rows)} notifiers, {self._state.value}>"
        )
