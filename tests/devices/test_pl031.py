"""The PL031 RTC's node."""

from __future__ import annotations

from virtmodel.devices.base import FdtContext
from virtmodel.devices.pl031 import Pl031
from virtmodel.machine.fdt import Fdt


def test_rtc_node_has_its_clock_and_level_interrupt() -> None:
    fdt = Fdt()

    Pl031("rtc", base=0x9010000, irq=2).fdt_node(fdt, FdtContext({"clk": 0x8000}))

    node = fdt.node("/pl031@9010000")
    assert [n for n, _ in node.blob_props()] == [
        "clock-names", "clocks", "interrupts", "reg", "compatible",
    ]  # fmt: skip
    assert fdt.getprop(node.path, "clocks") == bytes.fromhex("00008000")
    assert fdt.getprop(node.path, "interrupts") == bytes.fromhex(
        "00000000 00000002 00000004"
    )
