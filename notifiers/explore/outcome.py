"""What one run of a phase under one order produced: :class:`Outcome`.

An outcome is the failures (which notifier, exception type, message, errno)
plus a fingerprint of the state afterwards. Two outcomes are equal when both
parts are; the fingerprint is canonicalised first (:func:`canonical`) so
that dicts and sets compare by content, never by insertion or hash order,
and so that its text is the same whatever ``PYTHONHASHSEED`` is.
"""

from __future__ import annotations

import errno as errno_module
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, final


@final
@dataclass(frozen=True, slots=True)
class Failure:
    """One notifier that raised during a run."""

    #: The notifier that raised.
    notifier: str
    #: The exception's class name, e.g. "OSError" or "KvmError".
    type: str
    #: ``str()`` of the exception.
    message: str
    #: ``errno`` of an OSError (the kernel's error code), else None.
    errno: int | None = None

    @classmethod
    def of(cls, notifier: str, error: BaseException) -> Failure:
        """Return the failure of *notifier*, which raised *error*."""
        code = error.errno if isinstance(error, OSError) else None
        return cls(notifier, type(error).__qualname__, str(error), code)

    @property
    def errno_name(self) -> str | None:
        """Return the symbolic errno, e.g. "ENXIO", or None."""
        if self.errno is None:
            return None
        return errno_module.errorcode.get(self.errno, str(self.errno))

    def __str__(self) -> str:
        code = f" ({self.errno_name})" if self.errno is not None else ""
        message = f": {self.message}" if self.message else ""
        return f"{self.notifier!r} raised {self.type}{code}{message}"

    def as_dict(self) -> dict[str, Any]:
        """Return the failure as a JSON-serialisable dict."""
        return {
            "notifier": self.notifier,
            "type": self.type,
            "message": self.message,
            "errno": self.errno,
            "errno_name": self.errno_name,
        }


@final
@dataclass(frozen=True, slots=True)
class Outcome:
    """The failures of one run and the state fingerprint it left."""

    #: Every notifier that raised, in run order (empty: all ran).
    failures: tuple[Failure, ...]
    #: The canonical fingerprint (see :func:`canonical`); compared.
    state: Hashable = None
    #: Readable, deterministic text of the fingerprint; not compared.
    state_text: str = field(default="None", compare=False)

    @property
    def ok(self) -> bool:
        """Return whether no notifier failed."""
        return not self.failures

    def describe(self) -> str:
        """Return the outcome as one line of prose."""
        if self.failures:
            text = "; ".join(str(failure) for failure in self.failures)
        else:
            text = "every notifier ran"
        if self.state is not None:
            text += f"; state {self.state_text}"
        return text

    def __str__(self) -> str:
        return self.describe()

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome as a JSON-serialisable dict."""
        return {
            "ok": self.ok,
            "failures": [failure.as_dict() for failure in self.failures],
            "state": self.state_text,
        }


def canonical(value: object) -> tuple[Hashable, str]:
    """Return a hashable, order-insensitive key for *value* and its text.

    Mappings compare by their items and sets by their members, whatever the
    insertion or hash order; lists and tuples keep their order (a sequence's
    order is part of the state). Other values compare with ``==`` if they
    are hashable, else by ``repr()``.
    """
    if isinstance(value, Mapping):
        items = sorted(
            ((canonical(k), canonical(v)) for k, v in value.items()),
            key=lambda item: (item[0][1], item[1][1]),
        )
        key = ("mapping", tuple((k[0], v[0]) for k, v in items))
        text = ", ".join(f"{k[1]}: {v[1]}" for k, v in items)
        return key, "{" + text + "}"
    if isinstance(value, (set, frozenset)):
        members = sorted((canonical(member) for member in value), key=lambda m: m[1])
        text = ", ".join(member[1] for member in members)
        return (
            "set",
            tuple(m[0] for m in members),
        ), "{" + text + "}" if text else "set()"
    if isinstance(value, (list, tuple)):
        parts = [canonical(item) for item in value]
        text = ", ".join(part[1] for part in parts)
        if isinstance(value, list):
            return ("list", tuple(p[0] for p in parts)), f"[{text}]"
        comma = "," if len(parts) == 1 else ""
        return ("tuple", tuple(p[0] for p in parts)), f"({text}{comma})"
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value)), repr(value)
    return value, repr(value)


def observe(
    failures: tuple[Failure, ...],
    check: Callable[..., object] | None,
    args: tuple[Any, ...],
) -> Outcome:
    """Return the outcome of a run: its *failures* and the state *check* reports.

    A check that raises is part of the outcome (its text says so): the state
    it could not inspect is a difference worth reporting, not a crash.
    """
    if check is None:
        return Outcome(failures)
    try:
        value = check(*args)
    except Exception as error:  # reported in the outcome, never lost
        value = CheckFailed(type(error).__qualname__, str(error))
    key, text = canonical(value)
    return Outcome(failures, key, text)


@final
@dataclass(frozen=True, slots=True)
class CheckFailed:
    """The fingerprint of a run whose state check raised."""

    #: The exception's class name.
    type: str
    #: ``str()`` of the exception.
    message: str

    def __repr__(self) -> str:
        return f"<check raised {self.type}: {self.message}>"
