"""A device whose realize fails half-way leaves no region mapped, no IRQ wired.

Two cases: a test device that maps a region and wires an interrupt and then
raises, and the in-kernel GICv3 failing after ``KVM_CREATE_DEVICE`` (a kernel
too old for multiple redistributor regions with 124 vCPUs).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from virtmodel.devices import GicV2
from virtmodel.devices.base import Device, DeviceProps
from virtmodel.devices.errors import RealizeError
from virtmodel.machine import kvm
from virtmodel.machine.accel import KvmAccel
from virtmodel.machine.boards.virt.board import boot_virt, create_virt
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.errors import MachineFailedError
from virtmodel.machine.irq import IrqKind
from virtmodel.machine.machine import Machine

UART_BASE = 0x09000000


class Neighbour(Device[DeviceProps]):
    """A device that realizes fine: one region and one interrupt."""

    def on_realize(self) -> None:
        self.ctx.map_mmio("neighbour", 0x0A000000, 0x1000)
        self.ctx.connect_irq(0, IrqKind.SPI, 4)


class HalfWay(Device[DeviceProps]):
    """Maps a region and wires an interrupt, then fails."""

    def __init__(self, name: str, exc: BaseException) -> None:
        super().__init__(name)
        self.exc = exc

    def on_realize(self) -> None:
        self.ctx.map_mmio("halfway", UART_BASE, 0x1000)
        self.ctx.connect_irq(0, IrqKind.SPI, 1)
        self.ctx.connect_irq(1, IrqKind.PPI, 14, cpu=0)
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "reported_as"),
    [
        (RealizeError("halfway", "half-way"), MachineFailedError),
        (OSError(5, "bus error"), MachineFailedError),
        # A plain bug in a model is not a machine failure: it propagates as
        # is, but the undo still happens.
        (KeyError("bug in a model"), KeyError),
        (RuntimeError("bug in a model"), RuntimeError),
    ],
    ids=["RealizeError", "OSError", "KeyError", "RuntimeError"],
)
def test_half_realized_device_leaves_no_region_and_no_irq(
    exc: BaseException, reported_as: type[BaseException]
) -> None:
    machine = Machine("halfway")

    def board(m: Machine) -> None:
        m.add(GicV2("gic"))
        m.add(Neighbour("neighbour"))
        m.add(HalfWay("halfway", exc), after="neighbour")

    with pytest.raises(reported_as):
        machine.boot(board)

    assert [r.name for r in machine.memory] == ["neighbour"]
    assert [(ln.source, ln.number) for ln in machine.irqs] == [
        ("/machine/neighbour", 4)
    ]
    assert machine.memory.find(UART_BASE) is None
    notes = [str(e) for e in machine.trace]
    assert any("unmapped 'halfway'" in n for n in notes)
    assert sum("unwired" in n for n in notes) == 2


def test_address_of_a_failed_device_can_be_used_by_the_next_one() -> None:
    machine = Machine("halfway")
    machine.create()
    machine.create_accel()

    def board(m: Machine) -> None:
        m.add(GicV2("gic"))
        m.add(HalfWay("halfway", RuntimeError("x")))

    with pytest.raises(RuntimeError):
        machine.init_board(board)
    other = Device[DeviceProps]("other")

    region = machine.map_mmio(other, "other", UART_BASE, 0x1000)
    line = machine.connect_irq(other, 0, IrqKind.SPI, 1)

    assert region.base == UART_BASE
    assert line.number == 1


def _gic_failure() -> Machine:
    config = VirtConfig.from_options(
        "virt,gic-version=3", cpu="max", accel="kvm", smp="124"
    )
    machine = create_virt(config, kernel_semantics="v4.8")
    with pytest.raises(MachineFailedError, match="realize of 'gic'") as excinfo:
        boot_virt(machine)
    assert "at most 123 vCPUs" in str(excinfo.value)
    return machine


def test_kvm_gicv3_failing_after_create_device_leaves_no_region_or_irq() -> None:
    machine = _gic_failure()

    gic = machine.device("gic")

    assert not gic.is_realized
    assert not any("gic" in r.name for r in machine.memory)
    assert not any(ln.source == gic.path for ln in machine.irqs)
    assert machine.phase.current.name == "ACCEL_CREATED"


def test_kvm_gicv3_failure_leaves_an_uninitialised_vgic_in_the_vm() -> None:
    # The kernel cannot destroy a device it created: the VM keeps a vgic-v3
    # that never got NR_IRQS or CTRL_INIT. QEMU exits here; the model stops
    # the machine in ACCEL_CREATED, so nothing can use it.
    machine = _gic_failure()

    assert isinstance(machine.accel, KvmAccel)
    vm = machine.accel.vm
    assert isinstance(vm, kvm.Vm)

    assert [type(d).__name__ for d in vm.devices] == ["VgicDevice"]
    assert not vm.vgic.initialized
    assert vm.vgic.nr_spis == 0
    assert not vm.any_vcpu_has_run


def _its_failure() -> Machine:
    # The 2016 collision: ITS CTRL_INIT in realize, before its address is set.
    config = VirtConfig.from_options(
        "virt,gic-version=3,its=on", cpu="max", accel="kvm"
    )
    machine = create_virt(config, kernel_semantics="v4.8-rc1", its_init="realize")
    with pytest.raises(
        MachineFailedError, match="realize of 'its': the ITS address is not set"
    ):
        boot_virt(machine)
    return machine


def test_kvm_its_failing_ctrl_init_leaves_an_unconfigured_its_in_the_vm() -> None:
    machine = _its_failure()

    assert isinstance(machine.accel, KvmAccel)
    assert isinstance(machine.accel.vm, kvm.Vm)
    its_devices = machine.accel.vm.its_devices

    assert [d.label for d in its_devices] == ["its"]
    assert not its_devices[0].initialized
    assert not its_devices[0].mapped
    assert not machine.device("its").is_realized
    assert not any("its" in r.name for r in machine.memory)


@pytest.mark.parametrize(
    ("fail", "name", "kind"),
    [(_gic_failure, "gic", "vgic-v3"), (_its_failure, "its", "its")],
    ids=["gicv3", "its"],
)
def test_kvm_device_failure_does_not_keep_a_half_configured_kvm_device(
    fail: Callable[[], Machine], name: str, kind: str
) -> None:
    machine = fail()

    device = machine.device(name)

    assert getattr(device, "kvm_device", None) is None
    assert any(kind in str(e) and "left" in str(e) for e in machine.trace)
