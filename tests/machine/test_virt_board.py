import errno
import re

import pytest

from virtmodel.devices import RealizeError
from virtmodel.machine import IrqKind, MachineFailedError
from virtmodel.machine.boards.virt.board import boot_virt, create_virt, virt_board
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.dtb import build_virt_dtb
from virtmodel.machine.trace import Kind


def config(machine="virt,gic-version=3,its=on", smp="4", accel="kvm", cpu="cortex-a57"):
    return VirtConfig.from_options(machine, smp=smp, memory="1G", cpu=cpu, accel=accel)


def address_writes(machine):
    return [
        e.text.split("(", 1)[1].split(",")[0] + ":" + e.text.split(", ")[2]
        for e in machine.trace.of_kind(Kind.KVM)
        if "GRP_ADDR" in e.text and "SET_DEVICE_ATTR" in e.text
    ]


@pytest.mark.parametrize(
    ("machine_opts", "smp", "era", "expected"),
    [
        (
            "virt,gic-version=3,its=on",
            "4",
            "v6.1",
            [
                "its:VGIC_ITS_ADDR_TYPE",
                "vgic-v3:VGIC_V3_ADDR_TYPE_REDIST_REGION",
                "vgic-v3:VGIC_V3_ADDR_TYPE_DIST",
            ],
        ),
        (
            "virt,gic-version=3,its=on",
            "200",
            "v6.1",
            [
                "its:VGIC_ITS_ADDR_TYPE",
                "vgic-v3:VGIC_V3_ADDR_TYPE_REDIST_REGION",
                "vgic-v3:VGIC_V3_ADDR_TYPE_REDIST_REGION",
                "vgic-v3:VGIC_V3_ADDR_TYPE_DIST",
            ],
        ),
        (
            "virt,gic-version=3,its=on",
            "4",
            "v4.8",
            [
                "its:VGIC_ITS_ADDR_TYPE",
                "vgic-v3:VGIC_V3_ADDR_TYPE_REDIST",
                "vgic-v3:VGIC_V3_ADDR_TYPE_DIST",
            ],
        ),
        (
            "virt,gic-version=2",
            "2",
            "v4.8",  # the 6.1 host measured has no GICv2 emulation
            ["vgic-v2:VGIC_V2_ADDR_TYPE_CPU", "vgic-v2:VGIC_V2_ADDR_TYPE_DIST"],
        ),
    ],
)
def test_qemu_lifo_writes_addresses_last_queued_first(machine_opts, smp, era, expected):
    m = create_virt(
        config(machine_opts, smp), kernel_semantics=era, notifiers="qemu-lifo"
    )

    boot_virt(m)

    assert address_writes(m) == expected


def test_redistributor_regions_are_written_in_index_order_in_both_modes():
    for mode in ("qemu-lifo", "ordered"):
        m = create_virt(config(smp="200"), notifiers=mode)
        boot_virt(m)

        lines = [
            e.text
            for e in m.trace.of_kind(Kind.KVM)
            if "REDIST_REGION, 0x" in e.text and "SET" in e.text
        ]
        raw = [re.search(r"REDIST_REGION, (0x[0-9a-f]+)", t) for t in lines]
        values = [int(match[1], 16) for match in raw if match is not None]

        assert [v & 0xFFF for v in values] == [0, 1], mode
        assert [v >> 52 for v in values] == [123, 77], mode
        # The raw value is shown decoded next to it.
        assert "{base=0x080a0000, count=123, index=0}" in lines[0], mode
        assert (
            f"{{base=0x{values[1] & ((1 << 52) - 0x10000):08x}, count=77, index=1}}"
            in lines[1]
        )


def test_ordered_mode_declares_the_kernel_s_region_order():
    m = create_virt(config(smp="200"), notifiers="ordered")

    boot_virt(m)

    chain = m.init_done.registry.explain(
        "kvm-set-addr:gic-redist0", "kvm-set-addr:gic-redist1"
    )
    assert "after" in str(chain)


def test_two_redistributor_regions_need_a_kernel_with_region_support():
    m = create_virt(config(smp="200"), kernel_semantics="v4.8")

    with pytest.raises(MachineFailedError, match="realize of 'gic'") as info:
        boot_virt(m)

    assert info.value.device == "gic"
    assert isinstance(info.value.cause, RealizeError)
    assert "at most 123 vCPUs" in str(info.value)


def test_machine_done_builds_the_same_dtb_as_virtmodel_dtb():
    cfg = config(accel="tcg", machine="virt,gic-version=3,its=on,dtb-randomness=off")
    m = create_virt(cfg, seed=7)

    boot_virt(m)

    assert virt_board(m).dtb == build_virt_dtb(cfg, seed=7).to_dtb()


def test_board_maps_qemu_addresses_and_wires_qemu_irqs():
    m = create_virt(config(accel="tcg"))

    boot_virt(m)

    assert m.memory["uart0"].base == 0x0900_0000
    assert m.memory["its.ctrl"].base == 0x0808_0000
    assert m.memory["gic.redist0"].size == 4 * 0x20000
    spis = {line.source: line.number for line in m.irqs if line.kind is IrqKind.SPI}
    assert spis["/machine/uart0"] == 1
    assert spis["/machine/rtc"] == 2
    assert spis["/machine/virtio-mmio0"] == 16
    assert spis["/machine/virtio-mmio31"] == 47
    ppis = [ln for ln in m.irqs if ln.kind is IrqKind.PPI and ln.cpu == 3]
    assert sorted(ln.number for ln in ppis) == [7, 10, 11, 13, 14]


def test_virt_notifiers_declare_everything_they_touch():
    m = create_virt(
        config(), kernel_semantics="v4.8-rc1", its_init="init-done", strict=True
    )

    boot_virt(m)

    assert m.init_done.registry.hazards() == []


def test_dropping_the_its_edge_is_a_reported_hazard():
    m = create_virt(
        config(),
        kernel_semantics="v4.8-rc1",
        its_init="init-done",
        drop_edges=[("its-ctrl-init", "kvm-set-addr:its")],
    )
    m.create()
    m.create_accel()
    m.init_board(virt_board(m).init)

    hazards = m.init_done.registry.hazards()

    assert len(hazards) == 1
    assert "kvm.its.addr" in str(hazards[0])


def test_v4_8_fails_at_first_run_without_its_init():
    m = create_virt(config(), kernel_semantics="v4.8", its_init="init-done")
    m.create()
    m.create_accel()
    m.init_board(virt_board(m).init)
    m.enter_ready()
    # Run every notifier but the ITS init: the v4.8 kernel refuses the first run.
    for name in m.init_done.registry.order():
        if name != "its-ctrl-init":
            next(
                n for n in m.init_done.registry.notifiers() if n.name == name
            ).callback(m)
    with pytest.raises(MachineFailedError) as info:
        m.start()

    assert info.value.errno == errno.EBUSY
    assert info.value.call == "KVM_RUN(vcpu0)"
