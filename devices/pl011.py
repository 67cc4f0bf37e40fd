"""ARM PrimeCell PL011 UART (``/pl011@...``), the console of ``virt``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from virtmodel.devices.base import Device, FdtContext
from virtmodel.devices.gic_binding import (
    GIC_FDT_IRQ_FLAGS_LEVEL_HI,
    GIC_FDT_IRQ_TYPE_SPI,
)
from virtmodel.devices.mmio import SpiProps

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt

__all__ = ["Pl011", "Pl011Props"]


class Pl011Props(SpiProps):
    """Properties of a :class:`Pl011`."""

    secure: bool = Field(
        default=False,
        description="secure-world only (status disabled, secure-status okay)",
    )


class Pl011(Device[Pl011Props]):
    r"""ARM PrimeCell PL011 UART.

    Its node names it the console: ``/chosen/stdout-path`` for the normal
    UART, ``/secure-chosen/stdout-path`` for the secure one.

    Example:
        >>> from virtmodel.machine.fdt import Fdt
        >>> from virtmodel.devices.base import FdtContext
        >>> fdt = Fdt()
        >>> fdt.add_subnode("/chosen")
        >>> uart = Pl011("uart", base=0x9000000, irq=1)
        >>> uart.fdt_node(fdt, FdtContext({"clk": 0x8000}))
        >>> fdt.getprop("/chosen", "stdout-path")
        b'/pl011@9000000\x00'
    """

    props_model = Pl011Props
    type_name = "pl011"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/pl011@<base>`` and point the (secure-)chosen console at it."""
        p = self.props
        node = f"/pl011@{p.base:x}"
        clk = ctx.phandle("clk")
        fdt.add_subnode(node)
        fdt.setprop_stringlist(node, "compatible", ["arm,pl011", "arm,primecell"])
        fdt.setprop_sized_cells(node, "reg", (2, p.base), (2, p.size))
        fdt.setprop_cells(
            node, "interrupts", GIC_FDT_IRQ_TYPE_SPI, p.irq, GIC_FDT_IRQ_FLAGS_LEVEL_HI
        )
        fdt.setprop_cells(node, "clocks", clk, clk)
        fdt.setprop_stringlist(node, "clock-names", ["uartclk", "apb_pclk"])
        if not p.secure:
            fdt.setprop_string("/chosen", "stdout-path", node)
        else:
            fdt.setprop_string(node, "status", "disabled")
            fdt.setprop_string(node, "secure-status", "okay")
            fdt.setprop_string("/secure-chosen", "stdout-path", node)
