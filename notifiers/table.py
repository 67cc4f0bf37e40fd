"""The registered declarations, indexed both ways, and the eager cycle check.

A :class:`Table` maps names to :class:`Notifier` records in registration
order and keeps a reverse index (target -> notifiers whose constraints name
it), so the edges of a newcomer, including those others declared towards it
before it existed, are found without rebuilding the graph. Every edge a
newcomer brings touches it, so any loop it closes passes through it: a
bounded search from its successors to its predecessors finds it at once.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping
from typing import Final, final

from notifiers.edges import Edge
from notifiers.errors import CycleError, LateRegistrationError
from notifiers.notifier import Notifier
from notifiers.plan import edge_between, unknown
from notifiers.trace import Status

#: How many notifiers add() visits looking for a cycle before leaving the
#: question to order(), which always answers it. Keeps add() cheap.
EAGER_CYCLE_BUDGET: Final = 1000


@final
class Table:
    """Registered notifiers by name, in registration order, plus the reverse index."""

    __slots__ = ("event", "notifiers", "refs")

    def __init__(self, event: str) -> None:
        #: The event (registry) name, for errors.
        self.event = event
        #: Records by name, in registration order.
        self.notifiers: dict[str, Notifier] = {}
        #: Target name -> names of notifiers whose constraints mention it.
        self.refs: dict[str, dict[str, None]] = {}

    def insert(self, record: Notifier) -> None:
        """Add *record*, which the caller has checked is new."""
        self.notifiers[record.name] = record
        for target in _targets(record):
            self.refs.setdefault(target, {})[record.name] = None

    def remove(self, name: str) -> Notifier:
        """Remove *name* and return its record.

        Raises:
            UnknownNotifierError: *name* is not registered.
        """
        record = self.notifiers.pop(name, None)
        if record is None:
            raise unknown(self.event, name, self.notifiers)
        for target in _targets(record):
            declarers = self.refs[target]
            del declarers[name]
            if not declarers:
                del self.refs[target]
        return record

    def neighbours(self, record: Notifier) -> tuple[list[Edge], list[Edge]]:
        """Return the registered edges into and out of *record*."""
        name, notifiers = record.name, self.notifiers
        preds: list[Edge] = []
        succs: list[Edge] = []
        for keyword in ("after", "after_optional"):
            for other in getattr(record, keyword):
                if other in notifiers:
                    preds.append(Edge(other, name, name, keyword, record.location))
        for keyword in ("before", "before_optional"):
            for other in getattr(record, keyword):
                if other in notifiers:
                    succs.append(Edge(name, other, name, keyword, record.location))
        for other in self.refs.get(name, ()):
            them = notifiers[other]
            for keyword in ("before", "before_optional"):
                if name in getattr(them, keyword):
                    preds.append(Edge(other, name, other, keyword, them.location))
            for keyword in ("after", "after_optional"):
                if name in getattr(them, keyword):
                    succs.append(Edge(name, other, other, keyword, them.location))
        return preds, succs

    def successors(self, name: str) -> list[str]:
        """Return the registered notifiers that *name* must run before."""
        record = self.notifiers[name]
        found = [
            other
            for other in (*record.before, *record.before_optional)
            if other in self.notifiers
        ]
        for other in self.refs.get(name, ()):
            them = self.notifiers[other]
            if name in them.after or name in them.after_optional:
                found.append(other)
        return found

    def reject_cycle(
        self, record: Notifier, preds: list[Edge], succs: list[Edge]
    ) -> None:
        """Raise CycleError if a successor of *record* reaches a predecessor.

        Every new edge touches *record*, so any new loop passes through it.
        The search is bounded by EAGER_CYCLE_BUDGET; order() settles the rest.
        """
        into = {edge.source: edge for edge in preds}
        if not into or not succs:
            return
        parent: dict[str, str | None] = {}
        queue: deque[str] = deque()
        for edge in succs:
            if edge.target not in parent:
                parent[edge.target] = None
                queue.append(edge.target)
        budget = EAGER_CYCLE_BUDGET
        while queue and budget:
            budget -= 1
            current = queue.popleft()
            if current in into:
                path = [current]
                while (up := parent[path[-1]]) is not None:
                    path.append(up)
                path.reverse()
                first = next(e for e in succs if e.target == path[0])
                inner = [
                    edge_between(self.notifiers, u, v)
                    for u, v in itertools.pairwise(path)
                ]
                raise CycleError(self.event, [first, *inner, into[current]])
            for other in self.successors(current):
                if other not in parent:
                    parent[other] = current
                    queue.append(other)

    def check_late(
        self,
        record: Notifier,
        edges: tuple[list[Edge], list[Edge]],
        progress: Mapping[str, Status],
        notifying: bool,
    ) -> None:
        """Refuse a late notifier whose place in the order has passed.

        *edges* are its (predecessor, successor) edges; *progress* holds the
        outcome of every notifier the one-shot event has called so far.

        Raises:
            UnknownNotifierError: A hard constraint names an absent notifier.
            LateRegistrationError: A successor was already called, or a
                predecessor has not run successfully.
        """
        preds, succs = edges
        for keyword in ("after", "before"):
            for other in getattr(record, keyword):
                if other not in self.notifiers:
                    raise unknown(self.event, other, self.notifiers, record, keyword)
        for edge in succs:
            status = progress.get(edge.target)
            if status is not None:
                reason = "already ran" if status is Status.RAN else "already failed"
                raise LateRegistrationError(self.event, record.name, edge, reason)
        for edge in preds:
            status = progress.get(edge.source)
            if status is not Status.RAN:
                if status is Status.FAILED:
                    reason = "failed"
                elif notifying:
                    reason = "has not run yet"
                else:
                    reason = "did not run"
                raise LateRegistrationError(self.event, record.name, edge, reason)


def _targets(record: Notifier) -> dict[str, None]:
    """Return every name *record*'s constraints mention, without repeats."""
    return dict.fromkeys(
        (*record.after, *record.before, *record.after_optional, *record.before_optional)
    )
