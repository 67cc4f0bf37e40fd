"""ARM PrimeCell PL031 real-time clock (``/pl031@...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from virtmodel.devices.base import Device, FdtContext
from virtmodel.devices.gic_binding import (
    GIC_FDT_IRQ_FLAGS_LEVEL_HI,
    GIC_FDT_IRQ_TYPE_SPI,
)
from virtmodel.devices.mmio import SpiProps

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt

__all__ = ["Pl031"]


class Pl031(Device[SpiProps]):
    """ARM PrimeCell PL031 RTC, clocked by the board's ``apb-pclk``."""

    props_model = SpiProps
    type_name = "pl031"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/pl031@<base>``."""
        p = self.props
        node = f"/pl031@{p.base:x}"
        fdt.add_subnode(node)
        fdt.setprop_stringlist(node, "compatible", ["arm,pl031", "arm,primecell"])
        fdt.setprop_sized_cells(node, "reg", (2, p.base), (2, p.size))
        fdt.setprop_cells(
            node, "interrupts", GIC_FDT_IRQ_TYPE_SPI, p.irq, GIC_FDT_IRQ_FLAGS_LEVEL_HI
        )
        fdt.setprop_cells(node, "clocks", ctx.phandle("clk"))
        fdt.setprop_string(node, "clock-names", "apb_pclk")
