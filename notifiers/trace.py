"""What happened when an event was notified: :class:`Trace` and its steps.

A trace lists every notifier of the order with its status (``ran``,
``failed``, ``skipped`` because something it comes after failed, or
``not-run`` because the walk stopped), its declared constraints and how long
it took, plus the optional edges dropped because their target was absent.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias, final

from notifiers.edges import DroppedEdge
from notifiers.notifier import Notifier


class Status(enum.Enum):
    """The outcome of one step."""

    RAN = "ran"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_RUN = "not-run"


@final
@dataclass(frozen=True, slots=True)
class Step:
    """One notifier's outcome within a :class:`Trace`."""

    #: The notifier (name, constraints, callback, location).
    notifier: Notifier
    #: What happened.
    status: Status
    #: Seconds spent in the callback (0.0 if it was not called).
    duration: float = 0.0
    #: ``repr()`` of the exception it raised, or why it was skipped.
    error: str | None = None
    #: Whether it ran on registration, after the one-shot event had fired.
    late: bool = False

    @property
    def name(self) -> str:
        """Return the notifier's name."""
        return self.notifier.name

    @property
    def constraints(self) -> str:
        """Return the declared constraints, e.g. ``after='a'`` (``-`` if none)."""
        return self.notifier.describe_constraints()

    def as_dict(self) -> dict[str, Any]:
        """Return the step as a JSON-serialisable dict."""
        return {
            "name": self.notifier.name,
            **{k: list(v) for k, v in self.notifier.constraints().items()},
            "status": self.status.value,
            "duration": self.duration,
            "error": self.error,
            "late": self.late,
        }


#: A step as a plain tuple: (notifier, status[, duration[, error[, late]]]).
Row: TypeAlias = tuple[Any, ...]


@final
class Trace:
    """The record of one notification of an event, in run order."""

    __slots__ = ("_rows", "_steps", "dropped", "event")

    def __init__(
        self,
        event: str,
        steps: Iterable[Step | Row],
        dropped: tuple[DroppedEdge, ...] = (),
    ) -> None:
        #: The event (registry) name.
        self.event = event
        #: Optional edges left out because their target was not registered.
        self.dropped = dropped
        # Steps may arrive as plain rows (the notify hot path); they become
        # Step records on first access to `steps`.
        self._rows = list(steps)
        self._steps: list[Step] | None = None

    @property
    def steps(self) -> list[Step]:
        """Return every step, in the order they were (or would have been) run."""
        if self._steps is None:
            self._steps = [
                row if isinstance(row, Step) else Step(*row) for row in self._rows
            ]
            self._rows = []
        return self._steps

    def names(self, status: str | Status) -> list[str]:
        """Return the names of the steps with *status* ("ran", "failed", ...)."""
        wanted = Status(status)
        return [step.name for step in self.steps if step.status is wanted]

    @property
    def ok(self) -> bool:
        """Return whether every step ran."""
        return all(step.status is Status.RAN for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        """Return the trace as a JSON-serialisable dict."""
        return {
            "event": self.event,
            "steps": [step.as_dict() for step in self.steps],
            "dropped": [edge.as_dict() for edge in self.dropped],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Return :meth:`as_dict` as JSON text."""
        return json.dumps(self.as_dict(), indent=indent)

    def __len__(self) -> int:
        return len(self._steps if self._steps is not None else self._rows)

    def __repr__(self) -> str:
        return f"<Trace {self.event!r} {len(self.steps)} steps>"

    def __str__(self) -> str:
        rows = [("#", "notifier", "status", "time", "constraints", "error")]
        for position, step in enumerate(self.steps, 1):
            status = step.status.value + (" (late)" if step.late else "")
            took = f"{step.duration * 1e3:.3f} ms" if step.duration else "-"
            error = step.error or ""
            rows.append(
                (str(position), step.name, status, took, step.constraints, error)
            )
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = [f"trace of {self.event!r}: {len(self.steps)} steps"]
        for row in rows:
            cells = [
                cell.ljust(width) for cell, width in zip(row, widths, strict=False)
            ]
            lines.append(("  " + "  ".join([*cells, row[5]])).rstrip())
        if self.dropped:
            lines.append("dropped optional edges:")
            lines.extend(f"  {edge}" for edge in self.dropped)
        return "\n".join(lines)
