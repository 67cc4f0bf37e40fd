"""One trace per machine: phase changes, notifiers and KVM calls, interleaved.

Entries are appended as things happen, so a KVM call made by a notifier sits
between that notifier's start and end lines. ``str()`` gives the table the
CLI prints, with runs of alike lines folded into one (the 32 virtio-mmio
transports; the hundreds of vGIC register writes of a reset);
:meth:`MachineTrace.as_dicts` gives every entry for JSON.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final, final


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

    def groups(self, *, fold: bool = True) -> list[list[TraceEntry]]:
        """Return the entries in runs: alike lines together, others alone.

        Two kinds of run fold: at least :data:`FOLD_AT` successful device
        entries at one depth whose texts differ only in one number that counts
        up (``virtio-mmio0`` .. ``virtio-mmio31``), and at least
        :data:`FOLD_CALLS_AT` successful KVM calls in a row at one depth with
        the same ioctl on the same fd (the GIC state QEMU writes back at
        reset: hundreds of ``KVM_SET_DEVICE_ATTR`` on the vGIC). Failures,
        notes, phases and notifiers never fold.
        """
        if not fold:
            return [[e] for e in self._entries]
        out: list[list[TraceEntry]] = []
        run: list[TraceEntry] = []
        for entry in self._entries:
            if run and _continues(run, entry):
                run.append(entry)
                continue
            out.extend(_settle(run))
            run = [entry] if _foldable(entry) or _call_key(entry) else []
            if not run:
                out.append([entry])
        out.extend(_settle(run))
        return out

    def format(self, *, fold: bool = True) -> str:
        """Return the trace as text; ``fold=False`` prints every entry."""
        return "\n".join(
            str(group[0]) if len(group) == 1 else folded(group)
            for group in self.groups(fold=fold)
        )

    def __str__(self) -> str:
        return self.format()

    def _repr_html_(self) -> str:
        # Jupyter: a table, failures highlighted (machine.display).
        from virtmodel.machine.display import trace_html

        return trace_html(self)


#: How many alike device lines in a row are folded into one.
FOLD_AT: Final = 4
#: How many successful KVM calls in a row, same ioctl on the same fd, fold
#: into one line: enough that QEMU's short probes (seven ioeventfds assigned
#: and removed, a few attribute checks per vCPU) stay visible.
FOLD_CALLS_AT: Final = 16
_NUMBER = re.compile(r"(\d+)")


def _foldable(entry: TraceEntry) -> bool:
    return entry.kind is Kind.DEVICE and entry.ok


def _call_key(entry: TraceEntry) -> tuple[int, str, str] | None:
    """Return what a foldable KVM call shares with its run, or None."""
    data = entry.data
    if entry.kind is not Kind.KVM or data.get("result") is None:
        return None  # a failure (even a probe's "no") keeps its own line
    if "ioctl" not in data or "device" not in data:
        return None  # an entry not recorded by the machine's KVM watch
    return (entry.depth, data["ioctl"], data["device"])


def _continues(run: list[TraceEntry], entry: TraceEntry) -> bool:
    key = _call_key(run[0])
    if key is not None:
        return _call_key(entry) == key
    return _alike(run, entry)


def _alike(run: list[TraceEntry], entry: TraceEntry) -> bool:
    last = run[-1]
    if not _foldable(entry) or entry.depth != last.depth:
        return False
    parts = _NUMBER.split(entry.text)
    last_parts = _NUMBER.split(last.text)
    first_parts = _NUMBER.split(run[0].text)
    if not len(parts) == len(last_parts) == len(first_parts):
        return False
    step = _differ(last_parts, parts)
    # One number (odd indexes of the split) differs from the last entry, the
    # same one that differs from the first, and it counts up by one: so
    # "{first..last}" names exactly the entries folded.
    return (
        len(step) == 1
        and step[0] % 2 == 1
        and _differ(first_parts, parts) == step
        and int(parts[step[0]]) == int(last_parts[step[0]]) + 1
    )


def _differ(a: list[str], b: list[str]) -> list[int]:
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


def _settle(run: list[TraceEntry]) -> list[list[TraceEntry]]:
    least = FOLD_CALLS_AT if run and _call_key(run[0]) else FOLD_AT
    if len(run) >= least:
        return [run]
    return [[entry] for entry in run]


def folded(group: Sequence[TraceEntry]) -> str:
    """Return one line standing for *group*, saying exactly what it stands for.

    Device lines show the varying number as a range. KVM calls show the ioctl
    and the fd, how many calls each attribute group had (in order of first
    appearance) and the result when every call returned the same one.
    """
    first, last = group[0], group[-1]
    if _call_key(first) is None:
        a, b = _NUMBER.split(first.text), _NUMBER.split(last.text)
        index = _differ(a, b)[0]
        a[index] = f"{{{a[index]}..{b[index]}}}"
        text = "".join(a) + f"  [{len(group)} alike: #{first.seq}-#{last.seq}]"
        return str(TraceEntry(first.seq, first.kind, text, first.depth))
    summary = calls_summary(
        first.data["ioctl"],
        first.data["device"],
        [e.data.get("group") for e in group],
        [e.data["result"] for e in group],
    )
    text = f"{summary}  [{len(group)} calls: #{first.seq}-#{last.seq}]"
    return str(TraceEntry(first.seq, first.kind, text, first.depth))


def calls_summary(
    ioctl: str,
    device: str,
    groups: Sequence[str | None],
    results: Sequence[int | None],
) -> str:
    """Return the line standing for a run of successful calls of one ioctl on one fd.

    How many calls each attribute group had, in order of first appearance,
    and the result when every call returned the same one:
    ``KVM_SET_DEVICE_ATTR(vgic-v3, GRP_DIST_REGS x650, GRP_CPU_SYSREGS x36) = 0``.
    The lab's trace of real QEMU folds with the same words.
    """
    counts = Counter(group for group in groups if group)
    inside = "".join(f", {name} x{count}" for name, count in counts.items())
    distinct = set(results)
    outcome = f" = {distinct.pop()}" if len(distinct) == 1 else ": each succeeded"
    return f"{ioctl}({device}{inside}){outcome}"
