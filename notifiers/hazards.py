"""Static resource checks: readers ordered after writers, writers ordered.

Notifiers may declare ``reads=``/``writes=`` resource names (e.g.
``kvm.its.addr``). Before anything runs, :func:`find_hazards` lists every
reader not ordered after a writer of what it reads (no path writer -> reader
in the constraint graph) and every pair of writers of one resource that
nothing orders; each hazard says which ``after=`` would fix it.

When something else decides the order (an imposed plan, see
:mod:`notifiers.imposed`), a reader declared after its writer but run before
it is a hazard too ("runs-before-write"): the declaration is right, the order
that runs ignores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, final

import networkx as nx

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
    """Return the hazards of *plan*, by resource name, then registration order."""
    readers: dict[str, list[str]] = {}
    writers: dict[str, list[str]] = {}
    for record in plan.notifiers.values():
        for resource in record.reads:
            readers.setdefault(resource, []).append(record.name)
        for resource in record.writes:
            writers.setdefault(resource, []).append(record.name)
    reach: dict[str, set[str]] = {}

    def reaches(u: str, v: str) -> bool:
        if u not in reach:
            reach[u] = nx.descendants(plan.graph, u)
        return v in reach[u]

    def hazard(kind: str, resource: str, writer: str, other: str) -> Hazard:
        location = plan.notifiers[writer].location
        return Hazard(
            kind, resource, writer, other, location, plan.notifiers[other].location
        )

    found: list[Hazard] = []
    for resource in sorted(writers):
        wrote = writers[resource]
        for reader in readers.get(resource, ()):
            for writer in wrote:
                if writer == reader:
                    continue
                if reaches(writer, reader):
                    if plan.position(reader) < plan.position(writer):
                        found.append(
                            hazard("runs-before-write", resource, writer, reader)
                        )
                    continue
                kind = (
                    "read-before-write" if reaches(reader, writer) else "unordered-read"
                )
                found.append(hazard(kind, resource, writer, reader))
        for index, first in enumerate(wrote):
            for second in wrote[index + 1 :]:
                if not reaches(first, second) and not reaches(second, first):
                    found.append(hazard("write-write", resource, first, second))
    return found
