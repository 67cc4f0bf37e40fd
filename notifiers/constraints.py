"""What one notifier declares, as one validated value: :class:`Constraints`.

A notifier names the notifiers it runs ``after`` and ``before`` (hard: the
target must be registered when the order is computed), the ``*_optional``
forms of both (the edge is dropped and reported when the target is absent),
and the resources it ``reads`` and ``writes`` (see
:mod:`notifiers.conflicts`). The six keywords travel together: they are
normalised and checked once, where the user gave them (``add()``,
``register()`` or ``Constraints(...)``), and every layer below passes the one
frozen value along instead of six arguments.

Normalising: a bare str is one name (never its letters); a set is sorted, so
hashing never shows; other iterables keep their order; ``reads``/``writes``
are sorted (they are sets of resources). Checks that need the declaring
notifier (ordered against itself, one target both after and before) belong to
the declaration, not to this value: see :func:`notifiers.notifier.declare`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, final

from virtmodel.notifiers.errors import InvalidNotifierError

#: A constraint value as given: one name, or an iterable of names.
Names: TypeAlias = str | Iterable[str]

#: The keywords, in the order of :class:`Constraints`' fields.
KEYWORDS: Final = (
    "after",
    "before",
    "after_optional",
    "before_optional",
    "reads",
    "writes",
)

#: The keywords that order notifiers (the others name resources).
ORDERING: Final = KEYWORDS[:4]


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


@final
@dataclass(frozen=True, slots=True)  # keeps its own __init__ and __repr__
class Constraints:
    """The ordering constraints and resources one notifier declares.

    Built from the keywords of ``add()``; equal values compare and hash
    equal. ``repr()`` shows the keywords that are set.

    Example:
        >>> Constraints(after="gic", reads={"b", "a"})
        Constraints(after=('gic',), reads=('a', 'b'))
        >>> Constraints(after=["gic"]) == Constraints(after="gic")
        True

    Raises:
        InvalidNotifierError: A value is not a str or an iterable of
            non-empty str, or names one name twice.
    """

    #: Notifiers that must run first (must be registered).
    after: tuple[str, ...]
    #: Notifiers that must run later (must be registered).
    before: tuple[str, ...]
    #: Notifiers to run after, if they are registered.
    after_optional: tuple[str, ...]
    #: Notifiers to run before, if they are registered.
    before_optional: tuple[str, ...]
    #: Resources read, sorted.
    reads: tuple[str, ...]
    #: Resources written, sorted.
    writes: tuple[str, ...]

    def __init__(
        self,
        *,
        after: Names = (),
        before: Names = (),
        after_optional: Names = (),
        before_optional: Names = (),
        reads: Names = (),
        writes: Names = (),
    ) -> None:
        values = (after, before, after_optional, before_optional, reads, writes)
        _set_fields(self, None, values)

    @classmethod
    def declared(
        cls,
        owner: str,
        after: Names = (),
        before: Names = (),
        after_optional: Names = (),
        before_optional: Names = (),
        reads: Names = (),
        writes: Names = (),
    ) -> Constraints:
        """Return the value of *owner*'s keywords; errors name *owner*.

        The registry's entry point: all six empty (the common case) gives
        one shared value without building anything.

        Raises:
            InvalidNotifierError: As for the constructor, naming *owner*.
        """
        values = (after, before, after_optional, before_optional, reads, writes)
        if values == _NOTHING:
            return NONE
        self = _new(cls)
        _set_fields(self, owner, values)
        return self

    @classmethod
    def of_fields(
        cls,
        after: tuple[str, ...],
        before: tuple[str, ...],
        after_optional: tuple[str, ...],
        before_optional: tuple[str, ...],
        reads: tuple[str, ...],
        writes: tuple[str, ...],
    ) -> Constraints:
        """Return the value with these fields, which a value had already.

        For records that keep a checked value's fields: nothing is checked
        again.
        """
        if not (
            after or before or after_optional or before_optional or reads or writes
        ):
            return NONE
        self = _new(cls)
        put = _put
        put(self, "after", after)
        put(self, "before", before)
        put(self, "after_optional", after_optional)
        put(self, "before_optional", before_optional)
        put(self, "reads", reads)
        put(self, "writes", writes)
        return self

    def ordering(self) -> dict[str, tuple[str, ...]]:
        """Return the non-empty ordering constraints keyed by keyword."""
        declared = {
            "after": self.after,
            "before": self.before,
            "after_optional": self.after_optional,
            "before_optional": self.before_optional,
        }
        return {keyword: names for keyword, names in declared.items() if names}

    def describe(self) -> str:
        """Return e.g. ``after='a', 'b'; before='c'``, or ``-`` for none."""
        parts = [
            f"{keyword}={', '.join(repr(n) for n in names)}"
            for keyword, names in self.ordering().items()
        ]
        return "; ".join(parts) or "-"

    def __repr__(self) -> str:
        shown = [
            f"{keyword}={getattr(self, keyword)!r}"
            for keyword in KEYWORDS
            if getattr(self, keyword)
        ]
        return f"Constraints({', '.join(shown)})"


#: The six keyword values of a declaration that sets none of them.
_NOTHING: Final = ((), (), (), (), (), ())


_new: Final = object.__new__
_put: Final = object.__setattr__


def _set_fields(
    self: Constraints, owner: str | None, values: tuple[Names, ...]
) -> None:
    # Frozen: the fields are set once, here, through object.__setattr__.
    a, b, ao, bo, r, w = values
    put = _put
    put(self, "after", () if a == () else _names(owner, "after", a))
    put(self, "before", () if b == () else _names(owner, "before", b))
    put(self, "after_optional", () if ao == () else _names(owner, "after_optional", ao))
    put(
        self,
        "before_optional",
        () if bo == () else _names(owner, "before_optional", bo),
    )
    put(self, "reads", () if r == () else tuple(sorted(_names(owner, "reads", r))))
    put(self, "writes", () if w == () else tuple(sorted(_names(owner, "writes", w))))


def _names(owner: str | None, keyword: str, value: Names) -> tuple[str, ...]:
    if isinstance(value, (tuple, list)):
        # The common case, checked at C speed: add() is on the hot path of
        # registering 100,000 notifiers. join() refuses any non-str item.
        items = tuple(value)
        try:
            "".join(items)
        except TypeError:
            pass
        else:
            if "" not in items and len(set(items)) == len(items):
                return items
    return _names_slow(owner, keyword, value)


def _names_slow(owner: str | None, keyword: str, value: Names) -> tuple[str, ...]:
    subject = "Constraints" if owner is None else f"notifier {owner!r}"
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, (set, frozenset)):
        # Unordered input: sort it so the result never depends on hashing.
        items = sorted(value, key=str)
    else:
        try:
            items = list(value)
        except TypeError:
            msg = f"{subject}: {keyword}= must be a str or an iterable of str"
            raise InvalidNotifierError(owner, msg) from None
    for item in items:
        if not isinstance(item, str) or not item:
            try:
                check_name(item, f"{subject}: each {keyword}= name")
            except InvalidNotifierError as error:
                # The culprit is the declaration, not the bad item.
                raise InvalidNotifierError(owner, str(error)) from None
    if len(set(items)) != len(items):
        twice = next(item for i, item in enumerate(items) if item in items[:i])
        msg = f"{subject} lists {twice!r} twice in {keyword}="
        raise InvalidNotifierError(owner, msg)
    return tuple(items)


#: The value of a declaration without constraints, shared.
NONE: Final = Constraints()
