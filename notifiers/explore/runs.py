"""Fresh state for every run: call ``build()``, run one order, keep the outcome.

:class:`Runs` checks what ``build()`` returns (a registry and its notify
arguments, fresh each call, with the same notifiers every time), runs an
order with ``notify_in_order`` and records the outcome. Given the classes of
equivalent orders (see :mod:`.classes`), an order whose class already ran
is answered from that run instead of a new build.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from virtmodel.notifiers.errors import NotifierError, NotifierFailedError
from virtmodel.notifiers.explore.orders import Order
from virtmodel.notifiers.explore.outcome import Failure, Outcome, observe
from virtmodel.notifiers.registry import NotifierRegistry

#: What ``build()`` returns: ``(registry, args)`` or ``(registry, args, kwargs)``.
Built: TypeAlias = (
    tuple[NotifierRegistry[...], tuple[Any, ...]]
    | tuple[NotifierRegistry[...], tuple[Any, ...], Mapping[str, Any]]
)


class ExploreError(NotifierError, ValueError):
    """An argument of :func:`explore`, or what ``build()`` returned, is unusable."""

    def __init__(self, message: str, argument: str) -> None:
        super().__init__(message)
        #: The culprit: "build", "check", "limit", "seed" or "progress".
        self.argument = argument


class Runs:
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
        #: Every notifier that failed in some run, in the order first seen.
        self.failed: dict[str, None] = {}
        #: Maps an order to its class's representative (None: no classes).
        self.classify: Callable[[Order], Order] | None = None
        # Representative -> the outcome of the run made in that class.
        self._classes: dict[Order, Outcome] = {}
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
        """Return the outcome of *order*, running it only if nothing answers it."""
        outcome = self.cache.get(order)
        if outcome is not None:
            return outcome
        if self.classify is not None:
            outcome = self._classes.get(self.classify(order))
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
        new = [f.notifier for f in failures if f.notifier not in self.failed]
        self.failed.update(dict.fromkeys(new))
        if self.classify is not None:
            if new:
                # The classes got finer: key every run made so far anew.
                self._classes = {}
                for done, result in self.cache.items():
                    self._classes.setdefault(self.classify(done), result)
            else:
                self._classes.setdefault(self.classify(order), outcome)
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
