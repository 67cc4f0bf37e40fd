"""Shrinking two orders with different outcomes to the pair that decides it.

Walk from the reference order to a differing one by adjacent swaps of
neighbours the graph leaves unordered (every step is a valid order, see
:func:`notifiers.orders.swap_path`), and binary-search the walk for the one
swap where the outcome leaves the reference: those two notifiers are the
culprit pair. :class:`Culprit` reports both runs and the ``after=`` that fixes
the order, pointing at the ``add()`` to edit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, final

from virtmodel.notifiers.conflicts import Conflict
from virtmodel.notifiers.explore.orders import Order, apply_swaps, swap_path
from virtmodel.notifiers.explore.outcome import Outcome
from virtmodel.notifiers.notifier import Notifier


@final
@dataclass(frozen=True, slots=True)
class Culprit:
    """Two unordered notifiers whose relative order decides the outcome.

    ``first``/``second`` is the suggested order: the one whose outcome has no
    failure, or, when both or neither fail, the registration order's outcome.
    """

    #: The notifier that should run first.
    first: str
    #: The notifier that should run second (it gets the ``after=``).
    second: str
    #: The outcome when *first* runs before *second*.
    outcome_first_then_second: Outcome
    #: The outcome when *second* runs before *first*.
    outcome_second_then_first: Outcome
    #: A valid order with *first* just before *second*.
    order_first_then_second: Order
    #: The same order with the two swapped.
    order_second_then_first: Order
    #: Whether *first* before *second* gives the registration order's outcome
    #: (with the fixes of earlier culprits applied, if any).
    matches_reference: bool
    #: The ``after=`` *second* declares today plus earlier culprits' fixes.
    second_after: tuple[str, ...]
    #: Where *second* was added ("file:line"): the line to edit.
    location: str
    #: Where *first* was added ("file:line").
    first_location: str
    #: The declared resources both touch, if any (how each uses them).
    conflict: Conflict | None = None
    #: The fixes of earlier culprits, assumed while this one was sought.
    assumed: tuple[tuple[str, str], ...] = ()

    @property
    def pair(self) -> tuple[str, str]:
        """Return ``(first, second)``."""
        return (self.first, self.second)

    @property
    def fix(self) -> str:
        """Return the declaration that fixes the order, with where to write it."""
        after = (*self.second_after, self.first)
        spelled = repr(after[0]) if len(after) == 1 else repr(after)
        return f"add({self.second!r}, ..., after={spelled}) at {self.location}"

    def __str__(self) -> str:
        reference = " (as in the registration order"
        reference += " with the fixes above)" if self.assumed else ")"
        good = reference if self.matches_reference else ""
        bad = "" if self.matches_reference else reference
        lines = [
            f"nothing orders {self.first!r} and {self.second!r}, "
            "yet their relative order decides the outcome:",
            f"  {self.first!r} before {self.second!r}: "
            f"{self.outcome_first_then_second}{good}",
            f"  {self.second!r} before {self.first!r}: "
            f"{self.outcome_second_then_first}{bad}",
        ]
        if self.conflict is not None:
            lines.append(f"  both touch {self.conflict.describe_resources()}")
        lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Return the culprit as a JSON-serialisable dict."""
        return {
            "first": self.first,
            "second": self.second,
            "outcome_first_then_second": self.outcome_first_then_second.as_dict(),
            "outcome_second_then_first": self.outcome_second_then_first.as_dict(),
            "order_first_then_second": list(self.order_first_then_second),
            "order_second_then_first": list(self.order_second_then_first),
            "matches_reference": self.matches_reference,
            "fix": self.fix,
            "location": self.location,
            "first_location": self.first_location,
            "conflict": None if self.conflict is None else self.conflict.as_dict(),
            "assumed": [list(edge) for edge in self.assumed],
        }


def shrink(
    run: Callable[[Order], Outcome],
    reference: Order,
    other: Order,
    *,
    failures_only: bool = False,
) -> tuple[Order, Order]:
    """Return two valid orders one adjacent swap apart whose outcomes differ.

    The first has *reference*'s outcome, the second does not (comparing only
    the failures with *failures_only*). *other* must differ from *reference*
    that way; both must be valid orders. ``run`` is called O(log k) times
    for a walk of k swaps.
    """
    expected = run(reference)

    def alike(order: Order) -> bool:
        outcome = run(order)
        if failures_only:
            return outcome.failures == expected.failures
        return outcome == expected

    swaps = swap_path(reference, other)
    # Invariant: step `low` is alike, step `high` is not.
    low, high = 0, len(swaps)
    while high - low > 1:
        middle = (low + high) // 2
        if alike(apply_swaps(reference, swaps[:middle])):
            low = middle
        else:
            high = middle
    before = apply_swaps(reference, swaps[:low])
    return before, apply_swaps(before, swaps[low:high])


def blame(
    notifiers: dict[str, Notifier],
    orders: tuple[Order, Order],
    outcomes: tuple[Outcome, Outcome],
    conflict: Conflict | None,
    assumed: tuple[tuple[str, str], ...] = (),
) -> Culprit:
    """Return the culprit of two orders one swap apart, fix direction chosen.

    ``orders[0]`` has the reference outcome ``outcomes[0]``; the fix keeps it
    unless only the other order runs without failure. *assumed* are edges
    (earlier fixes) the search took as declared.
    """
    same, swapped = orders
    at = next(i for i, (a, b) in enumerate(zip(same, swapped, strict=True)) if a != b)
    u, v = same[at], same[at + 1]
    keep = outcomes[0].ok or not outcomes[1].ok
    if keep:
        first, second = u, v
        good, bad = outcomes
    else:
        first, second = v, u
        bad, good = outcomes
        same, swapped = swapped, same
    if conflict is not None and conflict.first != first:
        flipped = tuple((r, theirs, mine) for r, mine, theirs in conflict.resources)
        conflict = Conflict(first, second, flipped)
    return Culprit(
        first=first,
        second=second,
        outcome_first_then_second=good,
        outcome_second_then_first=bad,
        order_first_then_second=same,
        order_second_then_first=swapped,
        matches_reference=keep,
        second_after=(
            *notifiers[second].after,
            *(
                u
                for u, v in assumed
                if v == second and u not in notifiers[second].after
            ),
        ),
        location=notifiers[second].location,
        first_location=notifiers[first].location,
        conflict=conflict,
        assumed=assumed,
    )
