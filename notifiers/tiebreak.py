"""Pairs whose order only the registration-order tie-break decides.

Two notifiers *conflict* when they touch a declared resource and at least
one of them writes it (``reads=``/``writes=``). When nothing in the
constraint graph orders a conflicting pair, the order they run in is an
accident of who registered first: :func:`tie_break_pairs` lists those pairs
for a registry, and :func:`conflicting_pairs` feeds explore's sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, final

from virtmodel.notifiers.notifier import Notifier
from virtmodel.notifiers.orders import Poset

if TYPE_CHECKING:
    from virtmodel.notifiers.registry import NotifierRegistry


@final
@dataclass(frozen=True, slots=True)
class Conflict:
    """A pair of notifiers that touch the same resources, one writing."""

    #: The notifier that runs first now.
    first: str
    #: The notifier that runs second now.
    second: str
    #: Each shared resource with how each side uses it, e.g.
    #: ``("kvm.its.addr", "writes", "reads")``; sorted by resource.
    resources: tuple[tuple[str, str, str], ...]

    @property
    def pair(self) -> tuple[str, str]:
        """Return ``(first, second)``."""
        return (self.first, self.second)

    def describe_resources(self) -> str:
        """Return e.g. ``'r' ('a' writes, 'b' reads)`` for each resource."""
        return ", ".join(
            f"{resource!r} ({self.first!r} {mine}, {self.second!r} {theirs})"
            for resource, mine, theirs in self.resources
        )

    def __str__(self) -> str:
        return (
            f"nothing orders {self.first!r} and {self.second!r}: only the "
            f"registration-order tie-break runs {self.first!r} first, yet both "
            f"touch {self.describe_resources()}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the pair as a JSON-serialisable dict."""
        return {
            "first": self.first,
            "second": self.second,
            "resources": [
                {"resource": resource, "first": mine, "second": theirs}
                for resource, mine, theirs in self.resources
            ],
        }


def _use(record: Notifier, resource: str) -> str:
    return "writes" if resource in record.writes else "reads"


def conflicting_pairs(notifiers: Iterable[Notifier], poset: Poset) -> list[Conflict]:
    """Return the conflicting pairs that *poset* leaves unordered.

    Each pair is given in registration order (``first`` registered earlier);
    the list is sorted by the ranks of the pair.
    """
    records = {record.name: record for record in notifiers}
    touching: dict[str, list[str]] = {}
    for record in records.values():
        for resource in dict.fromkeys((*record.writes, *record.reads)):
            touching.setdefault(resource, []).append(record.name)
    shared: dict[tuple[str, str], set[str]] = {}
    for resource, names in touching.items():
        for index, a in enumerate(names):
            a_writes = resource in records[a].writes
            for b in names[index + 1 :]:
                if not a_writes and resource not in records[b].writes:
                    continue
                if not poset.ordered(a, b):
                    shared.setdefault((a, b), set()).add(resource)
    rank = poset.rank
    found = []
    for (a, b), resources in sorted(
        shared.items(), key=lambda item: (rank[item[0][0]], rank[item[0][1]])
    ):
        uses = tuple(
            (resource, _use(records[a], resource), _use(records[b], resource))
            for resource in sorted(resources)
        )
        found.append(Conflict(a, b, uses))
    return found


def in_order(conflict: Conflict, order: Sequence[str]) -> Conflict:
    """Return *conflict* with its pair as *order* runs it."""
    position = {name: i for i, name in enumerate(order)}
    if position[conflict.first] < position[conflict.second]:
        return conflict
    flipped = tuple((r, theirs, mine) for r, mine, theirs in conflict.resources)
    return Conflict(conflict.second, conflict.first, flipped)


def tie_break_pairs(registry: NotifierRegistry[...]) -> list[Conflict]:
    """Return the conflicting pairs that run in order only by the tie-break.

    A pair qualifies when both touch a declared resource, at least one writes
    it, and no chain of ``after=``/``before=`` orders them: their order then
    comes from registration order alone. Each :class:`Conflict` is given as
    the registry runs it now, sorted by the position of ``first``.

    Raises:
        UnknownNotifierError: A hard constraint names an absent notifier.
        CycleError: The constraints form a loop.
    """
    order = registry.order()
    poset = Poset(registry.graph(), order)
    position = {name: i for i, name in enumerate(order)}
    pairs = [
        in_order(conflict, order)
        for conflict in conflicting_pairs(registry.notifiers(), poset)
    ]
    pairs.sort(key=lambda pair: (position[pair.first], position[pair.second]))
    return pairs
