"""One trace per machine: phase changes, notifiers and KVM calls, interleaved.

Entries are appended as things happen, so a KVM call made by a notifier sits
between that notifier's start and end lines. ``str()`` gives the table the
CLI prints; :meth:`MachineTrace.as_dicts` gives the same data for JSON.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, final


class Kind(enum.Enum):
    """What a trace entry records."""

    PHASE = "phase"
    DEVICE = "device"
    NOTIFIER = "notifier"
    KVM = "kvm"
    NOTE = "note"


@final
@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One line of the machine trace."""

    seq: int
    kind: Kind
    text: str
    depth: int = 0
    ok: bool = True
    data: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        mark = "  " if self.ok else "!!"
        return f"{self.seq:4d} {mark} {'    ' * self.depth}{self.text}"


@final
class MachineTrace:
    """The ordered record of everything a machine did while coming up."""

    def __init__(self) -> None:
        self._entries: list[TraceEntry] = []
        self._depth = 0

    def add(self, kind: Kind, text: str, *, ok: bool = True, **data: Any) -> TraceEntry:
        """Append an entry at the current nesting depth and return it."""
        entry = TraceEntry(len(self._entries) + 1, kind, text, self._depth, ok, data)
        self._entries.append(entry)
        return entry

    def enter(self) -> None:
        """Nest the following entries one level (inside a notifier or realize)."""
        self._depth += 1

    def leave(self) -> None:
        """Undo one :meth:`enter`."""
        self._depth = max(0, self._depth - 1)

    def __iter__(self) -> Iterator[TraceEntry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def of_kind(self, kind: Kind) -> list[TraceEntry]:
        """Return the entries of one kind, in order."""
        return [e for e in self._entries if e.kind is kind]

    def as_dicts(self) -> list[dict[str, Any]]:
        """Return the entries as JSON-ready dictionaries."""
        out = []
        for e in self._entries:
            d = asdict(e)
            d["kind"] = e.kind.value
            out.append(d)
        return out

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self._entries)
