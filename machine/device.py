"""The contracts the machine core relies on: a device's, and a board's.

The machine core never imports the device models (they build on it), so it
names what it needs of a device here: a :class:`Device` protocol and the
:class:`State` enum of its lifecycle. ``virtmodel.devices.base.Device``
implements the protocol; a test or a user may bring any other class that does.

A device never holds the machine: ``Machine.add`` gives it a
:class:`~virtmodel.machine.device_context.DeviceContext`, the narrow view of
the machine that device models use. Boards keep the whole machine.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from virtmodel.machine.device_context import DeviceContext
    from virtmodel.machine.machine import Machine

__all__ = ["Board", "Device", "State"]


class State(enum.Enum):
    """Where a device is in its lifecycle."""

    CREATED = "created"
    REALIZED = "realized"
    UNREALIZED = "unrealized"


class Device(Protocol):
    """What the machine calls on a device it owns."""

    #: Canonical QOM path (``/machine/gic``); the machine sets it in ``add``.
    path: str
    #: Its view of the machine it was added to, set by ``Machine.add``;
    #: None while it belongs to no machine.
    context: DeviceContext | None
    #: The lifecycle state.
    state: State
    #: Reset by a reset handler of its own, before the device tree (QEMU
    #: registers one per CPU); other devices reset with the tree.
    reset_handler: ClassVar[bool]

    @property
    def name(self) -> str:
        """The device's name, unique in its machine."""

    @property
    def type_name(self) -> str:
        """QEMU's type name for traces; empty for the Python class name."""

    @property
    def is_realized(self) -> bool:
        """Whether the device is realized."""

    def realize(self) -> None:
        """Finish construction; the properties are frozen afterwards."""

    def unrealize(self) -> None:
        """Undo realize (hot-unplug)."""

    def reset(self) -> None:
        """Return the device to its power-on state."""


class Board(Protocol):
    """What the machine keeps of the board that populates it."""

    def init(self, machine: Machine) -> None:
        """Add, realize, map and wire the board's devices (QEMU's board init)."""

    def describe(self) -> str:
        """Return a one-line description of the board's configuration."""
