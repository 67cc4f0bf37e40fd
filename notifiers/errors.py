"""Errors raised by the notifiers package.

Every error is a :class:`NotifierError` and also inherits the builtin that
matches its meaning, carries the data it reports as attributes, and formats a
one-line message naming the culprit::

    NotifierError
    ├── InvalidNotifierError (ValueError)     bad name, callback or declaration
    ├── DuplicateNotifierError (ValueError)   a name registered twice
    ├── UnknownNotifierError (LookupError)    a name nobody registered
    ├── CycleError (ValueError)               declared edges form a loop
    ├── InvalidOrderError (ValueError)        a given order breaks an edge
    ├── LateRegistrationError (RuntimeError)  added after its place ran
    ├── AlreadyNotifiedError (RuntimeError)   a one-shot event notified twice
    └── NotifierFailedError (RuntimeError)    a callback raised
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from virtmodel.notifiers.edges import Edge
    from virtmodel.notifiers.trace import Trace

#: How many names a message lists before it summarises the rest.
_SHOWN = 5


def quote_names(names: Sequence[str], limit: int = _SHOWN) -> str:
    """Return *names* quoted and comma-separated, eliding beyond *limit*."""
    if not names:
        return "none"
    shown = ", ".join(repr(name) for name in names[:limit])
    if len(names) > limit:
        shown += f" and {len(names) - limit} more"
    return shown


class NotifierError(Exception):
    """Base class of every error raised by the notifiers package."""


class InvalidNotifierError(NotifierError, ValueError):
    """A name, callback or constraint given to ``add``/``register`` is unusable.

    Attributes:
        name: The notifier being declared (as given, possibly not a str).
    """

    def __init__(self, name: object, message: str) -> None:
        super().__init__(message)
        #: The notifier being declared.
        self.name = name


class DuplicateNotifierError(NotifierError, ValueError):
    """A notifier name is already registered for the event."""

    def __init__(self, event: str, name: str, location: str) -> None:
        msg = (
            f"notifier {name!r} is already registered for {event!r} (at {location}); "
            f"use another name, remove({name!r}) first, or build a fresh registry "
            "(re-running a notebook cell? create the registry in that same cell)"
        )
        super().__init__(msg)
        #: The event (registry) name.
        self.event = event
        #: The name registered twice.
        self.name = name
        #: Where the first registration was made ("file:line").
        self.location = location


class UnknownNotifierError(NotifierError, LookupError):
    """A name that no notifier of the event carries.

    ``referrer``/``keyword`` are set when another notifier's constraint named
    it; ``hint`` is the closest registered name, if any is close.
    """

    def __init__(
        self,
        event: str,
        name: str,
        *,
        referrer: str | None = None,
        keyword: str | None = None,
        location: str | None = None,
        hint: str | None = None,
    ) -> None:
        if referrer is not None:
            msg = (
                f"notifier {referrer!r} is ordered against {name!r} ({keyword}=), "
                f"which is not registered for {event!r}"
            )
            if location is not None:
                msg += f" (declared at {location})"
        else:
            msg = f"no notifier {name!r} is registered for {event!r}"
        if hint is not None:
            msg += f"; did you mean {hint!r}?"
        super().__init__(msg)
        #: The event (registry) name.
        self.event = event
        #: The unknown name.
        self.name = name
        #: The notifier whose constraint named it, or None.
        self.referrer = referrer
        #: The constraint keyword that named it ("after", "before"), or None.
        self.keyword = keyword
        #: Where that constraint was declared ("file:line"), or None.
        self.location = location
        #: The closest registered name, or None.
        self.hint = hint

    def __str__(self) -> str:
        # LookupError subclasses such as KeyError repr their argument; keep prose.
        return str(self.args[0])


class CycleError(NotifierError, ValueError):
    """Declared edges form a loop, so no order satisfies them."""

    def __init__(self, event: str, edges: Sequence[Edge]) -> None:
        cycle = [edge.source for edge in edges] + [edges[0].source]
        loop = " -> ".join(repr(name) for name in cycle)
        declared = ", ".join(edge.describe() for edge in edges)
        msg = f"notifiers for {event!r} form a cycle: {loop}; declared by {declared}"
        super().__init__(msg)
        #: The event (registry) name.
        self.event = event
        #: The loop as names, the first name repeated at the end.
        self.cycle = cycle
        #: The declared edges of the loop, in loop order.
        self.edges = tuple(edges)


class InvalidOrderError(NotifierError, ValueError):
    """An order handed to ``notify_in_order`` is not a valid order."""

    def __init__(self, event: str, message: str, edge: Edge | None = None) -> None:
        super().__init__(message)
        #: The event (registry) name.
        self.event = event
        #: The declared edge the order breaks, if that is the problem.
        self.edge = edge


class LateRegistrationError(NotifierError, RuntimeError):
    """A notifier added after its one-shot event fired cannot take its place.

    Either it must run before a notifier that already ran, or it comes after
    one that did not run successfully.
    """

    def __init__(self, event: str, name: str, edge: Edge, reason: str) -> None:
        target = edge.source if edge.target == name else edge.target
        msg = (
            f"notifier {name!r} was registered after {event!r} was notified, "
            f"but {edge.describe()} and {target!r} {reason}"
        )
        super().__init__(msg)
        #: The event (registry) name.
        self.event = event
        #: The late notifier (left unregistered).
        self.name = name
        #: The neighbour whose state forbids running it now.
        self.target = target
        #: The declared edge between them.
        self.edge = edge
        #: Why, e.g. "already ran" or "failed".
        self.reason = reason


class AlreadyNotifiedError(NotifierError, RuntimeError):
    """A one-shot event was notified again (or re-armed mid-notification)."""

    def __init__(self, event: str, *, notifying: bool = False) -> None:
        if notifying:
            msg = f"one-shot event {event!r} is being notified; wait for notify()"
        else:
            msg = (
                f"one-shot event {event!r} was already notified; call rearm() to "
                "notify it again, or build a fresh registry (re-running a notebook "
                "cell? create the registry in that same cell)"
            )
        super().__init__(msg)
        #: The event (registry) name.
        self.event = event
        #: Whether the event was in the middle of being notified.
        self.notifying = notifying


class NotifierFailedError(NotifierError, RuntimeError):
    """One or more callbacks raised while an event was notified.

    The first exception is chained as ``__cause__``; all of them are in
    ``failures``. ``trace`` holds every step.
    """

    def __init__(
        self,
        event: str,
        failures: Sequence[tuple[str, BaseException]],
        trace: Trace,
    ) -> None:
        ran = trace.names("ran")
        skipped = trace.names("skipped")
        not_run = trace.names("not-run")
        first, error = failures[0]
        if len(failures) == 1:
            msg = f"notifier {first!r} failed during {event!r}: {error!r}"
        else:
            each = ", ".join(f"{name!r} ({exc!r})" for name, exc in failures)
            msg = f"{len(failures)} notifiers failed during {event!r}: {each}"
        msg += f"; ran: {quote_names(ran)}"
        if skipped:
            msg += f"; skipped as dependents: {quote_names(skipped)}"
        msg += f"; never ran: {quote_names(not_run)}"
        super().__init__(msg)
        #: The event (registry) name.
        self.event = event
        #: The first notifier that failed.
        self.name = first
        #: Every (notifier, exception) pair, in run order.
        self.failures = tuple(failures)
        #: Notifiers that completed.
        self.ran = ran
        #: Notifiers skipped because something they come after failed.
        self.skipped = skipped
        #: Notifiers never attempted (stop-at-first-failure mode).
        self.not_run = not_run
        #: The full trace of the notification.
        self.trace = trace
