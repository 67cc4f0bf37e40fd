"""Static resource checks: readers ordered after writers, writers ordered.

Notifiers may declare ``reads=``/``writes=`` resource names (e.g.
``kvm.its.addr``, or a family ``device.*``). Before anything runs,
:func:`find_hazards` reads the conflict analysis of :mod:`notifiers.conflicts`
and lists every reader not ordered after a writer of what it reads (no path
writer -> reader in the constraint graph) and every pair of writers of one
resource that nothing orders; each hazard says which ``after=`` would fix it.

When something else decides the order (an imposed plan, see
:mod:`notifiers.imposed`), a reader declared after its writer but run before
it is a hazard too ("runs-before-write"): the declaration is right, the order
that runs ignores it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, final

from virtmodel.notifiers.conflicts import Reach, touches
from virtmodel.notifiers.plan import Plan


@final
@dataclass(frozen=True, slots=True)
class Hazard:
    """One ordering hole on a resource.

    Kinds: "unordered-read" (reader and writer unordered), "read-before-write"
    (reader ordered *before* the writer), "runs-before-write" (reader declared
    after the writer, but the order that runs puts it first) and
    "write-write" (two writers unordered).
    """

    #: "unordered-read", "read-before-write", "runs-before-write" or "write-write".
    kind: str
    #: The resource name.
    resource: str
    #: A notifier that writes the resource.
    writer: str
    #: The reader (or, for "write-write", the other writer).
    other: str
    #: Where the writer was declared ("file:line").
    writer_location: str
    #: Where the other notifier was declared ("file:line").
    other_location: str

    @property
    def fix(self) -> str:
        """Return the declaration that would close the hole."""
        if self.kind == "read-before-write":
            return (
                f"remove what orders {self.other!r} before {self.writer!r}, "
                f"then add after={self.writer!r} to {self.other!r}"
            )
        if self.kind == "runs-before-write":
            return (
                f"run the declared order, which puts {self.writer!r} before "
                f"{self.other!r}"
            )
        return f"add after={self.writer!r} to {self.other!r}"

    def __str__(self) -> str:
        writer = f"{self.writer!r} (at {self.writer_location})"
        other = f"{self.other!r} (at {self.other_location})"
        if self.kind == "write-write":
            problem = f"{writer} and {other} both write it and nothing orders them"
        elif self.kind == "runs-before-write":
            problem = (
                f"{other} reads it and runs before writer {writer}, "
                "although it is declared after it"
            )
        elif self.kind == "read-before-write":
            problem = f"{other} reads it but is ordered before writer {writer}"
        else:
            problem = f"{other} reads it but nothing orders it after writer {writer}"
        return f"{self.kind} on {self.resource!r}: {problem}; fix: {self.fix}"

    def _repr_html_(self) -> str:
        # Jupyter: one row of the hazards table (notifiers.display).
        from virtmodel.notifiers.display import hazards_html

        return hazards_html([self])

    def as_dict(self) -> dict[str, Any]:
        """Return the hazard as a JSON-serialisable dict."""
        return {
            "kind": self.kind,
            "resource": self.resource,
            "writer": self.writer,
            "other": self.other,
            "writer_location": self.writer_location,
            "other_location": self.other_location,
            "fix": self.fix,
        }


def find_hazards(plan: Plan) -> list[Hazard]:
    """Return the hazards of *plan*, by resource name, then registration order.

    Read from the one conflict analysis (:func:`notifiers.conflicts.touches`):
    for each pair touching a resource, a writer not ordered before a reader
    (or declared before it but run after it, in an imposed order), and two
    writers ordered neither way.
    """
    reach = Reach(plan.graph)
    rank = {name: index for index, name in enumerate(plan.notifiers)}
    found: list[tuple[tuple[str, int, int, int], Hazard]] = []

    def hazard(kind: str, resource: str, writer: str, other: str) -> None:
        notifiers = plan.notifiers
        group = 1 if kind == "write-write" else 0
        first, second = (writer, other) if group else (other, writer)
        key = (resource, group, rank[first], rank[second])
        record = Hazard(
            kind,
            resource,
            writer,
            other,
            notifiers[writer].location,
            notifiers[other].location,
        )
        found.append((key, record))

    for touch in touches(plan.notifiers.values()):
        a, b, resource = touch.first, touch.second, touch.resource
        if touch.first_writes and touch.second_reads:
            _read(hazard, plan, reach, (resource, a, b))
        if touch.second_writes and touch.first_reads:
            _read(hazard, plan, reach, (resource, b, a))
        both_write = touch.first_writes and touch.second_writes
        if both_write and not reach.reaches(a, b) and not reach.reaches(b, a):
            hazard("write-write", resource, a, b)
    found.sort(key=lambda item: item[0])
    return [record for _, record in found]


def _read(
    hazard: Callable[[str, str, str, str], None],
    plan: Plan,
    reach: Reach,
    use: tuple[str, str, str],
) -> None:
    """Report the reader of *use* = (resource, writer, reader) if it is at risk."""
    resource, writer, reader = use
    if reach.reaches(writer, reader):
        if plan.position(reader) < plan.position(writer):
            hazard("runs-before-write", resource, writer, reader)
        return
    kind = "read-before-write" if reach.reaches(reader, writer) else "unordered-read"
    hazard(kind, resource, writer, reader)
