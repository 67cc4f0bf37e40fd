"""QEMU's queue of in-kernel device base addresses, in two arrangements.

A KVM-backed GIC or ITS is created and initialised during realize, but its
base address is only known once the board has mapped it, so QEMU *queues*
the address write (``kvm_arm_register_device``) and a machine-init-done
notifier performs it. A memory listener fills in each queued entry's address
when the board maps the device's region, as QEMU's ``region_add`` does.

- ``qemu-lifo``: QEMU's arrangement. The first queued address registers one
  notifier, ``kvm-arm-machine-init-done``, which writes every queued address,
  newest queued first, and then drops its listener.
- ``ordered``: one notifier per address write, ``kvm-set-addr:<label>``, with
  the edges the kernel needs declared (``after=``) and the KVM attribute each
  one writes declared (``writes=``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from virtmodel.machine.kvm.resource_names import ADDRESS_RESOURCES, Resource
from virtmodel.machine.memory import Region
from virtmodel.machine.trace import Kind

if TYPE_CHECKING:
    from virtmodel.machine.accel import KvmDeviceHandle
    from virtmodel.machine.machine import Machine

#: Name of QEMU's single address notifier in qemu-lifo mode.
LIFO_NOTIFIER = "kvm-arm-machine-init-done"


def addr_notifier(label: str) -> str:
    """Return the ordered-mode notifier name for the address of *label*."""
    return f"kvm-set-addr:{label}"


@dataclass(slots=True)
class QueuedAddress:
    """One address write waiting for machine-init-done."""

    label: str
    region: str
    device: KvmDeviceHandle
    group: int
    attr: int
    ormask: int
    resource: Resource
    address: int | None = None

    def write(self) -> None:
        """Issue ``KVM_SET_DEVICE_ATTR`` with the mapped address."""
        assert self.address is not None
        self.device.set_attr(self.group, self.attr, self.address | self.ormask)


class KvmAddressQueue:
    """The queued address writes of one machine."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.mode = machine.notifier_mode
        self._queue: list[QueuedAddress] = []
        self._listening = False

    def register(
        self,
        label: str,
        region: str,
        device: KvmDeviceHandle,
        group: int,
        attr: int,
        *,
        ormask: int = 0,
        resource: Resource,
        after: Iterable[str] = (),
    ) -> QueuedAddress:
        """Queue the address write for the region named *region*.

        *after* names other labels whose writes must come first (ordered
        mode only; QEMU's list cannot express it, its queue order decides).
        """
        entry = QueuedAddress(label, region, device, group, attr, ormask, resource)
        if not self._listening:
            self.machine.memory.add_listener(self._region_add, self._region_del)
            self._listening = True
            if self.mode == "qemu-lifo":
                self.machine.add_init_done(
                    LIFO_NOTIFIER, self._write_all, writes=self._all_resources()
                )
        if region in self.machine.memory:
            entry.address = self.machine.memory[region].base
        if self.mode == "qemu-lifo":
            self._queue.insert(0, entry)  # QSLIST_INSERT_HEAD
        else:
            self._queue.append(entry)
            self.machine.add_init_done(
                addr_notifier(label),
                functools.partial(self._write_entry, entry),
                after=tuple(addr_notifier(a) for a in after),
                writes=(resource,),
            )
        return entry

    @staticmethod
    def _all_resources() -> tuple[Resource, ...]:
        return ADDRESS_RESOURCES

    def _region_add(self, region: Region) -> None:
        for entry in self._queue:
            if entry.region == region.name:
                entry.address = region.base

    def _region_del(self, region: Region) -> None:
        for entry in self._queue:
            if entry.region == region.name:
                entry.address = None

    def _write_entry(self, entry: QueuedAddress, machine: Machine) -> None:
        self._write_one(entry)

    def _write_one(self, entry: QueuedAddress) -> None:
        if entry.address is not None:
            entry.write()
            return
        # QEMU skips a device whose region was never mapped (addr == -1); say
        # so, since the kernel will only complain at the first vCPU run.
        self.machine.trace.add(
            Kind.NOTE,
            f"{entry.label}: region {entry.region!r} was never mapped; "
            "no address written",
            ok=False,
        )

    def _write_all(self, machine: Machine) -> None:
        while self._queue:
            entry = self._queue[0]
            self._write_one(entry)
            self._queue.pop(0)
        self.machine.memory.remove_listener(self._region_add, self._region_del)
        self._listening = False

    def pending(self) -> list[str]:
        """Return the labels still queued, in the order they would be written."""
        return [e.label for e in self._queue]
