"""The platform bus node."""

from __future__ import annotations

from virtmodel.devices.base import FdtContext
from virtmodel.devices.platform_bus import PlatformBus
from virtmodel.machine.fdt import Fdt


def test_platform_bus_takes_its_interrupt_parent_from_the_intc_lookup() -> None:
    fdt = Fdt()
    fdt.add_subnode("/intc@8000000")
    fdt.setprop_cells("/intc@8000000", "phandle", 0x8005)

    PlatformBus("pbus", base=0xC000000, irq=112).fdt_node(fdt, FdtContext())

    path = "/platform-bus@c000000"
    assert fdt.getprop(path, "ranges") == bytes.fromhex(
        "00000000 00000000 0c000000 02000000"
    )
    assert fdt.getprop(path, "interrupt-parent") == bytes.fromhex("00008005")
