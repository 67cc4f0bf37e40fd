"""Run a phase under every valid order and find the pair whose order matters.

:func:`explore` calls ``build()`` once per order for fresh state, runs the
phase with ``notify_in_order`` and compares outcomes (failures plus a state
fingerprint). With at most ``limit`` valid orders it runs them all; beyond
that it runs a seeded sample that always holds the registration order, the
reverse-tie order and both orders of every unordered pair sharing a declared
resource. Differing outcomes are shrunk to culprit pairs (see
:mod:`notifiers.culprit`); each pair found is pinned virtually and the
search repeats, so independent culprits are all reported (up to a bound).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeAlias

from virtmodel.notifiers.culprit import Culprit, blame, shrink
from virtmodel.notifiers.errors import NotifierError, NotifierFailedError
from virtmodel.notifiers.exploration import MAX_CULPRITS, Exploration
from virtmodel.notifiers.orders import Order, Poset, distance, respects
from virtmodel.notifiers.outcome import Failure, Outcome, observe
from virtmodel.notifiers.registry import NotifierRegistry
from virtmodel.notifiers.tiebreak import Conflict, conflicting_pairs, tie_break_pairs

__all__ = ["Built", "Exploration", "ExploreError", "explore", "tie_break_pairs"]

#: What ``build()`` returns: ``(registry, args)`` or ``(registry, args, kwargs)``.
Built: TypeAlias = (
    tuple[NotifierRegistry[...], tuple[Any, ...]]
    | tuple[NotifierRegistry[...], tuple[Any, ...], Mapping[str, Any]]
)

#: Random draws allowed per order still missing from a sample.
RANDOM_ATTEMPTS: Final = 20


class ExploreError(NotifierError, ValueError):
    """An argument of :func:`explore`, or what ``build()`` returned, is unusable."""

    def __init__(self, message: str, argument: str) -> None:
        super().__init__(message)
        #: The culprit: "build", "check", "limit" or "seed".
        self.argument = argument


def explore(
    build: Callable[[], Built],
    *,
    check: Callable[..., object] | None = None,
    limit: int = 1000,
    seed: int = 0,
) -> Exploration:
    """Run the phase *build* returns under every valid order and compare.

    ``build()`` must return a fresh registry and its notify arguments each
    call. ``check(*args)``, run after each order, fingerprints the state
    (dicts and sets compare by content). At most *limit* orders run, plus
    the mandatory ones of a sample; *seed* fixes the sample.

    Raises:
        ExploreError: Bad *limit*/*seed*/*check*, or ``build()`` returned
            something unusable or state shared with an earlier call.
        UnknownNotifierError: A hard constraint names an absent notifier.
        CycleError: The constraints form a loop.
        InvalidOrderError: A later ``build()`` declared different edges.
    """
    _check_arguments(build, check, limit, seed)
    start = time.perf_counter()
    runs = _Runs(build, check)
    registry = runs.probe()
    reference = tuple(registry.order())
    poset = Poset(registry.graph(), reference)
    notifiers = {record.name: record for record in registry.notifiers()}
    conflicts = conflicting_pairs(notifiers.values(), poset)
    orders, exhaustive = _choose(poset, reference, conflicts, limit, seed)
    outcomes: dict[Outcome, list[Order]] = {}
    for order in orders:
        outcomes.setdefault(runs(order), []).append(order)
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
    )


def _check_arguments(build: object, check: object, limit: object, seed: object) -> None:
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
    runs: _Runs,
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


class _Runs:
    """Calls build() for fresh state, runs one order on it, caches outcomes."""

    def __init__(
        self, build: Callable[[], Built], check: Callable[..., object] | None
    ) -> None:
        self._build = build
        self._check = check
        #: How many times build() was called.
        self.builds = 0
        #: Every order run so far with its outcome, in run order.
        self.cache: dict[Order, Outcome] = {}
        self._names: tuple[str, ...] = ()
        self._unused: tuple[NotifierRegistry[...], tuple[Any, ...], dict[str, Any]]
        # The previous build's objects stay referenced so identity is meaningful.
        self._previous: list[object] = []

    def probe(self) -> NotifierRegistry[...]:
        """Build the first registry; the first order runs on it."""
        self._unused = self._fresh()
        self._names = tuple(r.name for r in self._unused[0].notifiers())
        return self._unused[0]

    def __call__(self, order: Order) -> Outcome:
        outcome = self.cache.get(order)
        if outcome is not None:
            return outcome
        if self.builds == 1 and not self.cache:
            registry, args, kwargs = self._unused
        else:
            registry, args, kwargs = self._fresh()
            self._same_notifiers(registry)
        try:
            registry.notify_in_order(order, *args, **kwargs)
            failures: tuple[Failure, ...] = ()
        except NotifierFailedError as failed:
            failures = tuple(Failure.of(name, error) for name, error in failed.failures)
        outcome = self.cache[order] = observe(failures, self._check, args)
        return outcome

    def _fresh(self) -> tuple[NotifierRegistry[...], tuple[Any, ...], dict[str, Any]]:
        self.builds += 1
        built: object = self._build()
        if not isinstance(built, tuple) or len(built) not in (2, 3):
            msg = (
                "build() must return (registry, args) or (registry, args, kwargs), "
                f"got {type(built).__name__} {built!r:.80}"
            )
            raise ExploreError(msg, "build")
        registry, args, *more = built
        kwargs = more[0] if more else {}
        if not isinstance(registry, NotifierRegistry):
            msg = f"build() must return a NotifierRegistry first, got {registry!r:.80}"
            raise ExploreError(msg, "build")
        if not isinstance(args, tuple):
            msg = f"build() must return notify's args as a tuple, got {args!r:.80}"
            raise ExploreError(msg, "build")
        if not isinstance(kwargs, Mapping):
            msg = (
                f"build() must return notify's kwargs as a mapping, got {kwargs!r:.80}"
            )
            raise ExploreError(msg, "build")
        self._fresh_state([registry, *args, *kwargs.values()])
        return registry, args, dict(kwargs)

    def _fresh_state(self, objects: list[object]) -> None:
        """Refuse a registry or mutable container returned by the previous build."""
        for obj in objects:
            mutable = isinstance(obj, NotifierRegistry) or type(obj).__hash__ is None
            if mutable and any(obj is old for old in self._previous):
                msg = (
                    f"build() returned the same {type(obj).__name__} object on calls "
                    f"{self.builds - 1} and {self.builds}; it must build fresh state "
                    "for every order"
                )
                raise ExploreError(msg, "build")
        self._previous = objects

    def _same_notifiers(self, registry: NotifierRegistry[...]) -> None:
        names = tuple(record.name for record in registry.notifiers())
        if names != self._names:
            missing = [name for name in self._names if name not in names]
            extra = [name for name in names if name not in self._names]
            msg = (
                f"build() call {self.builds} returned different notifiers than the "
                f"first: missing {missing!r}, extra {extra!r} (same names, same "
                "registration order expected)"
            )
            raise ExploreError(msg, "build")
