import errno

import pytest
from pydantic import Field

from virtmodel.devices import Device, DeviceProps, GicV2, GicV3, Its, Pl011
from virtmodel.devices.errors import RealizeError
from virtmodel.machine import (
    IrqKind,
    IrqWiringError,
    KvmAccel,
    Machine,
    MachineFailedError,
    Phase,
    PhaseError,
    RealizeFailedError,
    TcgAccel,
    UnknownDeviceError,
)
from virtmodel.machine.trace import Kind


class BoxProps(DeviceProps):
    fail: bool = Field(default=False)


class Box(Device[BoxProps]):
    """Maps a region and wires an IRQ, then optionally fails half-way."""

    props_model = BoxProps

    def on_realize(self):
        self.ctx.map_mmio("box", 0x1000_0000, 0x1000)
        self.ctx.connect_irq(0, IrqKind.SPI, 3)
        if self.props.fail:
            raise RealizeError(self.name, "box: power rail missing")


def kvm_gic_board(its_init="realize"):
    def board(m):
        for i in range(2):
            m.accel.create_vcpu(i, i)
        gic = m.add(GicV3("gic", num_cpu=2, redist_region_count=(2,)))
        its = m.add(Its("its", its_init=its_init), after="gic")
        m.realize_all()
        for dev in (gic, its):
            for name, (base, size) in dev.regions().items():
                m.map_mmio(dev, name, base, size)

    return board


def test_boot_walks_qemu_phases_in_order():
    m = Machine("t")

    m.boot(lambda m: None)

    phases = [e.data["phase"] for e in m.trace.of_kind(Kind.PHASE)]
    assert phases == [p.name for p in list(Phase)[1:]]
    assert m.phase.current is Phase.MACHINE_READY


def test_accelerator_before_machine_is_refused_with_the_phase_needed():
    m = Machine("t")

    with pytest.raises(
        PhaseError, match=r"create_accel\(\) needs phase MACHINE_CREATED"
    ):
        m.create_accel()


def test_devices_cannot_be_added_once_ready():
    m = Machine("t")
    m.boot(lambda m: None)

    with pytest.raises(PhaseError, match="add"):
        m.add(Box("late"))


def test_reset_before_ready_is_refused():
    m = Machine("t")
    m.create()

    with pytest.raises(PhaseError, match=r"reset\(\) needs phase MACHINE_READY"):
        m.reset()


def test_failed_realize_leaves_no_region_and_no_wire():
    m = Machine("t")
    m.create()
    m.create_accel()
    m.add(GicV2("gic"))
    box = m.add(Box("box", fail=True))

    with pytest.raises(RealizeFailedError, match="power rail") as excinfo:
        m.realize(box)

    assert excinfo.value.device == "box"
    assert isinstance(excinfo.value.__cause__, RealizeError)
    assert "box" not in m.memory
    assert len(m.irqs) == 0
    assert not box.is_realized
    box.set_property("fail", False)
    m.realize(box)
    assert "box" in m.memory


def test_failed_realize_during_boot_names_the_device():
    m = Machine("t")

    with pytest.raises(MachineFailedError, match="realize of 'box'") as info:
        m.boot(lambda m: (m.add(GicV2("gic")), m.add(Box("box", fail=True))))

    assert info.value.notifier is None


def test_realize_all_follows_declared_order_not_add_order():
    m = Machine("t")
    m.create()
    m.create_accel()
    m.add(Box("late-box"), after="early")
    m.add(Box("early"))

    order = m.realize_registry.order()

    assert order == ["early", "late-box"]


def test_unknown_device_suggests_the_closest_name():
    m = Machine("t")
    m.create()
    m.add(Box("uart0"))

    with pytest.raises(UnknownDeviceError, match="did you mean 'uart0'"):
        m.device("uart1")


def test_kvm_calls_are_nested_under_the_notifier_that_made_them():
    m = Machine("t", accel=KvmAccel("v6.1"))

    m.boot(kvm_gic_board())

    entries = list(m.trace)
    i = next(
        k
        for k, e in enumerate(entries)
        if e.text.startswith("notifier kvm-set-addr:its")
    )
    assert entries[i + 1].kind is Kind.KVM
    assert entries[i + 1].depth == entries[i].depth + 1
    assert "VGIC_ITS_ADDR_TYPE, 0x08080000" in entries[i + 1].text


def test_its_init_before_its_address_fails_with_notifier_call_and_errno():
    m = Machine("t", accel=KvmAccel("v4.8-rc1"), notifiers="qemu-lifo")

    with pytest.raises(MachineFailedError) as info:
        m.boot(kvm_gic_board(its_init="init-done"))

    exc = info.value
    assert exc.notifier == "its-ctrl-init"
    assert exc.call == "KVM_SET_DEVICE_ATTR(its, GRP_CTRL, CTRL_INIT)"
    assert exc.errno == errno.ENXIO
    assert "\n" not in str(exc)
    assert "-> ENXIO" in str(exc)


def test_declared_order_fixes_the_same_machine():
    m = Machine("t", accel=KvmAccel("v4.8-rc1"), notifiers="ordered")

    m.boot(kvm_gic_board(its_init="init-done"))

    names = [e.data["notifier"] for e in m.trace.of_kind(Kind.NOTIFIER)]
    assert names.index("kvm-set-addr:its") < names.index("its-ctrl-init")


def test_late_init_done_notifier_runs_at_once_in_both_modes():
    for mode in ("ordered", "qemu-lifo"):
        m = Machine("t", notifiers=mode)
        m.boot(lambda m: None)
        ran: list[Phase] = []

        def late(m: Machine, ran: list[Phase] = ran) -> None:
            ran.append(m.phase.current)

        m.add_init_done("late", late)

        assert ran == [Phase.MACHINE_READY], mode


def test_strict_mode_refuses_an_undeclared_kvm_attribute():
    m = Machine("t", accel=KvmAccel("v6.1"), strict=True)

    def board(m):
        kvm_gic_board()(m)
        its = m.device("its")
        m.add_init_done(
            "sneaky",
            lambda m: its.kvm_device.set_attr(4, 4, 0),
            after="kvm-set-addr:its",
        )

    with pytest.raises(
        MachineFailedError, match="'sneaky' made KVM_SET_DEVICE_ATTR"
    ) as info:
        m.boot(board)

    assert "kvm.its.ctrl.reset" in str(info.value)
    assert info.value.notifier == "sneaky"


def test_strict_mode_accepts_declared_attributes():
    m = Machine("t", accel=KvmAccel("v4.8-rc1"), strict=True)

    m.boot(kvm_gic_board(its_init="init-done"))

    assert m.phase.current is Phase.MACHINE_READY


def test_dropped_edges_are_reported_and_unused_ones_are_kept():
    m = Machine(
        "t",
        accel=KvmAccel("v6.1"),
        drop_edges=[("its-ctrl-init", "kvm-set-addr:its"), ("nobody", "x")],
    )

    m.boot(kvm_gic_board(its_init="init-done"))

    notes = [e.text for e in m.trace.of_kind(Kind.NOTE)]
    assert "dropped declared edge its-ctrl-init -> kvm-set-addr:its (as asked)" in notes
    assert m.unused_drop_edges() == [("nobody", "x")]


def test_tcg_machine_makes_no_kvm_calls():
    m = Machine("t", accel=TcgAccel())

    m.boot(kvm_gic_board())

    assert m.trace.of_kind(Kind.KVM) == []


def test_bad_notifier_mode_is_refused():
    with pytest.raises(ValueError, match="notifier mode 'lifo'"):
        Machine("t", notifiers="lifo")  # type: ignore[arg-type]  # on purpose


def test_strict_mode_refuses_reading_undeclared_device_properties():
    m = Machine("t", strict=True)

    def board(m):
        m.add(GicV2("gic"))
        box = m.add(Box("box"))
        m.add_init_done("peek", lambda m: box.props.fail)
        m.add_init_done("look", lambda m: box.props.fail, reads="device.box")
        m.add_init_done("survey", lambda m: box.props.fail, reads="device.*")

    with pytest.raises(MachineFailedError) as info:
        m.boot(board)

    assert info.value.notifier == "peek"
    assert "read the properties of 'device.box'" in str(info.value)
    names = [e.data["notifier"] for e in m.trace.of_kind(Kind.NOTIFIER)]
    assert names == ["peek"]


def test_strict_mode_lets_declared_readers_through():
    m = Machine("t", strict=True)

    def board(m):
        m.add(GicV2("gic"))
        box = m.add(Box("box"))
        m.add_init_done("look", lambda m: box.props.fail, reads="device.box")
        m.add_init_done("survey", lambda m: box.props.fail, reads="device.*")

    m.boot(board)

    assert [e.data["notifier"] for e in m.trace.of_kind(Kind.NOTIFIER)] == [
        "look",
        "survey",
    ]


def test_vcpu_pre_run_notifiers_run_once_before_the_first_vcpu_run():
    m = Machine("t", accel=KvmAccel("v6.1"))
    seen = []
    m.vcpu_pre_run.add(
        "last-word", lambda m: seen.append(len(m.trace.of_kind(Kind.KVM)))
    )

    m.boot(kvm_gic_board())

    runs = [e for e in m.trace.of_kind(Kind.KVM) if "KVM_RUN" in e.text]
    kvm = m.trace.of_kind(Kind.KVM)
    assert seen == [kvm.index(runs[0])]


def test_an_unmapped_in_kernel_device_is_reported_and_the_first_run_fails():
    m = Machine("t", accel=KvmAccel("v6.1"))

    def board(m):
        m.accel.create_vcpu(0, 0)
        gic = m.add(GicV3("gic", num_cpu=1, redist_region_count=(1,)))
        m.realize(gic)
        base, size = gic.regions()["gic.redist0"]
        m.map_mmio(gic, "gic.redist0", base, size)  # the distributor is forgotten

    with pytest.raises(MachineFailedError) as info:
        m.boot(board)

    notes = [e.text for e in m.trace.of_kind(Kind.NOTE)]
    assert "gic-dist: region 'gic.dist' was never mapped; no address written" in notes
    assert info.value.errno == errno.ENXIO
    assert info.value.call == "KVM_RUN(vcpu0)"


@pytest.mark.parametrize(
    ("gic", "accel"),
    [
        (lambda: GicV3("gic", num_cpu=1, num_irq=128), TcgAccel),
        (lambda: GicV2("gic", num_cpu=1, num_irq=128), TcgAccel),
        (lambda: GicV3("gic", num_cpu=1, num_irq=128), lambda: KvmAccel("v4.8")),
    ],
)
def test_wiring_made_before_the_gic_survives_its_realize(gic, accel):
    def board(m):
        if m.accel.in_kernel_irqchip:
            m.accel.create_vcpu(0, 0)
        controller = m.add(gic())
        uart = m.add(Pl011("uart0", base=0x0900_0000, irq=1))
        m.realize(uart)
        m.connect_irq(uart, 0, IrqKind.SPI, 1)
        m.realize(controller)

    m = Machine("t", accel=accel())
    m.create()
    m.create_accel()
    m.init_board(board)

    assert [str(line) for line in m.irqs] == [
        "/machine/uart0[0] -> /machine/gic SPI 1 (INTID 33)"
    ]
    assert m.irqs.num_spis == 128 - 32


def test_a_gic_too_small_for_an_earlier_wire_is_refused_and_changes_nothing():
    def board(m):
        controller = m.add(GicV2("gic", num_cpu=1, num_irq=64))
        uart = m.add(Pl011("uart0", base=0x0900_0000, irq=100))
        m.realize(uart)
        m.connect_irq(uart, 0, IrqKind.SPI, 100)
        m.realize(controller)

    m = Machine("t")
    m.create()
    m.create_accel()

    with pytest.raises(
        RealizeFailedError, match=r"out of range, the GIC has SPIs 0\.\.31"
    ) as excinfo:
        m.init_board(board)

    assert excinfo.value.device == "gic"
    assert isinstance(excinfo.value.__cause__, IrqWiringError)
    assert [line.number for line in m.irqs] == [100]
    assert m.irqs.num_spis == 256


def test_a_wire_to_a_sink_that_does_not_exist_is_refused():
    def board(m):
        uart = m.add(Pl011("uart0", base=0x0900_0000, irq=1))
        m.realize(uart)
        m.connect_irq(uart, 0, IrqKind.SPI, 1, sink="/machine/gic")

    m = Machine("t")

    with pytest.raises(MachineFailedError, match="no such device") as excinfo:
        m.boot(board)

    assert isinstance(excinfo.value.__cause__, IrqWiringError)
    assert excinfo.value.__cause__.sink == "/machine/gic"
    assert list(m.irqs) == []


def test_an_accelerator_given_as_a_string_is_a_type_error():
    with pytest.raises(
        TypeError, match=r"KvmAccel\('v4.8'\) or TcgAccel\(\), not str 'kvm'"
    ):
        Machine("b", accel="kvm")  # type: ignore[arg-type]  # the misuse under test


def test_realize_all_twice_realizes_only_what_was_added_since():
    m = Machine("t")
    m.create()
    m.create_accel()
    first = m.add(Device[DeviceProps]("first"))
    m.realize_all()
    second = m.add(Device[DeviceProps]("second"), after="first")

    m.realize_all()

    assert first.is_realized
    assert second.is_realized
    assert [e.text for e in m.trace.of_kind(Kind.DEVICE)] == [
        "realize /machine/first (Device)",
        "realize /machine/second (Device)",
    ]
