"""What happened when an event was notified: :class:`Trace` and its steps.

A trace lists every notifier of the order with its status (``ran``,
``failed``, ``skipped`` because something it comes after failed, or
``not-run`` because the walk stopped), its declared constraints and how long
it took, plus the optional edges dropped because their target was absent.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, final

from virtmodel.notifiers.edges import DroppedEdge
from virtmodel.notifiers.notifier import Notifier


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
            **{k: list(v) for k, v in self.notifier.constraints.ordering().items()},
            "status": self.status.value,
            "duration": self.duration,
            "error": self.error,
            "late": self.late,
        }


@final
class Walk:
    """What a walk recorded, kept compact until someone reads the steps.

    The notify hot path stores one float per step (untracked by the cyclic
    GC) and a dict entry only for steps that did not simply run; steps past
    the end of ``durations`` were never attempted. The notifiers' records
    are asked for only when the steps are.
    """

    __slots__ = ("durations", "notifiers", "order", "outcomes")

    def __init__(
        self,
        notifiers: Callable[[], Mapping[str, Notifier]],
        order: Sequence[str],
    ) -> None:
        #: Returns the records of the walk's notifiers, by name.
        self.notifiers = notifiers
        #: The order walked.
        self.order = order
        #: Seconds per attempted step, in order.
        self.durations: list[float] = []
        #: Index -> (status, error) for steps that failed or were skipped.
        self.outcomes: dict[int, tuple[Status, str]] = {}

    def steps(self) -> list[Step]:
        """Return the recorded walk as :class:`Step` records."""
        ran, outcomes, durations = Status.RAN, self.outcomes, self.durations
        notifiers = self.notifiers()
        steps = []
        for index, name in enumerate(self.order):
            record = notifiers[name]
            if index >= len(durations):
                steps.append(Step(record, Status.NOT_RUN))
            elif index in outcomes:
                status, error = outcomes[index]
                steps.append(Step(record, status, durations[index], error))
            else:
                steps.append(Step(record, ran, durations[index]))
        return steps


@final
class Trace:
    """The record of one notification of an event, in run order."""

    __slots__ = ("_steps", "_walk", "dropped", "event")

    def __init__(
        self,
        event: str,
        steps: Iterable[Step] | Walk,
        dropped: tuple[DroppedEdge, ...] = (),
    ) -> None:
        #: The event (registry) name.
        self.event = event
        #: Optional edges left out because their target was not registered.
        self.dropped = dropped
        self._walk = steps if isinstance(steps, Walk) else None
        self._steps = None if isinstance(steps, Walk) else list(steps)

    @property
    def steps(self) -> list[Step]:
        """Return every step, in the order they were (or would have been) run."""
        if self._steps is None:
            assert self._walk is not None
            self._steps = self._walk.steps()
            self._walk = None
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
        if self._walk is not None:
            return len(self._walk.order)
        return len(self.steps)

    def __repr__(self) -> str:
        return f"<Trace {self.event!r} {len(self.steps)} steps>"

    def _repr_html_(self) -> str:
        # Jupyter: a table with failures highlighted (notifiers.display).
        from virtmodel.notifiers.display import trace_html

        return trace_html(self)

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
