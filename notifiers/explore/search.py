"""Run a phase under its valid orders and find the pair whose order matters.

:func:`explore` calls ``build()`` for fresh state, runs the phase with
``notify_in_order`` and compares outcomes (failures plus a state
fingerprint). When the notifiers declare what they read and write, it runs
one order per class of equivalent orders (partial-order reduction, see
:mod:`.classes`): that is exhaustive, a proof, provided every notifier
touches only what it declares (what a strict machine enforces). Otherwise,
with at most ``limit`` valid orders it runs them all; beyond that it runs a
seeded sample that always holds the registration order, the reverse-tie
order and both orders of every unordered pair sharing a declared resource.
Differing outcomes are shrunk to culprit pairs (see :mod:`.culprit`); each
pair found is pinned virtually and the search repeats, so independent
culprits are all reported (up to a bound).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Final

from virtmodel.notifiers.conflicts import (
    Conflict,
    Touch,
    dependent_pairs,
    touches,
    unordered_conflicts,
)
from virtmodel.notifiers.explore.classes import ClassTree, canonical, count
from virtmodel.notifiers.explore.culprit import Culprit, blame, shrink
from virtmodel.notifiers.explore.exploration import MAX_CULPRITS, Exploration
from virtmodel.notifiers.explore.orders import Order, Poset, distance, respects
from virtmodel.notifiers.explore.outcome import Outcome
from virtmodel.notifiers.explore.runs import Built, ExploreError, Runs
from virtmodel.notifiers.notifier import Notifier

__all__ = ["Built", "ExploreError", "Progress", "explore"]

#: Random draws allowed per order still missing from a sample.
RANDOM_ATTEMPTS: Final = 20

#: Told after each run: (runs done, runs known to be needed so far).
Progress = Callable[[int, int], object]


def explore(
    build: Callable[[], Built],
    *,
    check: Callable[..., object] | None = None,
    limit: int = 1000,
    seed: int = 0,
    reduce: bool = True,
    progress: Progress | None = None,
) -> Exploration:
    """Run the phase *build* returns under its valid orders and compare.

    ``build()`` must return a fresh registry and its notify arguments each
    call. ``check(*args)``, run after each order, fingerprints the state
    (dicts and sets compare by content). With declared ``reads=``/``writes=``
    and *reduce* (the default), one order per class of equivalent orders
    runs; a notifier declaring nothing counts as touching everything. At
    most *limit* classes (or orders) run, else a seeded sample of that many
    plus its mandatory orders; *seed* fixes the sample. *progress* is told
    ``(done, total)`` after each run.

    Raises:
        ExploreError: Bad *limit*/*seed*/*check*/*progress*, or ``build()``
            returned something unusable or state shared with an earlier call.
        UnknownNotifierError: A hard constraint names an absent notifier.
        CycleError: The constraints form a loop.
        InvalidOrderError: A later ``build()`` declared different edges.
    """
    _check_arguments(build, check, limit, seed, progress)
    start = time.perf_counter()
    runs = Runs(build, check)
    registry = runs.probe()
    reference = tuple(registry.order())
    poset = Poset(registry.graph(), reference)
    notifiers = {record.name: record for record in registry.notifiers()}
    touched = touches(notifiers.values())
    conflicts = unordered_conflicts(touched, poset)
    outcomes: dict[Outcome, list[Order]] = {}
    classes: int | None = None
    dependent = _dependent(notifiers, touched) if reduce else None
    static = None if dependent is None else count(poset, reference, dependent, limit)
    if dependent is not None and static is not None and static <= limit:
        orders, classes, exhaustive = _reduced(
            runs, poset, (reference, dependent, static), limit, progress
        )
        for order in orders:
            outcomes.setdefault(runs(order), []).append(order)
    else:
        orders, exhaustive = _choose(poset, reference, conflicts, limit, seed)
        for done, order in enumerate(orders, 1):
            outcomes.setdefault(runs(order), []).append(order)
            if progress is not None:
                progress(done, len(orders))
    culprits: list[Culprit] = []
    if len(outcomes) > 1:
        culprits = _find_culprits(runs, poset, notifiers, reference, conflicts)
    return Exploration(
        event=registry.event,
        notifiers=len(notifiers),
        orders_run=len(orders),
        exhaustive=exhaustive,
        limit=limit,
        seed=seed,
        reference_order=reference,
        outcomes=outcomes,
        culprits=tuple(culprits),
        builds=runs.builds,
        elapsed=time.perf_counter() - start,
        classes=classes,
    )


def _dependent(
    notifiers: dict[str, Notifier], touched: list[Touch]
) -> list[tuple[str, str]] | None:
    """Return the dependent pairs, or None if nothing declares a resource.

    A notifier that declares nothing may touch anything: it is dependent on
    every other one. With no declaration at all there is nothing to reduce.
    """
    silent = [name for name, r in notifiers.items() if not r.reads and not r.writes]
    if len(silent) == len(notifiers):
        return None
    pairs = dependent_pairs(touched)
    pairs += [(a, b) for a in silent for b in notifiers if b != a]
    return pairs


def _reduced(
    runs: Runs,
    poset: Poset,
    classes: tuple[Order, list[tuple[str, str]], int],
    limit: int,
    progress: Progress | None,
) -> tuple[list[Order], int, bool]:
    """Run one order per class; return the orders, the classes, exhaustive.

    *classes* is (reference order, dependent pairs, how many classes they
    make before any failure).

    A class whose run fails is split by where the failed notifiers ran
    (see :meth:`ClassTree.refine`); if that takes the classes past *limit*,
    the exploration stops there and is not exhaustive.
    """
    reference, dependent, total = classes
    names = list(poset.graph)

    def classify(order: Order) -> Order:
        failed = [(f, other) for f in runs.failed for other in names if other != f]
        return canonical(poset, order, [*dependent, *failed])

    runs.classify = classify
    tree = ClassTree(poset, reference, dependent)
    orders: dict[Order, None] = {}
    while (leaf := tree.next()) is not None:
        order = tree.representative(leaf)
        if order in orders:
            continue  # the first part of a split class: the run already made
        if len(orders) == limit:
            return list(orders), total, False
        orders[order] = None
        outcome = runs(order)
        failed = [failure.notifier for failure in outcome.failures]
        total += tree.refine(leaf, order, failed) - 1
        if progress is not None:
            progress(len(orders), total)
    return list(orders), total, True


def _check_arguments(
    build: object, check: object, limit: object, seed: object, progress: object
) -> None:
    if not callable(build):
        msg = f"build must be callable, got {type(build).__name__} {build!r}"
        raise ExploreError(msg, "build")
    if check is not None and not callable(check):
        msg = f"check must be callable or None, got {type(check).__name__} {check!r}"
        raise ExploreError(msg, "check")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        msg = f"limit must be a positive int, got {limit!r}"
        raise ExploreError(msg, "limit")
    if isinstance(seed, bool) or not isinstance(seed, int):
        msg = f"seed must be an int, got {seed!r}"
        raise ExploreError(msg, "seed")
    if progress is not None and not callable(progress):
        msg = f"progress must be callable or None, got {progress!r}"
        raise ExploreError(msg, "progress")


def _choose(
    poset: Poset, reference: Order, conflicts: list[Conflict], limit: int, seed: int
) -> tuple[list[Order], bool]:
    """Return the orders to run (the reference first) and whether that is all."""
    every = poset.all_orders(limit)
    if every is not None:
        return [reference, *(order for order in every if order != reference)], True
    chosen: dict[Order, None] = {}
    positions: list[dict[str, int]] = []

    def take(order: Order) -> None:
        # Always new: the reverse-tie order equals the reference only when
        # there is one valid order (exhaustive), and each covering order
        # runs a pair the way no order before it does.
        chosen[order] = None
        positions.append({name: i for i, name in enumerate(order)})

    take(reference)
    take(poset.lexicographic(reverse_ties=True))
    wanted = [
        (first, second)
        for conflict in conflicts
        for first, second in (conflict.pair, conflict.pair[::-1])
        if not any(where[first] < where[second] for where in positions)
    ]
    for order in poset.covering(wanted):
        take(order)
    rng = random.Random(seed)
    budget = RANDOM_ATTEMPTS * limit
    while len(chosen) < limit and budget:
        budget -= 1
        chosen.setdefault(poset.random_order(rng))
    return list(chosen), False


def _find_culprits(
    runs: Runs,
    poset: Poset,
    notifiers: dict[str, Any],
    reference: Order,
    conflicts: list[Conflict],
) -> list[Culprit]:
    """Shrink differing outcomes to pairs, pinning each pair and looking again."""
    by_pair = {frozenset(conflict.pair): conflict for conflict in conflicts}
    pinned: list[tuple[str, str]] = []
    found: list[Culprit] = []
    baseline = reference
    while len(found) < MAX_CULPRITS:
        expected = runs(baseline)
        differing = [
            (_tier(expected, outcome), distance(baseline, order), order)
            for order, outcome in list(runs.cache.items())
            if outcome != expected and respects(order, pinned)
        ]
        if not differing:
            break
        tier, _, target = min(differing, key=lambda item: item[:2])
        # Below STATE_ONLY shrink on the failures alone: what a failed run
        # left behind depends on what never ran, not on the pair to blame.
        pair = shrink(runs, baseline, target, failures_only=tier < STATE_ONLY)
        culprit = blame(
            notifiers,
            pair,
            (runs(pair[0]), runs(pair[1])),
            by_pair.get(frozenset(_swapped(*pair))),
            tuple(pinned),
        )
        found.append(culprit)
        pinned.append(culprit.pair)
        # The order notify() would use once the fixes are declared.
        baseline = poset.lexicographic(pinned)
    return found


#: Tiers of difference from the baseline outcome, most telling first.
OK_CHANGES, FAILURES_CHANGE, STATE_ONLY = 0, 1, 2


def _tier(expected: Outcome, outcome: Outcome) -> int:
    """Return how *outcome* differs from *expected* (see :data:`STATE_ONLY`)."""
    if outcome.ok != expected.ok:
        return OK_CHANGES
    if outcome.failures != expected.failures:
        return FAILURES_CHANGE
    return STATE_ONLY


def _swapped(first: Order, second: Order) -> tuple[str, str]:
    """Return the two names adjacent-swapped between *first* and *second*."""
    at = next(i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b)
    return first[at], first[at + 1]
