"""QEMU's notifier lists, modelled faithfully for side-by-side demonstrations.

:class:`NotifierList` behaves like QEMU 7.2's ``NotifierList``: ``add`` inserts
at the head, so ``notify`` calls the **newest registration first**; nobody can
name another notifier. The walk saves the next element before each callback,
so a notifier may remove itself; if a callback removes the *next* one, that
one is still called (the walk already holds it) and, its link now cleared, the
walk ends there; one added during a walk is not visited. Where QEMU would
corrupt the list or crash (adding an element twice, removing one that is not
in a list) these raise instead. An exception from a callback ends the walk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, final

from virtmodel.notifiers.constraints import check_name
from virtmodel.notifiers.errors import DuplicateNotifierError, UnknownNotifierError
from virtmodel.notifiers.notifier import caller_location

T = TypeVar("T")
R = TypeVar("R")


class _Link(Generic[T, R]):
    """An element of a QEMU-style list: a callback plus its list link."""

    __slots__ = ("_location", "_next", "_owner", "_prev", "callback", "name")

    def __init__(self, callback: Callable[[T], R], name: str | None = None) -> None:
        #: The function called with the list's data.
        self.callback = callback
        #: A label for traces and errors (the callback's name by default).
        self.name = check_name(
            name if name is not None else getattr(callback, "__name__", repr(callback))
        )
        self._next: _Link[T, R] | None = None
        self._prev: _Link[T, R] | None = None
        self._owner: _List[T, R] | None = None
        self._location = ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


@final
class ListNotifier(_Link[T, object]):
    """An element of a :class:`NotifierList` (QEMU's ``Notifier``)."""

    __slots__ = ()


@final
class ReturnNotifier(_Link[T, int]):
    """An element of a :class:`NotifierWithReturnList`; its callback returns int."""

    __slots__ = ()


class _List(Generic[T, R]):
    __slots__ = ("_head", "name")

    def __init__(self, name: str = "notifier list") -> None:
        #: A label for errors, e.g. "machine-init-done".
        self.name = check_name(name, "list name")
        self._head: _Link[T, R] | None = None

    def add(self, notifier: _Link[T, R]) -> None:
        """Insert *notifier* at the head: it will be called before all others.

        Raises:
            TypeError: *notifier* is not a ListNotifier/ReturnNotifier (a plain
                function must be wrapped: ``ListNotifier(callback, name)``).
            DuplicateNotifierError: It is already in a list (QEMU corrupts the list).
        """
        given: object = notifier  # callers without type checking pass anything
        if not isinstance(given, _Link):
            msg = (
                f"{self.name}: add() takes a ListNotifier or ReturnNotifier, not "
                f"{type(notifier).__name__} {notifier!r}; wrap it: "
                "ListNotifier(callback, name)"
            )
            raise TypeError(msg)
        if notifier._owner is not None:
            raise DuplicateNotifierError(
                notifier._owner.name, notifier.name, notifier._location
            )
        notifier._location = caller_location(1)
        notifier._owner = self
        notifier._prev = None
        notifier._next = self._head
        if self._head is not None:
            self._head._prev = notifier
        self._head = notifier

    def remove(self, notifier: _Link[T, R]) -> None:
        """Unlink *notifier* and clear its links, as QEMU 7.2's ``QLIST_REMOVE``.

        Raises:
            UnknownNotifierError: It is not in this list (QEMU dereferences NULL).
        """
        if notifier._owner is not self:
            raise UnknownNotifierError(self.name, notifier.name)
        if notifier._next is not None:
            notifier._next._prev = notifier._prev
        if notifier._prev is not None:
            notifier._prev._next = notifier._next
        else:
            self._head = notifier._next
        notifier._next = notifier._prev = None
        notifier._owner = None

    def is_empty(self) -> bool:
        """Return whether the list has no notifiers."""
        return self._head is None

    def names(self) -> list[str]:
        """Return the names in call order (newest registration first)."""
        return [notifier.name for notifier in self]

    def __iter__(self) -> Iterator[_Link[T, R]]:
        current = self._head
        while current is not None:
            yield current
            current = current._next

    def __len__(self) -> int:
        return sum(1 for _ in self)


@final
class NotifierList(_List[T, object]):
    """QEMU's ``NotifierList``: newest first, no declared order.

    Example:
        >>> calls: list[str] = []
        >>> done = NotifierList[list[str]]("machine-init-done")
        >>> done.add(ListNotifier(lambda log: log.append("first"), "first"))
        >>> done.add(ListNotifier(lambda log: log.append("second"), "second"))
        >>> done.notify(calls)
        ['second', 'first']
    """

    __slots__ = ()

    def notify(self, data: T) -> list[str]:
        """Call every notifier with *data*, head first; return the names called."""
        called: list[str] = []
        current = self._head
        while current is not None:
            following = current._next  # saved first, as QLIST_FOREACH_SAFE does
            called.append(current.name)
            current.callback(data)
            current = following
        return called


@final
class NotifierWithReturnList(_List[T, int]):
    """QEMU's ``NotifierWithReturnList``: stops at the first non-zero return."""

    __slots__ = ()

    def notify(self, data: T) -> int:
        """Call the notifiers head first; return the first non-zero result, else 0."""
        current = self._head
        while current is not None:
            following = current._next
            result = current.callback(data)
            if result:
                return result
            current = following
        return 0
