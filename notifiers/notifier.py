"""The :class:`Notifier` record and the validation of what users declare.

A notifier is a named callback plus its ordering constraints (``after``,
``before`` and their ``*_optional`` forms) and the resources it reads and
writes. Records are immutable; the registry builds them only from input that
:func:`declare` has checked.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias, final

from virtmodel.notifiers.edges import Edge
from virtmodel.notifiers.errors import CycleError, InvalidNotifierError

#: A constraint value: one name, or an iterable of names.
Names: TypeAlias = str | Iterable[str]


@final
@dataclass(frozen=True, slots=True)
class Notifier:
    """A registered callback with its declared constraints and resources."""

    #: Unique name within its registry.
    name: str
    #: The function called on notify.
    callback: Callable[..., object]
    #: Notifiers that must run first (must be registered).
    after: tuple[str, ...]
    #: Notifiers that must run later (must be registered).
    before: tuple[str, ...]
    #: Notifiers to run after, if they are registered.
    after_optional: tuple[str, ...]
    #: Notifiers to run before, if they are registered.
    before_optional: tuple[str, ...]
    #: Resources the callback reads, sorted.
    reads: tuple[str, ...]
    #: Resources the callback writes, sorted.
    writes: tuple[str, ...]
    #: "file:line" of the add/register call.
    location: str
    #: Registration rank: lower registered earlier (the tie-break key).
    rank: int

    def constraints(self) -> dict[str, tuple[str, ...]]:
        """Return the non-empty ordering constraints keyed by keyword."""
        declared = {
            "after": self.after,
            "before": self.before,
            "after_optional": self.after_optional,
            "before_optional": self.before_optional,
        }
        return {keyword: names for keyword, names in declared.items() if names}

    def describe_constraints(self) -> str:
        """Return e.g. ``after='a', before='b', 'c'``, or ``-`` for none."""
        parts = [
            f"{keyword}={', '.join(repr(n) for n in names)}"
            for keyword, names in self.constraints().items()
        ]
        return "; ".join(parts) or "-"


def caller_location(depth: int) -> str:
    """Return "file:line" of the frame *depth* levels above the caller."""
    frame = sys._getframe(depth + 1)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def check_name(name: object, what: str = "notifier name") -> str:
    """Return *name* if it is a non-empty str.

    Raises:
        InvalidNotifierError: It is not a str, or it is empty.
    """
    if not isinstance(name, str):
        kind = type(name).__name__
        msg = f"{what} must be a str, got {kind} {name!r}"
        if callable(name):
            msg += "; write @registry.register() with parentheses"
        raise InvalidNotifierError(name, msg)
    if not name:
        msg = f"{what} must not be empty"
        raise InvalidNotifierError(name, msg)
    return name


def _names(owner: str, keyword: str, value: Names) -> tuple[str, ...]:
    if value == ():
        return ()
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, (set, frozenset)):
        # Unordered input: sort it so the result never depends on hashing.
        items = sorted(value, key=str)
    else:
        try:
            items = list(value)
        except TypeError:
            msg = f"notifier {owner!r}: {keyword}= must be a str or an iterable of str"
            raise InvalidNotifierError(owner, msg) from None
    for item in items:
        if type(item) is not str or not item:
            check_name(item, f"notifier {owner!r}: each {keyword}= name")
    if len(set(items)) != len(items):
        twice = next(item for i, item in enumerate(items) if item in items[:i])
        msg = f"notifier {owner!r} lists {twice!r} twice in {keyword}="
        raise InvalidNotifierError(owner, msg)
    return tuple(items)


def declare(
    event: str,
    name: object,
    callback: object,
    constraints: dict[str, Names],
    reads: Names,
    writes: Names,
    location: str,
    rank: int,
) -> Notifier:
    """Validate one declaration and build its record.

    Raises:
        InvalidNotifierError: Bad name, non-callable callback, a bad or
            repeated constraint name, or a notifier ordered against itself.
        CycleError: It names the same notifier in both after and before forms.
    """
    owner = check_name(name)
    if not callable(callback):
        kind = type(callback).__name__
        msg = f"notifier {owner!r}: callback must be callable, got {kind} {callback!r}"
        raise InvalidNotifierError(owner, msg)
    lists = {keyword: _names(owner, keyword, v) for keyword, v in constraints.items()}
    seen: dict[str, str] = {}
    for keyword, names in lists.items():
        for target in names:
            if target == owner:
                msg = f"notifier {owner!r} is ordered against itself ({keyword}=)"
                raise InvalidNotifierError(owner, msg)
            if target in seen:
                _conflict(event, owner, target, (seen[target], keyword), location)
            seen[target] = keyword
    return Notifier(
        name=owner,
        callback=callback,
        after=lists["after"],
        before=lists["before"],
        after_optional=lists["after_optional"],
        before_optional=lists["before_optional"],
        reads=tuple(sorted(_names(owner, "reads", reads))),
        writes=tuple(sorted(_names(owner, "writes", writes))),
        location=location,
        rank=rank,
    )


def _conflict(
    event: str, owner: str, target: str, keywords: tuple[str, str], where: str
) -> None:
    first, second = keywords
    if first.split("_")[0] == second.split("_")[0]:
        msg = f"notifier {owner!r} names {target!r} in both {first}= and {second}="
        raise InvalidNotifierError(owner, msg)

    def edge(keyword: str) -> Edge:
        if keyword.startswith("after"):
            return Edge(target, owner, owner, keyword, where)
        return Edge(owner, target, owner, keyword, where)

    # Start the loop at the notifier being declared, as add() does.
    out, back = sorted((first, second), key=lambda keyword: keyword.startswith("after"))
    raise CycleError(event, [edge(out), edge(back)])
