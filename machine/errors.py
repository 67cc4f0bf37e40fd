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
    ├── RealizeFailedError(MachineError, RuntimeError)    .device  (cause chained)
    ├── NotifierRaisedError(MachineError, RuntimeError)   .notifier  (cause chained)
    └── MachineFailedError(MachineError, RuntimeError)    .stage .device .notifier
                                                          .call .kvm_call .errno .cause

    HelpRequested(Exception)                              .text  (not an error)

``devices.DeviceError`` is a MachineError too. MachineFailedError reads every
attribute from the exception chain it is raised from, never from messages.
"""

from __future__ import annotations

import errno as _errno
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

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


class RealizeFailedError(MachineError, RuntimeError):
    """A device's realize failed; ``device`` names it, ``__cause__`` says why.

    ``Machine.realize`` raises it for the project's own errors and the
    kernel's (a bug in a model propagates unwrapped), after undoing what
    the device had mapped and wired.
    """

    def __init__(self, device: str, cause: BaseException) -> None:
        #: The device whose realize failed.
        self.device = device
        super().__init__(f"realize of {device!r}: {cause}")


class NotifierRaisedError(MachineError, RuntimeError):
    """A notifier on QEMU's list raised (the ordered registry names its own).

    ``notifier`` names it; ``__cause__`` is what it raised.
    """

    def __init__(self, notifier: str, cause: BaseException) -> None:
        #: The notifier that raised.
        self.notifier = notifier
        super().__init__(f"notifier {notifier!r}: {cause}")


def _notifier_failed() -> type[BaseException] | None:
    """Return the registry's NotifierFailedError if the registry was imported.

    Looked up, not imported: a command that never loaded the registry (``dtb``)
    cannot have one in its exception chain, and importing it here would make
    every command pay for the registry and networkx at start-up.
    """
    module = sys.modules.get("virtmodel.notifiers.errors")
    return None if module is None else module.NotifierFailedError


def causes(exc: BaseException) -> Iterator[BaseException]:
    """Yield *exc* and each exception it was raised ``from``, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


class MachineFailedError(MachineError, RuntimeError):
    """The machine could not come up at one stage of its bring-up.

    Everything is read from the exception chain (``__cause__``), never from
    the message: ``stage`` is the bring-up step ("board init",
    "machine-init-done", "machine-reset", "vcpu-pre-run", "first vCPU
    run"); ``device`` the device whose realize failed; ``notifier`` the
    notifier that raised; ``call`` the failed KVM call's ``IOCTL(device,
    group, attr)`` and ``kvm_call`` its record; ``errno`` the kernel's (or
    the OS's) errno; ``cause`` the innermost exception.
    """

    def __init__(self, stage: str, error: BaseException) -> None:
        #: The bring-up step that failed.
        self.stage = stage
        self.device: str | None = None
        self.notifier: str | None = None
        self.kvm_call: Any = None
        self.errno: int | None = None
        self.cause: BaseException = error
        notifier_failed = _notifier_failed()
        for link in causes(error):
            self.cause = link
            if isinstance(link, RealizeFailedError) and self.device is None:
                self.device = link.device
            elif isinstance(link, NotifierRaisedError) and self.notifier is None:
                self.notifier = link.notifier
            elif (
                notifier_failed is not None
                and isinstance(link, notifier_failed)
                and self.notifier is None
            ):
                self.notifier = link.name  # type: ignore[attr-defined]
            if isinstance(link, OSError) and self.errno is None:
                self.errno = link.errno
                call = getattr(link, "call", None)
                if call is not None and getattr(call, "errno", None) is not None:
                    self.kvm_call = call
        #: ``IOCTL(device, group, attr)`` of the failed KVM call, if one failed.
        self.call: str | None = self.kvm_call.head() if self.kvm_call else None
        super().__init__(self._message())

    @property
    def where(self) -> str:
        """``realize of 'its'`` when a device failed, else the stage."""
        return f"realize of {self.device!r}" if self.device else self.stage

    def _message(self) -> str:
        parts = ["machine failed to come up"]
        if self.notifier is not None:
            parts.append(f"notifier {self.notifier!r}")
        if self.call is not None:
            code = _errno.errorcode.get(self.errno or 0, str(self.errno))
            parts.append(f"{self.call} -> {code}")
        elif self.errno is not None:
            parts.append(_errno.errorcode.get(self.errno, str(self.errno)))
        reason = self.kvm_call.reason if self.kvm_call is not None else self.cause
        parts.append(f"{self.where}: {reason}")
        return ": ".join(parts)


class HelpRequested(Exception):
    """A ``help`` value was given (``-M help``, ``-cpu help``): print and stop.

    Not a :class:`MachineError`: the command line prints :attr:`text` on
    standard output and exits 0, as QEMU does.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(text)
