"""Errors raised by the machine framework.

Every error is one line that names the culprit. The tree::

    MachineError(Exception)
    ├── PhaseError(MachineError, RuntimeError)            .operation .needed .current
    ├── AddressConflictError(MachineError, ValueError)    .new .existing  (Regions)
    ├── AlignmentError(MachineError, ValueError)          .region .alignment
    ├── IrqWiringError(MachineError, ValueError)          .source .sink .line
    ├── UnknownDeviceError(MachineError, LookupError)     .name
    ├── ConfigError(MachineError, ValueError)             .option .value
    ├── UndeclaredAccessError(MachineError, PermissionError)  .notifier .resource
    └── MachineFailedError(MachineError, RuntimeError)    .notifier .call .errno

    HelpRequested(Exception)                              .text  (not an error)

``devices.DeviceError`` is a separate tree: ``Machine`` lets a device's error
propagate unchanged, so ``except devices.DeviceError`` still works around it.
"""

from __future__ import annotations

import errno as _errno
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from virtmodel.machine.memory import Region


class MachineError(Exception):
    """Base class of every error the machine framework raises."""


class PhaseError(MachineError, RuntimeError):
    """An operation was attempted in a phase that does not allow it."""

    def __init__(self, operation: str, needed: str, current: str) -> None:
        self.operation = operation
        self.needed = needed
        self.current = current
        super().__init__(
            f"{operation} needs phase {needed}, but the machine is in {current}"
        )


class AddressConflictError(MachineError, ValueError):
    """A new memory region overlaps one that is already mapped."""

    def __init__(self, new: Region, existing: Region) -> None:
        self.new = new
        self.existing = existing
        super().__init__(f"region {new} overlaps {existing}")


class AlignmentError(MachineError, ValueError):
    """A memory region's base or size breaks the alignment it needs."""

    def __init__(self, region: Region, alignment: int) -> None:
        self.region = region
        self.alignment = alignment
        super().__init__(f"region {region} is not aligned to 0x{alignment:x}")


class IrqWiringError(MachineError, ValueError):
    """An interrupt line is wired twice or to a line that does not exist."""

    def __init__(self, source: str, sink: str, line: str, problem: str) -> None:
        self.source = source
        self.sink = sink
        self.line = line
        super().__init__(f"irq {source!r} -> {sink!r} {line}: {problem}")


class UnknownDeviceError(MachineError, LookupError):
    """A device name or path does not exist in the machine."""

    def __init__(self, name: str, hint: str | None = None) -> None:
        self.name = name
        extra = f"; did you mean {hint!r}?" if hint else ""
        super().__init__(f"device {name!r} is not in the machine{extra}")


class ConfigError(MachineError, ValueError):
    """A machine option has a bad name or value."""

    def __init__(self, option: str, value: object, problem: str) -> None:
        self.option = option
        self.value = value
        super().__init__(f"option {option!r}: {problem}")


class UndeclaredAccessError(MachineError, PermissionError):
    """Strict mode: a notifier touched a resource it did not declare."""

    def __init__(self, notifier: str, resource: str, what: str) -> None:
        self.notifier = notifier
        self.resource = resource
        problem = (
            f"notifier {notifier!r} {what} {resource!r}, which it did not "
            "declare in reads= or writes="
        )
        super().__init__(_errno.EPERM, problem)

    def __str__(self) -> str:
        return str(self.args[1])


class MachineFailedError(MachineError, RuntimeError):
    """The machine could not come up: a notifier or a KVM call failed."""

    def __init__(
        self,
        problem: str,
        *,
        notifier: str | None = None,
        call: str | None = None,
        errno: int | None = None,
    ) -> None:
        self.notifier = notifier
        self.call = call
        self.errno = errno
        parts = ["machine failed to come up"]
        if notifier is not None:
            parts.append(f"notifier {notifier!r}")
        if call is not None:
            code = _errno.errorcode.get(errno, str(errno)) if errno is not None else "?"
            parts.append(f"{call} -> {code}")
        elif errno is not None:
            parts.append(_errno.errorcode.get(errno, str(errno)))
        parts.append(problem)
        super().__init__(": ".join(parts))


class HelpRequested(Exception):
    """A ``help`` value was given (``-M help``, ``-cpu help``): print and stop.

    Not a :class:`MachineError`: the command line prints :attr:`text` on
    standard output and exits 0, as QEMU does.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(text)
