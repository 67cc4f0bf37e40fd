"""The machine's object tree: its devices by path, and the order they realize in.

Each device added gets a path under its parent (``/machine/gic``) and a
:class:`~virtmodel.machine.device_context.DeviceContext`, its view of the
machine. Devices realize in dependency order through a ``NotifierRegistry``
of their own ("realize"), so a board may add them in any order as long as it
declares ``after=``; a realize that fails is undone from the journal its
context kept. The tree also answers lookups by name or path (with a
close-match hint when there is none) and the order a system reset visits the
devices in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from virtmodel.machine.device import State
from virtmodel.machine.errors import (
    MachineError,
    RealizeFailedError,
    UnknownDeviceError,
)
from virtmodel.machine.trace import Kind
from virtmodel.notifiers import NotifierError, NotifierFailedError, NotifierRegistry

if TYPE_CHECKING:
    from virtmodel.machine.device import Device
    from virtmodel.machine.device_context import DeviceContext
    from virtmodel.machine.machine import Machine
    from virtmodel.machine.trace import MachineTrace

__all__ = ["DeviceTree"]


class DeviceTree:
    """The devices of one machine, in the order they were added."""

    def __init__(self, trace: MachineTrace) -> None:
        self._trace = trace
        self._devices: dict[str, Device] = {}
        self._contexts: dict[str, DeviceContext] = {}
        #: The devices by path, read-only and always current (for contexts).
        self.by_path: Mapping[str, Device] = MappingProxyType(self._devices)
        #: Notified by every :meth:`realize_all`; each callback realizes its
        #: device if it is still CREATED, so a later call realizes only what
        #: is new.
        self.realize_order: NotifierRegistry[Machine] = NotifierRegistry(
            "realize", one_shot=False
        )

    def path_for(self, device: Device, parent: str) -> str:
        """Return the path *device* gets under *parent*.

        Raises:
            ValueError: A device with that path exists.
        """
        path = f"{parent.rstrip('/')}/{device.name}"
        if path in self._devices:
            msg = f"device path {path!r} is already taken"
            raise ValueError(msg)
        return path

    def add(
        self,
        device: Device,
        context: DeviceContext,
        *,
        after: tuple[str, ...],
        location: str,
    ) -> None:
        """Put *device*, whose path is set, in the tree with its context.

        It realizes after the devices named in *after*; *location* is where
        the board added it, for the realize graph.
        """
        self._devices[device.path] = device
        self._contexts[device.path] = context

        def realize_if_new(machine: Machine) -> None:
            if device.state is State.CREATED:  # not realized, not unplugged
                self.realize(device)

        self.realize_order.add(
            device.name, realize_if_new, after=after, location=location
        )

    def realize(self, device: Device) -> None:
        """Realize one device; a failure undoes what it did through its context.

        Raises:
            RealizeFailedError: The device refused, or a KVM call failed;
                ``device`` names it and the device's own error is chained.
            Exception: Anything else (a bug in the model), unchanged.
        """
        kind = device.type_name or type(device).__name__
        self._trace.add(Kind.DEVICE, f"realize {device.path} ({kind})")
        self._trace.enter()
        context = self.context_of(device)
        if context is not None:
            context.begin_realize()
        try:
            device.realize()
        except (MachineError, NotifierError, OSError) as exc:
            self._undo_realize(context)
            raise RealizeFailedError(device.name, exc) from exc
        except BaseException:
            self._undo_realize(context)
            raise
        finally:
            if context is not None:
                context.end_realize()
            self._trace.leave()

    def _undo_realize(self, context: DeviceContext | None) -> None:
        if context is None:  # not added here: it had no way to change the machine
            return
        undone = context.undo_realize()
        # KVM has no call that destroys one device, only the whole VM:
        # say what the failed realize left behind in the kernel.
        for label in undone.left_in_kvm:
            self._trace.add(
                Kind.NOTE,
                f"{label} left in the VM half-configured (KVM cannot "
                "destroy a device; tear the machine down and build it again)",
                ok=False,
            )
        for region in undone.regions:
            self._trace.add(Kind.NOTE, f"unmapped {region} after failed realize")
        for line in undone.lines:
            self._trace.add(Kind.NOTE, f"unwired {line} after failed realize")

    def realize_all(self, machine: Machine) -> None:
        """Realize every added, still-created device in declared dependency order.

        Raises:
            RealizeFailedError: As :meth:`realize` raises it, after the
                devices before the failing one realized.
            Exception: A bug in a model, unchanged.
        """
        try:
            self.realize_order.notify(machine)
        except NotifierFailedError as exc:
            # Report what realize() raised, not the registry's wrapper.
            cause = exc.__cause__
            assert cause is not None  # the registry chains what the callback raised
            raise cause from cause.__cause__

    def context_of(self, device: Device) -> DeviceContext | None:
        """Return the context this tree gave *device*; None if it is not in it."""
        if self._devices.get(device.path) is not device:
            return None
        return self._contexts[device.path]

    def find(self, name: str) -> Device:
        """Return the device called *name* (or with that path).

        Raises:
            UnknownDeviceError: No such device; the closest name is suggested.
        """
        for path, dev in self._devices.items():
            if name in (path, dev.name):
                return dev
        import difflib  # only a miss pays for it

        hint = difflib.get_close_matches(
            name, [d.name for d in self._devices.values()], 1
        )
        raise UnknownDeviceError(name, hint[0] if hint else None)

    def reset_order(self) -> list[Device]:
        """Return the realized devices in the order a system reset visits them.

        As in QEMU 7.2: first the devices with a reset handler of their own
        (the CPUs), in creation order; then the device tree, whose buses
        hold their children newest first (so an ITS resets before its GIC).
        """
        realized = [d for d in self._devices.values() if d.is_realized]
        handlers = [d for d in realized if d.reset_handler]
        tree = [d for d in realized if not d.reset_handler]
        return handlers + tree[::-1]

    def __iter__(self) -> Iterator[Device]:
        return iter(list(self._devices.values()))

    def __len__(self) -> int:
        return len(self._devices)
