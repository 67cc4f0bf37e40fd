"""The one reads/writes conflict analysis: who touches what another writes.

Notifiers may declare the resources they read and write (``reads=``,
``writes=``, e.g. ``kvm.its.addr``; a name ending in ``.*`` stands for a
family, ``device.*`` covering ``device.its``). Two notifiers *conflict* on a
resource when both touch it and at least one writes it. :func:`touches`
lists every such pair from the declarations alone, once; three checks read
it with the declared order:

- :func:`notifiers.hazards.find_hazards`: a reader not ordered after a
  writer, or two writers nothing orders (before anything runs);
- :func:`tie_break_pairs`: conflicting pairs only the registration-order
  tie-break orders;
- ``explore``'s partial-order reduction: two notifiers are *dependent* when
  they conflict, so orders differing only in the relative order of
  independent notifiers are one class, run once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, final

from virtmodel.notifiers.notifier import Notifier

if TYPE_CHECKING:
    import networkx as nx

    from virtmodel.notifiers.registry import NotifierRegistry


class Reachability(Protocol):
    """Whatever answers "do the declared edges run *first* before *second*?"."""

    def reaches(self, first: str, second: str) -> bool:
        """Return whether declared edges force *first* to run before *second*."""


@final
class Reach:
    """Reachability in a constraint graph, each node's descendants found once.

    Lazy, so a registry of 100,000 notifiers that declares a few resources
    pays only for the few notifiers that touch them.
    """

    __slots__ = ("_below", "graph")

    def __init__(self, graph: nx.DiGraph[str]) -> None:
        #: The constraint graph (u -> v: u runs before v).
        self.graph = graph
        self._below: dict[str, set[str]] = {}

    def reaches(self, first: str, second: str) -> bool:
        """Return whether declared edges force *first* to run before *second*."""
        below = self._below.get(first)
        if below is None:
            import networkx as nx

            below = self._below[first] = nx.descendants(self.graph, first)
        return second in below


@final
@dataclass(frozen=True, slots=True)
class Touch:
    """Two notifiers touching one resource, at least one of them writing it.

    ``first`` was registered before ``second``. With a family (``x.*``) on
    one side, ``resource`` is the other side's more specific name.
    """

    #: The notifier registered first.
    first: str
    #: The notifier registered second.
    second: str
    #: The resource both touch.
    resource: str
    #: Whether *first* writes it (else it only reads it).
    first_writes: bool
    #: Whether *first* reads it.
    first_reads: bool
    #: Whether *second* writes it (else it only reads it).
    second_writes: bool
    #: Whether *second* reads it.
    second_reads: bool


def overlap(a: str, b: str) -> str | None:
    """Return the resource names *a* and *b* share (the more specific), or None.

    ``x.*`` covers every name starting with ``x.``, families included.
    """
    if a == b:
        return a
    if a.endswith(".*") and b.startswith(a[:-1]):
        return b
    if b.endswith(".*") and a.startswith(b[:-1]):
        return a
    return None


def touches(notifiers: Iterable[Notifier]) -> list[Touch]:
    """Return every conflicting (pair, resource), by the pair's ranks, then name.

    Exact names meet through one index; only families are compared name by
    name, so the cost follows the number of touching pairs.
    """
    records = list(notifiers)
    rank = {record.name: index for index, record in enumerate(records)}
    users: dict[str, list[Notifier]] = {}
    for record in records:
        for resource in dict.fromkeys((*record.writes, *record.reads)):
            users.setdefault(resource, []).append(record)
    names = sorted(users)
    meetings = [(name, name) for name in names]
    families = [name for name in names if name.endswith(".*")]
    meetings += [
        (family, other)
        for family in families
        for other in names
        if other != family and overlap(family, other) is not None
    ]
    found: dict[tuple[str, str, str], Touch] = {}
    for x, y in meetings:
        shared = overlap(x, y)
        assert shared is not None
        for a in users[x]:
            for b in users[y]:
                if a is b or (x == y and rank[a.name] > rank[b.name]):
                    continue
                first, second, fx, sy = (a, b, x, y)
                if rank[a.name] > rank[b.name]:
                    first, second, fx, sy = (b, a, y, x)
                touch = Touch(
                    first.name,
                    second.name,
                    shared,
                    fx in first.writes,
                    fx in first.reads,
                    sy in second.writes,
                    sy in second.reads,
                )
                if touch.first_writes or touch.second_writes:
                    key = (first.name, second.name, shared)
                    found[key] = _merge(found.get(key), touch)
    return sorted(
        found.values(), key=lambda t: (rank[t.first], rank[t.second], t.resource)
    )


def _merge(old: Touch | None, new: Touch) -> Touch:
    """Return one touch for a resource reached through several names."""
    if old is None:
        return new
    return Touch(
        new.first,
        new.second,
        new.resource,
        old.first_writes or new.first_writes,
        old.first_reads or new.first_reads,
        old.second_writes or new.second_writes,
        old.second_reads or new.second_reads,
    )


def dependent_pairs(touched: Iterable[Touch]) -> list[tuple[str, str]]:
    """Return the pairs that conflict on at least one resource, each once."""
    return list(dict.fromkeys((touch.first, touch.second) for touch in touched))


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

    def flipped(self) -> Conflict:
        """Return the same conflict seen from *second*."""
        swapped = tuple((r, theirs, mine) for r, mine, theirs in self.resources)
        return Conflict(self.second, self.first, swapped)

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


def unordered_conflicts(
    touched: Sequence[Touch], reach: Reachability
) -> list[Conflict]:
    """Return the conflicting pairs *reach* leaves unordered, by their ranks.

    Each pair is given in registration order (``first`` registered earlier),
    its resources sorted.
    """
    grouped: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    ordered: dict[tuple[str, str], bool] = {}
    for touch in touched:
        pair = (touch.first, touch.second)
        if pair not in ordered:
            ordered[pair] = reach.reaches(*pair) or reach.reaches(pair[1], pair[0])
        if not ordered[pair]:
            uses = (touch.resource, _use(touch.first_writes), _use(touch.second_writes))
            grouped.setdefault(pair, []).append(uses)
    return [Conflict(a, b, tuple(uses)) for (a, b), uses in grouped.items()]


def _use(writes: bool) -> str:
    return "writes" if writes else "reads"


def in_order(conflict: Conflict, position: Mapping[str, int]) -> Conflict:
    """Return *conflict* with its pair as the order of *position* runs it."""
    if position[conflict.first] < position[conflict.second]:
        return conflict
    return conflict.flipped()


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
    position = {name: i for i, name in enumerate(order)}
    reach = Reach(registry.graph())
    pairs = [
        in_order(conflict, position)
        for conflict in unordered_conflicts(touches(registry.notifiers()), reach)
    ]
    pairs.sort(key=lambda pair: (position[pair.first], position[pair.second]))
    return pairs
