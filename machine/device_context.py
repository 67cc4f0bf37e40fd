"""What a device sees of its machine: the narrow context ``Machine.add`` hands it.

A device model never holds the :class:`~virtmodel.machine.machine.Machine`.
Adding a device gives it a :class:`DeviceContext` with exactly what device
models use: its own regions in the memory map, its own interrupt outputs, the
interrupt controller's inputs (for the GIC), the KVM VM or nothing under TCG,
the vCPUs, QEMU's queue of in-kernel device addresses
(``kvm_arm_register_device``), machine-init-done notifiers, and the other
devices (the GICv3 hooks its CPUs' resets). The phases, the trace, the board
and the reset registries stay out of reach, so what a model can touch of the
machine is what this class says, and mypy --strict checks it.

While the machine realizes the device, the context keeps a journal of what
the device did through it. A realize that raises is undone from that journal,
newest first: regions unmapped, wires removed, the interrupt controller's
inputs put back. KVM has no call that destroys one device, so the KVM devices
the realize created are only named (:class:`Undone`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from virtmodel.machine.accel import KvmAccel
from virtmodel.machine.errors import IrqWiringError
from virtmodel.machine.kvm_addr import LIFO_NOTIFIER, addr_notifier
from virtmodel.notifiers.constraints import Constraints

if TYPE_CHECKING:
    from virtmodel.machine.accel import Accelerator, KvmDeviceHandle, KvmVcpu, KvmVm
    from virtmodel.machine.device import Device
    from virtmodel.machine.init_done import InitDone
    from virtmodel.machine.irq import IrqKind, IrqLine, IrqMap
    from virtmodel.machine.kvm.resource_names import Resource
    from virtmodel.machine.kvm_addr import KvmAddressQueue, QueuedAddress
    from virtmodel.machine.memory import MemoryMap, Region
    from virtmodel.machine.notifier_modes import NotifierMode

__all__ = ["DeviceContext", "Undone", "connect_checked"]

#: The sink a device's interrupt outputs go to unless it says otherwise.
DEFAULT_SINK = "/machine/gic"


def connect_checked(
    irqs: IrqMap,
    devices: Mapping[str, Device],
    source: str,
    output: int,
    kind: IrqKind,
    number: int,
    *,
    sink: str,
    cpu: int | None,
) -> IrqLine:
    """Wire *source*'s output to *sink*, which must be a device of the machine.

    Shared by the board's ``Machine.connect_irq`` and a device's own
    :meth:`DeviceContext.connect_irq`, so both refuse the same wires.

    Raises:
        IrqWiringError: The sink is no device of this machine, or the line is
            out of range or already wired.
    """
    if sink not in devices:
        where = f"{kind.value.upper()} {number}"
        problem = "no such device in this machine; add the interrupt controller first"
        raise IrqWiringError(source, sink, where, problem)
    return irqs.connect(source, output, sink, kind, number, cpu=cpu)


@dataclass(slots=True)
class Undone:
    """What undoing a failed realize did, for the machine's trace."""

    #: Labels of the KVM devices the realize created; they stay in the VM.
    left_in_kvm: list[str] = field(default_factory=list)
    #: Regions unmapped, in the order they had been mapped.
    regions: list[Region] = field(default_factory=list)
    #: Wires removed, in the order they had been made.
    lines: list[IrqLine] = field(default_factory=list)


@dataclass(slots=True)
class _Journal:
    """What one realize did through the context, to undo it."""

    kvm_devices_before: int
    steps: list[Callable[[Undone], None]] = field(default_factory=list)


class DeviceContext:
    """One device's view of the machine it was added to.

    Built by ``Machine.add``; the device finds it as ``device.context``.

    Args:
        path: The device's QOM path; it owns what it maps and wires.
        name: The device's name (strict mode's ``device.<name>`` resource).
        memory: The machine's memory map.
        irqs: The machine's interrupt wiring.
        accel: The machine's accelerator.
        addresses: The machine's queue of in-kernel device addresses.
        init_done: The machine's machine-init-done event.
        devices: The machine's devices by path (read, never changed here).
        strict: Whether notifiers must declare the device properties they read.
    """

    __slots__ = (
        "_accel",
        "_addresses",
        "_devices",
        "_init_done",
        "_irqs",
        "_journal",
        "_memory",
        "_name",
        "_path",
        "_strict",
    )

    def __init__(
        self,
        path: str,
        name: str,
        *,
        memory: MemoryMap,
        irqs: IrqMap,
        accel: Accelerator,
        addresses: KvmAddressQueue,
        init_done: InitDone,
        devices: Mapping[str, Device],
        strict: bool,
    ) -> None:
        self._path = path
        self._name = name
        self._memory = memory
        self._irqs = irqs
        self._accel = accel
        self._addresses = addresses
        self._init_done = init_done
        self._devices = devices
        self._strict = strict
        self._journal: _Journal | None = None

    @property
    def path(self) -> str:
        """The device's QOM path: the owner of what it maps and wires."""
        return self._path

    # -- memory -----------------------------------------------------------------

    def map_mmio(
        self, name: str, base: int, size: int, *, kind: str = "mmio", align: int = 1
    ) -> Region:
        """Map a region of this device (QEMU's ``sysbus_mmio_map``).

        Raises:
            AddressConflictError: The range overlaps another region.
            AlignmentError: The range breaks *align*.
            ValueError: The name is taken, or the size or base is not positive.
        """
        region = self._memory.add(
            name, base, size, owner=self._path, kind=kind, align=align
        )
        self._record(functools.partial(self._undo_map, region))
        return region

    def unmap(self, name: str) -> Region:
        """Unmap a region this device mapped, and return it.

        Raises:
            KeyError: No region has that name.
            ValueError: The region belongs to another device (a model bug).
        """
        region = self._memory[name]
        if region.owner != self._path:
            owner = region.owner or "the board"
            msg = f"region {name!r} belongs to {owner}, not {self._path}"
            raise ValueError(msg)
        return self._memory.remove(name)

    def _undo_map(self, region: Region, undone: Undone) -> None:
        if region.name in self._memory and self._memory[region.name] == region:
            self._memory.remove(region.name)
            undone.regions.insert(0, region)

    # -- interrupts -------------------------------------------------------------

    def connect_irq(
        self,
        output: int,
        kind: IrqKind,
        number: int,
        *,
        sink: str = DEFAULT_SINK,
        cpu: int | None = None,
    ) -> IrqLine:
        """Wire this device's output *output* to an input of the interrupt controller.

        Raises:
            IrqWiringError: The sink is no device of this machine, or the line
                is out of range or already wired.
        """
        line = connect_checked(
            self._irqs,
            self._devices,
            self._path,
            output,
            kind,
            number,
            sink=sink,
            cpu=cpu,
        )
        self._record(functools.partial(self._undo_connect, line))
        return line

    def _undo_connect(self, line: IrqLine, undone: Undone) -> None:
        if self._irqs.disconnect(line):
            undone.lines.insert(0, line)

    def register_irq_sink(self, *, num_spis: int, num_cpus: int) -> None:
        """Be the interrupt controller: give the wiring this many inputs.

        Wires made before (a UART wired first) stay. Call it last in realize,
        once nothing else can fail; a failed realize puts the old inputs back.

        Raises:
            IrqWiringError: An existing wire drives an SPI or a CPU this
                controller does not have; nothing changes.
        """
        before = self._irqs.num_spis, self._irqs.num_cpus
        self._irqs.resize(num_spis=num_spis, num_cpus=num_cpus)
        self._record(
            lambda _: self._irqs.resize(num_spis=before[0], num_cpus=before[1])
        )

    # -- the accelerator --------------------------------------------------------

    @property
    def in_kernel_irqchip(self) -> bool:
        """Whether the accelerator puts the interrupt controller in the kernel."""
        return self._accel.in_kernel_irqchip

    @property
    def kvm_vm(self) -> KvmVm | None:
        """The KVM VM in-kernel devices create their KVM devices in; None under TCG.

        Raises:
            PhaseError: The accelerator is KVM but not created yet.
        """
        if not isinstance(self._accel, KvmAccel):
            return None
        return self._accel.attached_vm

    @property
    def vcpus(self) -> Mapping[int, KvmVcpu]:
        """The KVM vCPUs by CPU index; empty under TCG (a read-only view)."""
        if not isinstance(self._accel, KvmAccel):
            return {}
        return MappingProxyType(self._accel.vcpus)

    def create_vcpu(
        self, index: int, mpidr: int, *, pmu: bool = False, host_cpu: bool = False
    ) -> None:
        """Create CPU *index*'s vCPU (nothing under TCG).

        Raises:
            KvmError: The kernel refused.
        """
        self._accel.create_vcpu(index, mpidr, pmu=pmu, host_cpu=host_cpu)

    def reset_vcpu(self, index: int) -> None:
        """Reset CPU *index*'s vCPU, as QEMU's CPU reset does (nothing under TCG)."""
        self._accel.reset_vcpu(index)

    # -- machine-init-done ------------------------------------------------------

    @property
    def notifier_mode(self) -> NotifierMode:
        """How machine-init-done runs: "ordered" or "qemu-lifo" (QEMU's list)."""
        return self._addresses.mode

    def queue_kvm_address(
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
        """Queue the write of *region*'s base into *device* for machine-init-done.

        QEMU's ``kvm_arm_register_device``; see
        :meth:`~virtmodel.machine.kvm_addr.KvmAddressQueue.register`.
        """
        return self._addresses.register(
            label,
            region,
            device,
            group,
            attr,
            ormask=ormask,
            resource=resource,
            after=after,
        )

    def address_writer(self, label: str) -> str:
        """Return the notifier that writes the address queued as *label*."""
        return (
            LIFO_NOTIFIER if self.notifier_mode == "qemu-lifo" else addr_notifier(label)
        )

    def add_init_done(
        self,
        name: str,
        callback: Callable[[], None],
        *,
        after: str | Iterable[str] = (),
        before: str | Iterable[str] = (),
        reads: str | Iterable[str] = (),
        writes: str | Iterable[str] = (),
    ) -> None:
        """Register a machine-init-done notifier; *callback* takes no argument.

        Raises:
            notifiers.NotifierError: The declaration is invalid.
        """
        constraints = Constraints.declared(
            name, after=after, before=before, reads=reads, writes=writes
        )
        self._init_done.add(name, lambda _machine: callback(), constraints)

    # -- the other devices ------------------------------------------------------

    def devices(self) -> Iterator[Device]:
        """Iterate over the machine's devices in the order they were added."""
        return iter(list(self._devices.values()))

    def check_property_read(self) -> None:
        """Strict mode: refuse a notifier reading this device's properties undeclared.

        Raises:
            UndeclaredAccessError: The running notifier declared neither
                ``device.<name>`` nor ``device.*``.
        """
        if self._strict:
            self._init_done.check_access(
                f"device.{self._name}", "read the properties of"
            )

    # -- the realize journal (the machine's side) -------------------------------

    def begin_realize(self) -> None:
        """Start recording what the device does (``Machine.realize`` calls it)."""
        self._journal = _Journal(kvm_devices_before=len(self._kvm_devices()))

    def end_realize(self) -> None:
        """Stop recording: the realize finished, or was undone."""
        self._journal = None

    def undo_realize(self) -> Undone:
        """Undo, newest first, what the device did since :meth:`begin_realize`."""
        undone = Undone()
        journal = self._journal
        if journal is None:
            return undone
        undone.left_in_kvm = self._kvm_devices()[journal.kvm_devices_before :]
        for step in reversed(journal.steps):
            step(undone)
        journal.steps.clear()
        return undone

    def _record(self, step: Callable[[Undone], None]) -> None:
        if self._journal is not None:
            self._journal.steps.append(step)

    def _kvm_devices(self) -> list[str]:
        vm = self._accel.vm if isinstance(self._accel, KvmAccel) else None
        return [d.label for d in vm.devices] if vm is not None else []

    def __repr__(self) -> str:
        return f"<DeviceContext {self._path}>"
