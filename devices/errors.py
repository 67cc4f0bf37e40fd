"""Errors raised by device models.

The tree::

    DeviceError(MachineError)                           .device
    ├── PropertyError(DeviceError, ValueError)          .errors
    │       (__cause__ is pydantic's ValidationError)
    ├── LifecycleError(DeviceError, RuntimeError)       .state
    └── RealizeError(DeviceError, RuntimeError)         the device refused to realize
"""

from __future__ import annotations

from virtmodel.machine.errors import MachineError


class DeviceError(MachineError):
    """Base class of every error a device model raises.

    A machine error, so the machine and the command line report it as the
    project's own (a bad property, a refused realize), never as a bug.
    """

    def __init__(self, device: str, message: str) -> None:
        self.device = device
        super().__init__(message)


class PropertyError(DeviceError, ValueError):
    """A property name is unknown or its value is invalid; nothing changed."""

    def __init__(self, device: str, problems: list[str]) -> None:
        self.errors = problems
        super().__init__(
            device, f"device {device!r} rejected properties: {'; '.join(problems)}"
        )


class LifecycleError(DeviceError, RuntimeError):
    """An operation does not fit the device's lifecycle state."""

    def __init__(self, device: str, state: str, remedy: str) -> None:
        self.state = state
        super().__init__(device, f"device {device!r} is {state}; {remedy}")


class RealizeError(DeviceError, RuntimeError):
    """The device cannot realize with these properties on this machine."""

    def __init__(self, device: str, problem: str) -> None:
        super().__init__(device, f"device {device!r} cannot realize: {problem}")
