"""Declared ordering edges and their provenance.

An edge ``u -> v`` means *u runs before v*. It is declared either by ``v``
(``after=u``) or by ``u`` (``before=v``); the declaring notifier and the
file:line of its ``add``/``register`` call travel with the edge so that cycle
errors, explanations and graphs can say who asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, final

#: Constraint keywords in the order they are checked for provenance.
KEYWORDS: Final = ("after", "before", "after_optional", "before_optional")


@final
@dataclass(frozen=True, slots=True)
class Edge:
    """One declared edge: ``source`` runs before ``target``."""

    #: The notifier that runs first.
    source: str
    #: The notifier that runs second.
    target: str
    #: The notifier whose declaration created the edge.
    declared_by: str
    #: The keyword it used: "after", "before", "after_optional" or "before_optional".
    keyword: str
    #: Where it was declared ("file:line" of the add/register call).
    location: str

    @property
    def optional(self) -> bool:
        """Return whether the edge came from an ``*_optional`` declaration."""
        return self.keyword.endswith("_optional")

    def describe(self) -> str:
        """Return e.g. ``'b' after='a' (at f.py:3)``: who said what, where."""
        other = self.source if self.declared_by == self.target else self.target
        return f"{self.declared_by!r} {self.keyword}={other!r} (at {self.location})"

    def __str__(self) -> str:
        return f"{self.source!r} -> {self.target!r}: {self.describe()}"

    def as_dict(self) -> dict[str, Any]:
        """Return the edge as a JSON-serialisable dict."""
        return {
            "source": self.source,
            "target": self.target,
            "declared_by": self.declared_by,
            "keyword": self.keyword,
            "location": self.location,
        }


@final
@dataclass(frozen=True, slots=True)
class DroppedEdge:
    """An optional edge left out because its target is not registered."""

    #: The notifier that declared it.
    declared_by: str
    #: The absent notifier it named.
    target: str
    #: "after_optional" or "before_optional".
    keyword: str
    #: Where it was declared ("file:line").
    location: str

    def __str__(self) -> str:
        return (
            f"{self.declared_by!r} {self.keyword}={self.target!r} dropped: "
            f"{self.target!r} is not registered (declared at {self.location})"
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the dropped edge as a JSON-serialisable dict."""
        return {
            "declared_by": self.declared_by,
            "target": self.target,
            "keyword": self.keyword,
            "location": self.location,
        }
