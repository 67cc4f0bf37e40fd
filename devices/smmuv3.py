"""Arm SMMUv3 IOMMU (``/smmuv3@...``), present with ``iommu=smmuv3``.

The board allocates the IOMMU phandle before the node exists (QEMU does it
in ``create_pcie``) and publishes it as ``"iommu"``; the node picks it up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pydantic import Field

from virtmodel.devices.base import Device, FdtContext
from virtmodel.devices.gic_binding import (
    GIC_FDT_IRQ_FLAGS_EDGE_LO_HI,
    GIC_FDT_IRQ_TYPE_SPI,
)
from virtmodel.devices.mmio import SpiProps

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt

__all__ = ["SMMU_IRQ_NAMES", "Smmuv3", "Smmuv3Props"]

#: The four wired interrupts, consecutive SPIs from ``irq``, in this order.
SMMU_IRQ_NAMES: Final = ("eventq", "priq", "cmdq-sync", "gerror")


class Smmuv3Props(SpiProps):
    """Properties of an :class:`Smmuv3`."""

    size: int = Field(
        default=0x20000, gt=0, lt=1 << 64, description="MMIO size in bytes"
    )


class Smmuv3(Device[Smmuv3Props]):
    """SMMUv3 translating the PCIe root bus."""

    props_model = Smmuv3Props
    type_name = "arm-smmuv3"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/smmuv3@<base>`` with the board's ``"iommu"`` phandle."""
        p = self.props
        node = f"/smmuv3@{p.base:x}"
        fdt.add_subnode(node)
        fdt.setprop_string(node, "compatible", "arm,smmu-v3")
        fdt.setprop_sized_cells(node, "reg", (2, p.base), (2, p.size))
        cells: list[int] = []
        for i in range(len(SMMU_IRQ_NAMES)):
            cells += (GIC_FDT_IRQ_TYPE_SPI, p.irq + i, GIC_FDT_IRQ_FLAGS_EDGE_LO_HI)
        fdt.setprop_cells(node, "interrupts", *cells)
        fdt.setprop_stringlist(node, "interrupt-names", SMMU_IRQ_NAMES)
        fdt.setprop_empty(node, "dma-coherent")
        fdt.setprop_cells(node, "#iommu-cells", 1)
        fdt.setprop_cells(node, "phandle", ctx.phandle("iommu"))
