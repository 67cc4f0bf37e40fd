"""The platform bus (``/platform-bus@...``): a window for dynamic sysbus devices.

Its node is written when the machine is done (QEMU's
``platform_bus_add_all_fdt_nodes``); it takes its ``interrupt-parent`` from the
node that a path lookup of ``intc`` finds, as QEMU does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from virtmodel.devices.base import Device, FdtContext
from virtmodel.devices.mmio import SpiProps

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt

__all__ = ["PlatformBus", "PlatformBusProps"]


class PlatformBusProps(SpiProps):
    """Properties of a :class:`PlatformBus`."""

    size: int = Field(default=0x2000000, gt=0, lt=1 << 32, description="window size")
    num_irqs: int = Field(
        default=64, ge=0, description="SPIs from irq given to devices"
    )
    intc: str = Field(default="/intc", description="path of the interrupt controller")


class PlatformBus(Device[PlatformBusProps]):
    """A ``simple-bus`` with 1-cell addresses for devices plugged at run time."""

    props_model = PlatformBusProps
    type_name = "platform-bus-device"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/platform-bus@<base>``."""
        p = self.props
        node = f"/platform-bus@{p.base:x}"
        fdt.add_subnode(node)
        fdt.setprop_stringlist(node, "compatible", ["qemu,platform", "simple-bus"])
        fdt.setprop_cells(node, "#size-cells", 1)
        fdt.setprop_cells(node, "#address-cells", 1)
        fdt.setprop_cells(node, "ranges", 0, p.base >> 32, p.base & 0xFFFFFFFF, p.size)
        fdt.setprop_cells(node, "interrupt-parent", fdt.get_phandle(p.intc))
