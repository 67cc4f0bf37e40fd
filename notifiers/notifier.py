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
from typing import Any, Final, TypeAlias, final

from virtmodel.notifiers.edges import Edge
from virtmodel.notifiers.errors import CycleError, InvalidNotifierError

#: A constraint value: one name, or an iterable of names.
Names: TypeAlias = str | Iterable[str]

#: What one add() declares, as given: after, before, after_optional,
#: before_optional, reads, writes.
Declared: TypeAlias = tuple[Names, Names, Names, Names, Names, Names]

#: The keywords of :data:`Declared`, in its order.
DECLARED_KEYWORDS: Final = (
    "after",
    "before",
    "after_optional",
    "before_optional",
    "reads",
    "writes",
)


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
    if isinstance(value, (tuple, list)):
        # The common case, checked without building anything: add() is on
        # the hot path of registering 100,000 notifiers.
        if not value:
            return ()
        for item in value:
            if type(item) is not str or not item:
                break
        else:
            items = tuple(value)
            if len(set(items)) == len(items):
                return items
    return _names_slow(owner, keyword, value)


def _names_slow(owner: str, keyword: str, value: Names) -> tuple[str, ...]:
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
    declared: Declared,
    location: str,
    rank: int,
) -> Notifier:
    """Validate one declaration and build its record.

    *declared* holds the six keyword values of ``add()`` as given (see
    :data:`Declared`). Kept to a handful of checks on the common path:
    ``add()`` is what registering 100,000 notifiers costs.

    Raises:
        InvalidNotifierError: Bad name, non-callable callback, a bad or
            repeated constraint name, or a notifier ordered against itself.
        CycleError: It names the same notifier in both after and before forms.
    """
    if type(name) is not str or not name:
        check_name(name)
    assert isinstance(name, str)
    if not callable(callback):
        kind = type(callback).__name__
        msg = f"notifier {name!r}: callback must be callable, got {kind} {callback!r}"
        raise InvalidNotifierError(name, msg)
    # Spelled out, and `_names` only for a keyword actually given: this is
    # the hot path of registering 100,000 notifiers.
    a, b, ao, bo, r, w = declared
    after = () if a == () else _names(name, "after", a)
    before = () if b == () else _names(name, "before", b)
    after_optional = () if ao == () else _names(name, "after_optional", ao)
    before_optional = () if bo == () else _names(name, "before_optional", bo)
    if after or before or after_optional or before_optional:
        targets = (*after, *before, *after_optional, *before_optional)
        if name in targets or len(set(targets)) != len(targets):
            lists = {
                "after": after,
                "before": before,
                "after_optional": after_optional,
                "before_optional": before_optional,
            }
            _self_or_twice(event, name, lists, location)
    reads = () if r == () else tuple(sorted(_names(name, "reads", r)))
    writes = () if w == () else tuple(sorted(_names(name, "writes", w)))
    return Notifier(
        name,
        callback,
        after,
        before,
        after_optional,
        before_optional,
        reads,
        writes,
        location,
        rank,
    )


def _self_or_twice(
    event: str, owner: str, lists: dict[str, tuple[str, ...]], location: str
) -> None:
    """Raise for a notifier ordered against itself or naming a target twice.

    Raises:
        InvalidNotifierError: Against itself, or twice with the same direction.
        CycleError: The same target in an after and a before form.
    """
    seen: dict[str, str] = {}
    for keyword, names in lists.items():  # pragma: no branch - one is bad
        for target in names:
            if target == owner:
                msg = f"notifier {owner!r} is ordered against itself ({keyword}=)"
                raise InvalidNotifierError(owner, msg)
            if target in seen:
                _conflict(event, owner, target, (seen[target], keyword), location)
            seen[target] = keyword


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
