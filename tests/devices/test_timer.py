"""The generic timer node."""

from __future__ import annotations

from virtmodel.devices.base import FdtContext
from virtmodel.devices.timer import ArmTimer
from virtmodel.machine.fdt import Fdt


def timer_cells(timer: ArmTimer) -> tuple[bytes, bytes]:
    fdt = Fdt()
    timer.fdt_node(fdt, FdtContext())
    return fdt.getprop("/timer", "compatible"), fdt.getprop("/timer", "interrupts")


def test_armv8_timer_on_gicv3_uses_level_ppis_13_14_11_10() -> None:
    compat, irqs = timer_cells(ArmTimer("t", armv8=True))

    assert compat == b"arm,armv8-timer\0arm,armv7-timer\0"
    assert irqs == bytes.fromhex(
        "00000001 0000000d 00000004 00000001 0000000e 00000004"
        "00000001 0000000b 00000004 00000001 0000000a 00000004"
    )


def test_gicv2_adds_a_cpu_mask_to_the_flags() -> None:
    _, irqs = timer_cells(ArmTimer("t", gicv2_cpus=4))

    assert irqs[8:12] == bytes.fromhex("00000f04")
