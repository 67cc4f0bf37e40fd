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

from virtmodel.notifiers.edges import Edge
from virtmodel.notifiers.errors import CycleError, LateRegistrationError
from virtmodel.notifiers.notifier import Notifier
from virtmodel.notifiers.plan import declared_edge, unknown
from virtmodel.notifiers.trace import Status

#: How many notifiers add() visits looking for a cycle before leaving the
#: question to order(), which always answers it. Keeps add() cheap.
EAGER_CYCLE_BUDGET: Final = 1000


@final
class Table:
    """Registered notifiers by name, in registration order, plus the reverse index."""

    __slots__ = ("event", "notifiers", "pred", "refs", "succ")

    def __init__(self, event: str) -> None:
        #: The event (registry) name, for errors.
        self.event = event
        #: Records by name, in registration order.
        self.notifiers: dict[str, Notifier] = {}
        #: Target name -> names of notifiers whose constraints mention it.
        self.refs: dict[str, dict[str, None]] = {}
        #: Registered edges both ways (name -> neighbours); absent means none.
        self.succ: dict[str, list[str]] = {}
        self.pred: dict[str, list[str]] = {}

    def insert(self, record: Notifier, preds: list[str], succs: list[str]) -> None:
        """Add *record*, checked new, with its :meth:`neighbours`."""
        name = record.name
        self.notifiers[name] = record
        for other in preds:
            self.succ.setdefault(other, []).append(name)
        for other in succs:
            self.pred.setdefault(other, []).append(name)
        if preds:
            self.pred[name] = preds
        if succs:
            self.succ[name] = succs
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
        for other in self.pred.pop(name, ()):
            _discard(self.succ, other, name)
        for other in self.succ.pop(name, ()):
            _discard(self.pred, other, name)
        return record

    def neighbours(self, record: Notifier) -> tuple[list[str], list[str]]:
        """Return the registered notifiers *record* would come after and before."""
        name, notifiers = record.name, self.notifiers
        preds = [o for o in (*record.after, *record.after_optional) if o in notifiers]
        succs = [o for o in (*record.before, *record.before_optional) if o in notifiers]
        for other in self.refs.get(name, ()):
            them = notifiers[other]
            if name in them.before or name in them.before_optional:
                preds.append(other)
            if name in them.after or name in them.after_optional:
                succs.append(other)
        return list(dict.fromkeys(preds)), list(dict.fromkeys(succs))

    def reject_cycle(
        self, record: Notifier, preds: list[str], succs: list[str]
    ) -> None:
        """Raise CycleError if a successor of *record* reaches a predecessor.

        Every new edge touches *record*, so any new loop passes through it.
        The search is bounded by EAGER_CYCLE_BUDGET; order() settles the rest.

        Raises:
            CycleError: The loop, starting and ending at *record*.
        """
        into = set(preds)
        if not into or not succs:
            return
        parent: dict[str, str | None] = dict.fromkeys(succs)
        queue = deque(parent)
        succ = self.succ
        budget = EAGER_CYCLE_BUDGET
        while queue and budget:
            budget -= 1
            current = queue.popleft()
            if current in into:
                path = [current]
                while (up := parent[path[-1]]) is not None:
                    path.append(up)
                loop = [record.name, *reversed(path), record.name]
                raise CycleError(
                    self.event,
                    [self._edge(record, u, v) for u, v in itertools.pairwise(loop)],
                )
            for other in succ.get(current, ()):
                if other not in parent:
                    parent[other] = current
                    queue.append(other)

    def _edge(self, record: Notifier, u: str, v: str) -> Edge:
        """Return the declared edge u -> v, where either may be the newcomer."""

        def get(name: str) -> Notifier:
            return record if name == record.name else self.notifiers[name]

        return declared_edge(get(u), get(v))

    def check_late(
        self,
        record: Notifier,
        edges: tuple[list[str], list[str]],
        progress: Mapping[str, Status],
        notifying: bool,
    ) -> None:
        """Refuse a late notifier whose place in the order has passed.

        *edges* are its (predecessor, successor) names; *progress* holds the
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
        for other in succs:
            status = progress.get(other)
            if status is not None:
                reason = "already ran" if status is Status.RAN else "already failed"
                edge = self._edge(record, record.name, other)
                raise LateRegistrationError(self.event, record.name, edge, reason)
        for other in preds:
            status = progress.get(other)
            if status is not Status.RAN:
                if status is Status.FAILED:
                    reason = "failed"
                elif notifying:
                    reason = "has not run yet"
                else:
                    reason = "did not run"
                edge = self._edge(record, other, record.name)
                raise LateRegistrationError(self.event, record.name, edge, reason)


def _targets(record: Notifier) -> dict[str, None]:
    """Return every name *record*'s constraints mention, without repeats."""
    return dict.fromkeys(
        (*record.after, *record.before, *record.after_optional, *record.before_optional)
    )


def _discard(adjacency: dict[str, list[str]], key: str, name: str) -> None:
    neighbours = adjacency[key]
    neighbours.remove(name)
    if not neighbours:
        del adjacency[key]
