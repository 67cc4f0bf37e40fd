"""ARM PrimeCell PL061 GPIO controller (``/pl061@...``).

The controller allocates its own phandle when it writes its node (as QEMU's
``create_gpio_devices`` does) and publishes it under its ``label`` so the
gpio-keys or gpio-poweroff/restart nodes written next can point at it.
"""

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

__all__ = ["Pl061", "Pl061Props"]


class Pl061Props(SpiProps):
    """Properties of a :class:`Pl061`."""

    secure: bool = Field(default=False, description="secure-world only")
    label: str = Field(
        default="gpio", min_length=1, description="name its phandle is published under"
    )


class Pl061(Device[Pl061Props]):
    """ARM PrimeCell PL061 GPIO controller with 8 lines."""

    props_model = Pl061Props
    type_name = "pl061"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Allocate a phandle, write ``/pl061@<base>`` and publish the phandle."""
        p = self.props
        phandle = fdt.alloc_phandle()
        node = f"/pl061@{p.base:x}"
        fdt.add_subnode(node)
        fdt.setprop_sized_cells(node, "reg", (2, p.base), (2, p.size))
        fdt.setprop_stringlist(node, "compatible", ["arm,pl061", "arm,primecell"])
        fdt.setprop_cells(node, "#gpio-cells", 2)
        fdt.setprop_empty(node, "gpio-controller")
        fdt.setprop_cells(
            node, "interrupts", GIC_FDT_IRQ_TYPE_SPI, p.irq, GIC_FDT_IRQ_FLAGS_LEVEL_HI
        )
        fdt.setprop_cells(node, "clocks", ctx.phandle("clk"))
        fdt.setprop_string(node, "clock-names", "apb_pclk")
        fdt.setprop_cells(node, "phandle", phandle)
        if p.secure:
            fdt.setprop_string(node, "status", "disabled")
            fdt.setprop_string(node, "secure-status", "okay")
        ctx.phandles[p.label] = phandle
