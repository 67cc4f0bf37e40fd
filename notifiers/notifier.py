"""The :class:`Notifier` record and the validation of one declaration.

A notifier is a named callback plus its :class:`~notifiers.constraints.Constraints`
(what it runs after and before, the ``*_optional`` forms, the resources it
reads and writes), the file:line that declared it and its registration rank.
Records are immutable. A declaration is checked by :func:`declare_keywords`
(the keywords of one ``add()``) or :func:`declare` (a ready value), which
check what the constraints value cannot check alone: how the constraints
relate to the notifier declaring them. Both return a :data:`Row`: the
record's fields with the callback left out, which the registry keeps apart.

``add()`` is what registering 100,000 notifiers costs, so the common
declaration (``after=``/``before=`` as a str, list or tuple of distinct
names, nothing else) is checked by :func:`hard_targets`, a handful of
operations that run in C; any other declaration, and any that those
operations find wrong, takes the general path, whose messages say what is
wrong. Who the targets are (registered? in a loop?) is the bulk check's
business when the order is computed (:mod:`notifiers.graph`,
:mod:`notifiers.plan`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Final, NamedTuple, TypeAlias, final

from virtmodel.notifiers.constraints import KEYWORDS, Constraints, Names, check_name
from virtmodel.notifiers.edges import Edge
from virtmodel.notifiers.errors import CycleError, InvalidNotifierError

#: The six keyword values of one ``add()`` as given, in :data:`KEYWORDS` order.
Keywords: TypeAlias = tuple[Names, Names, Names, Names, Names, Names]


@final
class Notifier(NamedTuple):
    """A registered callback with its declared constraints and resources.

    The six constraint fields are those of the :class:`Constraints` value
    the declaration was checked as (:attr:`constraints` gives it back). The
    registry stores a :data:`Row` (these fields, the callback apart) and
    builds records when they are asked for (``add()``'s return value,
    ``notifiers()``, the analyses), with ``tuple.__new__``, in C: a named
    tuple rather than a frozen dataclass, whose ``__init__`` takes seven
    times as long (one ``object.__setattr__`` per field). Like any named
    tuple it compares equal to a plain tuple of the same fields.
    """

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

    @property
    def constraints(self) -> Constraints:
        """Return what it declared, as one value (equal to the one given)."""
        return Constraints.of_fields(
            self.after,
            self.before,
            self.after_optional,
            self.before_optional,
            self.reads,
            self.writes,
        )

    def describe_constraints(self) -> str:
        """Return e.g. ``after='a', 'b'; before='c'``, or ``-`` for none."""
        return self.constraints.describe()


#: A registration as the registry stores it: a plain tuple of the
#: :class:`Notifier` fields in their order, with ``None`` for the callback
#: (kept in a dict of its own). Made of strings, tuples of strings and an
#: int, a row is untracked by the cyclic garbage collector after its first
#: pass, where 100,000 records holding callbacks would cost a full collection
#: of the heap. A :class:`Notifier` is a row too: code that reads rows by the
#: indices below reads records as well.
Row: TypeAlias = tuple[
    str,
    Callable[..., object] | None,
    tuple[str, ...],
    tuple[str, ...],
    tuple[str, ...],
    tuple[str, ...],
    tuple[str, ...],
    tuple[str, ...],
    str,
    int,
]

#: Indices of the fields of a :data:`Row` (and of a :class:`Notifier`).
NAME: Final = 0
AFTER: Final = 2
BEFORE: Final = 3
AFTER_OPTIONAL: Final = 4
BEFORE_OPTIONAL: Final = 5
LOCATION: Final = 8

#: Builds a record from its ten fields in C, skipping the Python-level
#: ``__new__`` of the named tuple (which only unpacks them again).
_record: Final = tuple.__new__


def record_of(row: Row, callback: Callable[..., object]) -> Notifier:
    """Return the :class:`Notifier` of *row*, whose callback is *callback*."""
    return _record(Notifier, (row[NAME], callback, *row[AFTER:]))


def records(
    rows: Mapping[str, Row], callbacks: Mapping[str, Callable[..., object]]
) -> dict[str, Notifier]:
    """Return the records of *rows* by name, in their order."""
    return {name: record_of(row, callbacks[name]) for name, row in rows.items()}


#: The default of every constraint keyword: the empty tuple, one object.
_NOTHING: Final[tuple[str, ...]] = ()


def caller_location(depth: int) -> str:
    """Return "file:line" of the frame *depth* levels above the caller."""
    frame = sys._getframe(depth + 1)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def check_declarer(name: object, callback: object) -> str:
    """Return *name* if it is a usable notifier name and *callback* is callable.

    Checked before the constraints, so their errors can name the notifier.

    Raises:
        InvalidNotifierError: Bad name, or a callback that is not callable.
    """
    if type(name) is not str or not name:
        check_name(name)
    assert isinstance(name, str)
    if not callable(callback):
        kind = type(callback).__name__
        msg = f"notifier {name!r}: callback must be callable, got {kind} {callback!r}"
        raise InvalidNotifierError(name, msg)
    return name


def given_constraints(
    name: str, constraints: object, keywords: Keywords
) -> Constraints:
    """Return a ready *constraints* value passed instead of the keywords.

    Raises:
        InvalidNotifierError: It is not a :class:`Constraints`, or keywords
            were given too (which would silently lose one or the other).
    """
    if not isinstance(constraints, Constraints):
        kind = type(constraints).__name__
        msg = f"notifier {name!r}: constraints= must be a Constraints, got {kind}"
        raise InvalidNotifierError(name, msg)
    given = [k for k, v in zip(KEYWORDS, keywords, strict=True) if v != ()]
    if given:
        both = ", ".join(f"{keyword}=" for keyword in given)
        msg = f"notifier {name!r}: give constraints= or {both}, not both"
        raise InvalidNotifierError(name, msg)
    return constraints


def declare(
    event: str,
    name: str,
    constraints: Constraints,
    location: str,
    rank: int,
) -> Row:
    """Check *constraints* against the notifier declaring them; return its row.

    *name* and *callback* are checked already (:func:`check_declarer`), and
    the constraints value checked itself when it was built. Kept to a
    handful of checks on the common path: ``add()`` is what registering
    100,000 notifiers costs.

    Raises:
        InvalidNotifierError: The notifier is ordered against itself, or
            names one target in a hard and an optional form of one direction.
        CycleError: It names the same notifier in both after and before forms.
    """
    c = constraints
    if c.after or c.before or c.after_optional or c.before_optional:
        targets = (*c.after, *c.before, *c.after_optional, *c.before_optional)
        if name in targets or len(set(targets)) != len(targets):
            _self_or_twice(event, name, c.ordering(), location)
    return (
        name,
        None,
        c.after,
        c.before,
        c.after_optional,
        c.before_optional,
        c.reads,
        c.writes,
        location,
        rank,
    )


def hard_targets(
    name: str,
    after: Names,
    before: Names,
    after_optional: Names,
    before_optional: Names,
    reads: Names,
    writes: Names,
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """Return the after= and before= targets of the common declaration, or None.

    The common declaration gives ``after``/``before`` as a str, list or
    tuple of distinct non-empty names other than *name*, and nothing else.
    It is checked by a few operations that run in C; None means "take the
    general path" (:func:`declare_keywords`), which says what is wrong, if
    anything is.
    """
    # Written out, not factored into helpers: a call costs as much as a check.
    # The defaults are the one empty tuple, so identity tells them apart; an
    # equal value that is another object merely takes the general path.
    nothing = _NOTHING
    if not (
        after_optional is nothing
        and before_optional is nothing
        and reads is nothing
        and writes is nothing
    ):
        return None
    kind = type(after)
    if kind is list or kind is tuple:
        hard_after: tuple[str, ...] | None = tuple(after)
    else:
        hard_after = (after,) if isinstance(after, str) else None
    kind = type(before)
    if kind is list or kind is tuple:
        hard_before: tuple[str, ...] | None = tuple(before)
    else:
        hard_before = (before,) if isinstance(before, str) else None
    if hard_after is None or hard_before is None:
        return None
    targets = hard_after + hard_before
    try:
        "".join(targets)  # every target a str, at C speed
    except TypeError:
        return None
    if "" in targets or name in targets or len(set(targets)) != len(targets):
        return None
    return hard_after, hard_before


def declare_keywords(
    event: str, name: str, keywords: Keywords, location: str, rank: int
) -> Row:
    """Check the keywords of one ``add()``; return the row of *name*.

    The common declaration is taken by :func:`hard_targets`; anything else
    goes through :meth:`Constraints.declared` and :func:`declare`, so every
    error is theirs, worded as they word it.

    Raises:
        InvalidNotifierError: A bad keyword value, the notifier ordered
            against itself, a target named twice.
        CycleError: It names the same notifier in both after and before forms.
    """
    targets = hard_targets(name, *keywords)
    if targets is not None:
        after, before = targets
        return (name, None, after, before, (), (), (), (), location, rank)
    value = Constraints.declared(name, *keywords)
    return declare(event, name, value, location, rank)


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
