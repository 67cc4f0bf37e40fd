"""The report of one exploration: :class:`Exploration`.

It groups the orders run by their outcome (the registration order's outcome
first), lists the culprit pairs found, and reads as a short lesson when
printed: what was run, whether the order mattered, and what to declare.
Its text never depends on timing or on ``PYTHONHASHSEED``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, final

from virtmodel.notifiers.errors import quote_names
from virtmodel.notifiers.explore.culprit import Culprit
from virtmodel.notifiers.explore.orders import Order
from virtmodel.notifiers.explore.outcome import Outcome

#: How many culprit pairs one exploration looks for before it stops.
MAX_CULPRITS: Final = 5

#: What a proof by classes rests on, said whenever one is claimed.
SOUND_IF: Final = (
    "(a proof if every notifier touches only what it declares: a strict "
    "machine checks that)"
)

#: How many names of an example order the text shows before eliding.
SHOWN_NAMES: Final = 12


@final
@dataclass(frozen=True, eq=False)
class Exploration:
    """The outcomes of a phase run under many valid orders, and the culprits."""

    #: The event (registry) explored.
    event: str
    #: How many notifiers the phase has.
    notifiers: int
    #: How many distinct orders the exploration ran (shrinking not counted).
    orders_run: int
    #: Whether those were all the valid orders (else a seeded sample).
    exhaustive: bool
    #: The most orders to run (sampling mode may exceed it by mandatory orders).
    limit: int
    #: The seed of the random part of the sample.
    seed: int
    #: The order ``notify()`` uses: registration-order tie-break.
    reference_order: Order
    #: Each outcome with the orders that gave it; the reference outcome first.
    outcomes: dict[Outcome, list[Order]]
    #: The culprit pairs, in the order they were found.
    culprits: tuple[Culprit, ...]
    #: How many times build() was called (one per order, shrinking included).
    builds: int
    #: Wall-clock seconds the whole exploration took.
    elapsed: float
    #: With partial-order reduction, how many classes of equivalent orders
    #: were found (each run once); None when every order was its own class.
    classes: int | None = None

    @property
    def reduced(self) -> bool:
        """Return whether one order per class of equivalent orders ran."""
        return self.classes is not None

    @property
    def order_independent(self) -> bool:
        """Return whether every order run gave the same outcome."""
        return len(self.outcomes) <= 1

    @property
    def reference(self) -> Outcome:
        """Return the outcome of the registration order."""
        return next(iter(self.outcomes))

    def _scope(self) -> str:
        notifiers = f"{self.notifiers} notifier{'' if self.notifiers == 1 else 's'}"
        if self.classes is not None:
            return self._classes_scope(self.classes, notifiers)
        if self.exhaustive and self.orders_run == 1:
            return f"the only valid order of {notifiers} (exhaustive)"
        if self.exhaustive:
            return f"all {self.orders_run} valid orders of {notifiers} (exhaustive)"
        return (
            f"{self.orders_run} sampled orders of {notifiers} "
            f"(more than limit={self.limit} are valid; seed {self.seed})"
        )

    def _classes_scope(self, classes: int, notifiers: str) -> str:
        runs = f"{self.orders_run} run{'' if self.orders_run == 1 else 's'}"
        if not self.exhaustive:
            return (
                f"{runs} of more than limit={self.limit} classes of equivalent "
                f"orders of {notifiers} (not exhaustive)"
            )
        kind = "class" if classes == 1 else "classes"
        return (
            f"{classes} {kind} of equivalent orders of {notifiers}, {runs} "
            "(exhaustive: orders differing only in independent notifiers, by "
            "their declared reads/writes, give the same outcome)"
        )

    def _runs_word(self) -> str:
        return "classes" if self.reduced else "orders"

    def __str__(self) -> str:
        lines = [f"explored {self.event!r}: {self._scope()}"]
        if self.orders_run == 1:
            if self.reduced and self.exhaustive:
                lines.append(f"every valid order is equivalent: {self.reference}")
                lines.append(SOUND_IF)
            else:
                lines.append(f"one order, one outcome: {self.reference}")
            return "\n".join(lines)
        if self.order_independent:
            lines.append(
                f"every one of {self.orders_run} {self._runs_word()} gives the same "
                f"outcome: {self.reference}"
            )
            if not self.exhaustive:
                lines.append(
                    "a sample is evidence, not proof: raise limit= or declare "
                    "reads=/writes= so the sample covers each conflicting pair"
                )
            elif self.reduced:
                lines.append(SOUND_IF)
            return "\n".join(lines)
        lines.append(
            f"the order matters: {self.orders_run} {self._runs_word()} give "
            f"{len(self.outcomes)} different outcomes"
        )
        for index, (outcome, orders) in enumerate(self.outcomes.items(), 1):
            if index == 1:
                which = "the registration order"
                if len(orders) > 1:
                    which += f" and {len(orders) - 1} more"
            else:
                example = quote_names(orders[0], SHOWN_NAMES)
                which = f"{len(orders)} {self._runs_word()}, e.g. {example}"
            lines.append(f"  outcome {index} ({which}): {outcome}")
        lines.extend(self._same_failure_notes())
        for index, culprit in enumerate(self.culprits, 1):
            lines.append(f"culprit {index}: {culprit}")
        # explore() finds at least one culprit whenever outcomes differ.
        fixes = "this declaration" if len(self.culprits) == 1 else "these"
        lines.append(f"add {fixes} and explore again to confirm")
        if len(self.culprits) >= MAX_CULPRITS:
            lines.append(
                f"(explore stops after {MAX_CULPRITS} culprits: there may be more)"
            )
        return "\n".join(lines)

    def _same_failure_notes(self) -> list[str]:
        """Explain outcomes that fail alike and differ only in state."""
        groups: dict[object, list[int]] = {}
        for index, outcome in enumerate(self.outcomes, 1):
            if not outcome.ok:
                groups.setdefault(outcome.failures, []).append(index)
        notes = []
        for indexes in groups.values():
            if len(indexes) > 1:
                listed = ", ".join(str(index) for index in indexes)
                notes.append(
                    f"  (outcomes {listed} fail alike: a failure stops the phase, "
                    "so the state left depends on what ran before it)"
                )
        return notes

    def _repr_html_(self) -> str:
        # Jupyter: outcomes and culprits as tables (notifiers.display).
        from virtmodel.notifiers.display import exploration_html

        return exploration_html(self)

    def as_dict(self) -> dict[str, Any]:
        """Return the exploration as a JSON-serialisable dict."""
        return {
            "event": self.event,
            "notifiers": self.notifiers,
            "orders_run": self.orders_run,
            "exhaustive": self.exhaustive,
            "limit": self.limit,
            "seed": self.seed,
            "order_independent": self.order_independent,
            "reference_order": list(self.reference_order),
            "outcomes": [
                {
                    "outcome": outcome.as_dict(),
                    "count": len(orders),
                    "example": list(orders[0]),
                }
                for outcome, orders in self.outcomes.items()
            ],
            "culprits": [culprit.as_dict() for culprit in self.culprits],
            "builds": self.builds,
            "elapsed": self.elapsed,
            "classes": self.classes,
        }
