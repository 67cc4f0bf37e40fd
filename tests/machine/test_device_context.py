"""A device sees its machine only through the narrow context ``Machine.add`` gives it.

What a sceptic would ask: can a device still reach the machine (at run time,
or as far as mypy knows)? Can a device written outside the project, against
nothing but the context, take part in a bring-up? Is a failed realize undone
from what the context recorded, and only that?
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import pytest

from virtmodel.devices import GicV2, GicV3, Its
from virtmodel.devices.base import Device, DeviceProps
from virtmodel.devices.errors import LifecycleError, RealizeError
from virtmodel.machine import (
    IrqKind,
    KvmAccel,
    Machine,
    RealizeFailedError,
    kvm,
)
from virtmodel.machine.device import State
from virtmodel.machine.device_context import DeviceContext
from virtmodel.machine.notifier_modes import NotifierMode

ROOT = Path(__file__).resolve().parents[2]


def _machine(accel: KvmAccel | None = None) -> Machine:
    m = Machine("ctx", accel=accel)
    m.create()
    m.create_accel()
    return m


class Blinker(Device[DeviceProps]):
    """One register frame and one interrupt, as most platform devices have."""

    def on_realize(self) -> None:
        self.ctx.map_mmio("blinker", 0x0900_0000, 0x1000)
        self.ctx.connect_irq(0, IrqKind.SPI, 7)


# -- the device cannot reach the machine ------------------------------------------


def test_add_gives_the_device_a_context_and_not_the_machine() -> None:
    m = _machine()
    dev = m.add(Blinker("blinker"))

    assert isinstance(dev.context, DeviceContext)
    assert dev.context.path == "/machine/blinker"
    assert not hasattr(dev, "machine")
    assert not hasattr(dev, "owner")
    assert not any(isinstance(v, Machine) for v in vars(dev).values())


def test_a_device_in_no_machine_has_no_context() -> None:
    dev = Blinker("loose")

    assert dev.context is None
    with pytest.raises(LifecycleError, match="in no machine"):
        _ = dev.ctx


def test_the_context_offers_no_way_to_the_machine_at_run_time() -> None:
    m = _machine(KvmAccel("v6.1"))
    ctx = m.add(Blinker("blinker")).ctx

    # No instance dictionary: nothing can be hung on it by accident.
    assert not hasattr(ctx, "__dict__")
    with pytest.raises(AttributeError):
        ctx.machine  # type: ignore[attr-defined]  # the point: there is none  # noqa: B018
    with pytest.raises(AttributeError):
        ctx.machine = m  # type: ignore[attr-defined]  # the point: there is none
    # Every public value it hands out is free of the machine.
    public = [n for n in dir(ctx) if not n.startswith("_")]
    values = [getattr(ctx, n) for n in public if not callable(getattr(ctx, n))]
    assert values, public
    for value in values:
        assert not isinstance(value, Machine)
        assert not hasattr(value, "machine")


def test_the_contexts_typed_surface_never_names_the_machine_or_its_parts() -> None:
    # The annotations mypy checks devices against: no Machine, and none of
    # the machine's parts that lead back to it (InitDone.machine,
    # KvmAddressQueue.machine) or let a device touch others' state.
    forbidden = (
        *("Machine", "InitDone", "KvmAddressQueue", "MemoryMap", "IrqMap"),
        *("Accelerator", "Any"),
    )
    for name, member in inspect.getmembers(DeviceContext):
        if name.startswith("_") and name != "__init__":
            continue
        function = member.fget if isinstance(member, property) else member
        if not callable(function):
            continue
        annotations = inspect.get_annotations(function)
        if name == "__init__":  # the machine's side builds it from its parts
            continue
        for where, text in annotations.items():
            assert not any(word in str(text).split("[")[0] for word in forbidden), (
                name,
                where,
                text,
            )


def test_mypy_refuses_a_device_that_reaches_for_the_machine(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    source = tmp_path / "rogue.py"
    source.write_text(
        textwrap.dedent(
            """
            from virtmodel.devices.base import Device, DeviceProps

            class Rogue(Device[DeviceProps]):
                def on_realize(self) -> None:
                    self.machine.memory.add("x", 0, 0x1000)
                    self.ctx.machine.irqs.resize(1, 1)
                    self.ctx.kvm_addresses.machine.trace.add("x", "y")
            """
        )
    )

    out, _, status = api.run(
        [
            "--strict",
            "--no-error-summary",
            "--follow-imports=silent",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(source),
        ]
    )

    assert status == 1, out
    assert '"Rogue" has no attribute "machine"' in out
    assert '"DeviceContext" has no attribute "machine"' in out
    assert '"DeviceContext" has no attribute "kvm_addresses"' in out


# -- an out-of-tree device written against the context -----------------------------


class Watchdog:
    """A device written against the core's contract only: no project base class.

    It implements ``virtmodel.machine.device.Device`` from scratch and does
    everything through its context: maps its frame, wires its interrupt,
    checks for KVM, and declares a machine-init-done notifier.
    """

    reset_handler: ClassVar[bool] = False

    def __init__(self, name: str, base: int, spi: int) -> None:
        self._name = name
        self.base, self.spi = base, spi
        self.path = f"/unattached/{name}"
        self.context: DeviceContext | None = None
        self.state = State.CREATED
        self.events: list[str] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def type_name(self) -> str:
        return "sp805"

    @property
    def is_realized(self) -> bool:
        return self.state is State.REALIZED

    def realize(self) -> None:
        ctx = self.context
        assert ctx is not None
        ctx.map_mmio(f"{self.name}.regs", self.base, 0x1000)
        ctx.connect_irq(0, IrqKind.SPI, self.spi)
        self.events.append(f"kvm={ctx.kvm_vm is not None}")
        ctx.add_init_done(
            f"{self.name}-arm", lambda: self.events.append("armed"), writes="wdt"
        )
        self.state = State.REALIZED

    def unrealize(self) -> None:
        self.state = State.UNREALIZED

    def reset(self) -> None:
        self.events.append("reset")


@pytest.mark.parametrize("accel", [None, KvmAccel("v6.1")], ids=["tcg", "kvm"])
def test_an_out_of_tree_device_takes_part_in_a_bring_up(
    accel: KvmAccel | None,
) -> None:
    wdt = Watchdog("wdt", 0x0C00_0000, 9)

    def board(m: Machine) -> None:
        m.accel.create_vcpu(0, 0)
        gic = m.add(GicV3("gic"))
        m.add(wdt, after="gic")
        m.realize_all()
        for name, (base, size) in gic.regions().items():
            m.map_mmio(gic, name, base, size)

    m = Machine("oot", accel=accel)
    trace = m.boot(board)

    assert m.memory["wdt.regs"].owner == "/machine/wdt"
    assert [(ln.source, ln.intid) for ln in m.irqs] == [("/machine/wdt", 41)]
    assert wdt.events == [f"kvm={accel is not None}", "armed", "reset"]
    assert "realize /machine/wdt (sp805)" in [e.text for e in trace]
    where = {n.name: n.location for n in m.init_done.registry.notifiers()}
    assert "tests/machine/test_device_context.py:" in where["wdt-arm"]


def test_the_example_device_is_written_against_the_context() -> None:
    text = (ROOT / "examples" / "07_write_a_device.py").read_text()

    assert "self.ctx." in text
    assert ".owner" not in text
    assert ".machine" not in text.replace("virtmodel.machine", "")


# -- failure undo from the context's journal -------------------------------------


class Controller(Device[DeviceProps]):
    """An interrupt controller that maps, wires, takes the inputs, then fails."""

    def __init__(
        self, name: str, exc: BaseException | None = None, base: int = 0x0800_0000
    ) -> None:
        super().__init__(name)
        self.exc, self.base = exc, base

    def on_realize(self) -> None:
        self.ctx.map_mmio(f"{self.name}.dist", self.base, 0x1_0000)
        self.ctx.map_mmio(f"{self.name}.cpu", self.base + 0x1_0000, 0x1_0000)
        self.ctx.connect_irq(0, IrqKind.PPI, 9, sink=self.path, cpu=0)
        self.ctx.register_irq_sink(num_spis=64, num_cpus=2)
        if self.exc is not None:
            raise self.exc


@pytest.mark.parametrize(
    "exc", [RealizeError("gic", "half-way"), KeyError("bug")], ids=["error", "bug"]
)
def test_a_failed_realize_is_undone_from_the_journal(exc: BaseException) -> None:
    m = _machine()
    m.add(Controller("gic", exc))
    sizes = m.irqs.num_spis, m.irqs.num_cpus

    with pytest.raises((RealizeFailedError, KeyError)):
        m.realize_all()

    assert list(m.memory) == []
    assert len(m.irqs) == 0
    assert (m.irqs.num_spis, m.irqs.num_cpus) == sizes
    notes = [e.text for e in m.trace if "after failed realize" in e.text]
    assert notes == [
        "unmapped 'gic.dist' [0x08000000, 0x08010000) after failed realize",
        "unmapped 'gic.cpu' [0x08010000, 0x08020000) after failed realize",
        "unwired /machine/gic[0] -> /machine/gic PPI 9 cpu0 (INTID 25) "
        "after failed realize",
    ]


def test_undo_leaves_what_the_board_did_and_what_others_did() -> None:
    m = _machine()
    m.add(Controller("gic"))
    blinker = m.add(Blinker("blinker"), after="gic")
    failure = RealizeError("broken", "no")
    broken = m.add(Controller("broken", failure, 0x1000_0000), after="blinker")
    # The board maps a frame for the broken device before realizing it:
    # that is the board's doing, not the device's, and stays.
    m.map_mmio(broken, "broken.board", 0x2000_0000, 0x1000)

    with pytest.raises(RealizeFailedError, match="broken") as info:
        m.realize_all()

    assert info.value.__cause__ is failure
    assert blinker.is_realized
    assert [r.name for r in m.memory] == [
        "gic.dist",
        "gic.cpu",
        "blinker",
        "broken.board",
    ]
    assert not any(ln.source == broken.path for ln in m.irqs)


def test_what_a_device_does_after_realize_is_not_journaled() -> None:
    m = _machine()
    m.add(GicV2("gic"))
    dev = m.add(Blinker("blinker"))
    m.realize(dev)
    ctx = dev.ctx

    ctx.map_mmio("blinker.late", 0x0A00_0000, 0x1000)

    assert ctx.undo_realize().regions == []
    assert "blinker.late" in m.memory


def test_a_device_unmaps_its_own_regions_only() -> None:
    m = _machine()
    m.add(GicV2("gic"))
    blinker = m.add(Blinker("blinker"))
    other = m.add(Blinker("other"))
    m.realize(blinker)
    m.map_mmio(other, "other.regs", 0x0B00_0000, 0x1000)

    with pytest.raises(ValueError, match=r"'other\.regs' belongs to /machine/other"):
        blinker.ctx.unmap("other.regs")
    assert blinker.ctx.unmap("blinker").name == "blinker"
    assert "blinker" not in m.memory


class HalfVgic(Device[DeviceProps]):
    """Creates an in-kernel vGIC through the context's VM, then gives up."""

    def on_realize(self) -> None:
        vm = self.ctx.kvm_vm
        assert vm is not None
        vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
        raise RealizeError(self.name, "gave up")


def test_kvm_devices_a_failed_realize_made_are_named_not_hidden() -> None:
    m = _machine(KvmAccel("v6.1"))
    m.accel.create_vcpu(0, 0)  # made by the board: not the device's doing
    m.add(HalfVgic("gic"))

    with pytest.raises(RealizeFailedError, match="gave up"):
        m.realize_all()

    left = [e.text for e in m.trace if "left in the VM" in e.text]
    assert left == [
        "vgic-v3 left in the VM half-configured (KVM cannot destroy a device; "
        "tear the machine down and build it again)"
    ]


# -- what the context answers ------------------------------------------------------


def test_under_tcg_there_is_no_vm_and_no_vcpu() -> None:
    ctx = _machine().add(Blinker("b")).ctx

    assert ctx.kvm_vm is None
    assert dict(ctx.vcpus) == {}
    assert ctx.in_kernel_irqchip is False


def test_under_kvm_the_vcpus_are_a_read_only_view() -> None:
    m = _machine(KvmAccel("v6.1"))
    ctx = m.add(Blinker("b")).ctx
    ctx.create_vcpu(0, 0)

    vcpus: Any = ctx.vcpus
    assert ctx.kvm_vm is not None
    assert list(vcpus) == [0]
    with pytest.raises(TypeError):
        vcpus[1] = vcpus[0]


@pytest.mark.parametrize(
    ("mode", "writer"),
    [("ordered", "kvm-set-addr:its"), ("qemu-lifo", "kvm-arm-machine-init-done")],
)
def test_address_writer_names_the_notifier_of_the_mode(
    mode: NotifierMode, writer: str
) -> None:
    m = Machine("ctx", notifiers=mode)

    assert m.add(Blinker("b")).ctx.address_writer("its") == writer


def test_a_notifier_a_device_declares_is_located_in_the_device() -> None:
    # The context is plumbing: "where declared" points at the device model.
    m = Machine("ctx", accel=KvmAccel("v6.1"))

    def board(m: Machine) -> None:
        m.accel.create_vcpu(0, 0)
        gic = m.add(GicV3("gic"))
        its = m.add(Its("its", its_init="init-done"), after="gic")
        m.realize_all()
        for dev in (gic, its):
            for name, (base, size) in dev.regions().items():
                m.map_mmio(dev, name, base, size)

    m.boot(board)

    located = {n.name: n.location for n in m.init_done.registry.notifiers()}
    assert located["its-ctrl-init"].startswith("devices/its.py:")
    assert located["kvm-set-addr:gic-dist"].startswith("devices/gicv3.py:")


def test_gicv2_registers_its_inputs_through_the_context() -> None:
    m = _machine()
    gic = m.add(GicV2("gic", num_irq=96, num_cpu=2))

    m.realize(gic)

    assert (m.irqs.num_spis, m.irqs.num_cpus) == (64, 2)


def test_a_device_not_added_to_the_machine_realizes_without_a_journal() -> None:
    m = _machine()
    m.add(GicV2("gic"))
    loose = Blinker("loose")

    # It has no context, so it cannot map or wire anything: realize says so.
    with pytest.raises(RealizeFailedError, match="in no machine"):
        m.realize(loose)

    assert loose.state is State.CREATED
    assert list(m.memory) == []
    assert not any("after failed realize" in e.text for e in m.trace)


class Tidy(Device[DeviceProps]):
    """Maps and wires, then takes back what it can itself, then fails."""

    def on_realize(self) -> None:
        self.ctx.map_mmio("tidy.a", 0x0900_0000, 0x1000)
        self.ctx.map_mmio("tidy.b", 0x0900_1000, 0x1000)
        self.ctx.unmap("tidy.a")
        raise RealizeError(self.name, "after tidying up")


def test_undo_skips_what_the_device_took_back_itself() -> None:
    m = _machine()
    m.add(Tidy("tidy"))

    with pytest.raises(RealizeFailedError, match="after tidying up"):
        m.realize_all()

    notes = [e.text for e in m.trace if "after failed realize" in e.text]
    assert notes == ["unmapped 'tidy.b' [0x09001000, 0x09002000) after failed realize"]
    assert list(m.memory) == []


def test_undo_skips_a_wire_someone_else_already_removed() -> None:
    m = _machine()
    m.add(GicV2("gic"))

    class Unwired(Device[DeviceProps]):
        def on_realize(self) -> None:
            self.ctx.connect_irq(0, IrqKind.SPI, 3)
            m.irqs.disconnect_source(self.path)  # the board's hand, not the device's
            raise RealizeError(self.name, "no")

    m.add(Unwired("unwired"))

    with pytest.raises(RealizeFailedError):
        m.realize(m.device("unwired"))

    assert not any("unwired /machine" in e.text for e in m.trace)


def test_a_context_shows_whose_it_is() -> None:
    ctx = _machine().add(Blinker("b")).ctx

    assert repr(ctx) == "<DeviceContext /machine/b>"
