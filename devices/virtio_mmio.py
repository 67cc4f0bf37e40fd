"""A virtio-mmio transport (``/virtio_mmio@...``); ``virt`` has 32 of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from virtmodel.devices.base import Device, FdtContext
from virtmodel.devices.gic_binding import (
    GIC_FDT_IRQ_FLAGS_EDGE_LO_HI,
    GIC_FDT_IRQ_TYPE_SPI,
)
from virtmodel.devices.mmio import SpiProps

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt

__all__ = ["VirtioMmio", "VirtioMmioProps"]


class VirtioMmioProps(SpiProps):
    """Properties of a :class:`VirtioMmio` transport (0x200 bytes each)."""

    size: int = Field(default=0x200, gt=0, lt=1 << 64, description="MMIO size in bytes")


class VirtioMmio(Device[VirtioMmioProps]):
    """One virtio-mmio transport with an edge-triggered interrupt."""

    props_model = VirtioMmioProps
    type_name = "virtio-mmio"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/virtio_mmio@<base>``."""
        p = self.props
        node = f"/virtio_mmio@{p.base:x}"
        fdt.add_subnode(node)
        fdt.setprop_string(node, "compatible", "virtio,mmio")
        fdt.setprop_sized_cells(node, "reg", (2, p.base), (2, p.size))
        fdt.setprop_cells(
            node,
            "interrupts",
            GIC_FDT_IRQ_TYPE_SPI,
            p.irq,
            GIC_FDT_IRQ_FLAGS_EDGE_LO_HI,
        )
        fdt.setprop_empty(node, "dma-coherent")
