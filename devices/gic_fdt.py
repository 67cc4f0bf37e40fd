"""Device-tree nodes shared by the GIC models: the ``/intc`` node and MSI children.

A GIC node allocates its phandle first, makes itself the root's
``interrupt-parent``, and publishes the phandle as ``ctx.phandles["gic"]``;
an ITS or GICv2m child publishes ``"msi"``. This is the order QEMU's virt
board uses, so phandles match QEMU's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from virtmodel.devices.gic_binding import (
    GIC_FDT_IRQ_FLAGS_LEVEL_HI,
    GIC_FDT_IRQ_TYPE_PPI,
)

if TYPE_CHECKING:
    from virtmodel.devices.base import FdtContext
    from virtmodel.machine.fdt import Fdt

#: PPI of the GIC maintenance interrupt (virtualization extensions).
ARCH_GIC_MAINT_IRQ: Final = 9


def intc_node(
    fdt: Fdt,
    ctx: FdtContext,
    *,
    compatible: str,
    frames: Sequence[tuple[int, int]],
    redist_regions: int | None,
    maintenance_irq: bool,
) -> str:
    """Write ``/intc@<dist base>`` and return its path."""
    gic = fdt.alloc_phandle()
    ctx.phandles["gic"] = gic
    fdt.setprop_cells("/", "interrupt-parent", gic)
    node = f"/intc@{frames[0][0]:x}"
    fdt.add_subnode(node)
    fdt.setprop_cells(node, "#interrupt-cells", 3)
    fdt.setprop_empty(node, "interrupt-controller")
    fdt.setprop_cells(node, "#address-cells", 2)
    fdt.setprop_cells(node, "#size-cells", 2)
    fdt.setprop_empty(node, "ranges")
    fdt.setprop_string(node, "compatible", compatible)
    if redist_regions is not None:
        fdt.setprop_cells(node, "#redistributor-regions", redist_regions)
    fdt.setprop_sized_cells(node, "reg", *[(2, v) for f in frames for v in f])
    if maintenance_irq:
        fdt.setprop_cells(
            node,
            "interrupts",
            GIC_FDT_IRQ_TYPE_PPI,
            ARCH_GIC_MAINT_IRQ,
            GIC_FDT_IRQ_FLAGS_LEVEL_HI,
        )
    fdt.setprop_cells(node, "phandle", gic)
    return node


def msi_node(
    fdt: Fdt,
    ctx: FdtContext,
    name: str,
    frame: tuple[int, int],
    compatible: str,
    *,
    msi_cells: bool,
) -> None:
    """Write an MSI controller under ``/intc`` and publish its phandle as "msi"."""
    msi = fdt.alloc_phandle()
    ctx.phandles["msi"] = msi
    # QEMU names the parent "/intc"; the lookup finds intc@<dist base>.
    node = f"/intc/{name}@{frame[0]:x}"
    fdt.add_subnode(node)
    fdt.setprop_string(node, "compatible", compatible)
    fdt.setprop_empty(node, "msi-controller")
    if msi_cells:
        fdt.setprop_cells(node, "#msi-cells", 1)
    fdt.setprop_sized_cells(node, "reg", (2, frame[0]), (2, frame[1]))
    fdt.setprop_cells(node, "phandle", msi)
