"""The generic PCIe host bridge (GPEX) with ECAM (``/pcie@...``).

Legacy INTx: slot *s*, pin *p* (1..4) is swizzled onto SPI
``irq + (p - 1 + s) % 4``; the ``interrupt-map`` lists slots 0..3 and the
mask repeats every four slots.  MSIs go to the ``"msi"`` controller (ITS or
GICv2m) through ``msi-map`` when the board published one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pydantic import Field, model_validator

from virtmodel.devices.base import Device, DeviceProps, FdtContext
from virtmodel.devices.gic_binding import (
    GIC_FDT_IRQ_FLAGS_LEVEL_HI,
    GIC_FDT_IRQ_TYPE_SPI,
)

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt

__all__ = ["GPEX_NUM_IRQS", "Gpex", "GpexProps"]

#: INTA..INTD.
GPEX_NUM_IRQS: Final = 4
#: ``ranges`` space codes of the PCI bus binding.
_RANGE_IOPORT: Final = 0x01000000
_RANGE_MMIO: Final = 0x02000000
_RANGE_MMIO_64BIT: Final = 0x03000000
_ECAM_BUS_SIZE: Final = 1 << 20
_U64 = 1 << 64

Window = tuple[int, int]


class GpexProps(DeviceProps):
    """Where the host bridge's windows are; each is ``(base, size)``."""

    ecam: Window = Field(description="config space; 1 MiB per bus")
    mmio: Window = Field(
        description="32-bit MMIO window (identity mapped); names the node"
    )
    pio: Window = Field(description="I/O port window, at PCI address 0")
    mmio_high: Window | None = Field(default=None, description="64-bit MMIO window")
    irq: int = Field(default=3, ge=0, lt=988, description="SPI of INTA; INTB..D follow")
    iommu_map: bool = Field(
        default=False, description="send requester IDs to the board's 'iommu' phandle"
    )

    @model_validator(mode="after")
    def _check_windows(self) -> GpexProps:
        for name in ("ecam", "mmio", "pio", "mmio_high"):
            window = getattr(self, name)
            if window is None:
                continue
            base, size = window
            if base < 0 or size <= 0 or base + size > _U64:
                msg = f"{name} window ({base:#x}, {size:#x}) is not a range below 2**64"
                raise ValueError(msg)
        if self.ecam[1] % _ECAM_BUS_SIZE:
            msg = f"ecam size {self.ecam[1]:#x} is not a whole number of 1 MiB buses"
            raise ValueError(msg)
        return self


class Gpex(Device[GpexProps]):
    """A PCIe host bridge whose root bus the guest finds through ECAM."""

    props_model = GpexProps
    type_name = "gpex-pcihost"

    @property
    def nr_buses(self) -> int:
        """Return the number of buses the ECAM window holds."""
        return self.props.ecam[1] // _ECAM_BUS_SIZE

    @property
    def node_path(self) -> str:
        """Return the node path, named after the 32-bit MMIO base."""
        return f"/pcie@{self.props.mmio[0]:x}"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/pcie@<mmio base>``; the IOMMU part is :meth:`fdt_iommu_map`."""
        p = self.props
        node = self.node_path
        fdt.add_subnode(node)
        fdt.setprop_string(node, "compatible", "pci-host-ecam-generic")
        fdt.setprop_string(node, "device_type", "pci")
        fdt.setprop_cells(node, "#address-cells", 3)
        fdt.setprop_cells(node, "#size-cells", 2)
        fdt.setprop_cells(node, "linux,pci-domain", 0)
        fdt.setprop_cells(node, "bus-range", 0, self.nr_buses - 1)
        fdt.setprop_empty(node, "dma-coherent")
        if "msi" in ctx.phandles:
            fdt.setprop_cells(node, "msi-map", 0, ctx.phandle("msi"), 0, 0x10000)
        fdt.setprop_sized_cells(node, "reg", (2, p.ecam[0]), (2, p.ecam[1]))
        ranges = [
            (1, _RANGE_IOPORT), (2, 0), (2, p.pio[0]), (2, p.pio[1]),
            (1, _RANGE_MMIO), (2, p.mmio[0]), (2, p.mmio[0]), (2, p.mmio[1]),
        ]  # fmt: skip
        if p.mmio_high is not None:
            base, size = p.mmio_high
            ranges += [(1, _RANGE_MMIO_64BIT), (2, base), (2, base), (2, size)]
        fdt.setprop_sized_cells(node, "ranges", *ranges)
        fdt.setprop_cells(node, "#interrupt-cells", 1)
        gic = ctx.phandle("gic")
        imap: list[int] = []
        for slot in range(4):
            for pin in range(GPEX_NUM_IRQS):
                spi = p.irq + (pin + slot) % GPEX_NUM_IRQS
                imap += (slot << 11, 0, 0, pin + 1, gic, 0, 0)
                imap += (GIC_FDT_IRQ_TYPE_SPI, spi, GIC_FDT_IRQ_FLAGS_LEVEL_HI)
        fdt.setprop_cells(node, "interrupt-map", *imap)
        # The first mask cell is PCI_DEVFN(3, 0) byte-swapped as a 16-bit value,
        # which QEMU computes with cpu_to_be16 on a little-endian host.
        fdt.setprop_cells(node, "interrupt-map-mask", 0x1800, 0, 0, 7)

    def fdt_iommu_map(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Add ``iommu-map`` (every requester ID to the ``"iommu"`` phandle) if on."""
        if self.props.iommu_map:
            fdt.setprop_cells(
                self.node_path, "iommu-map", 0, ctx.phandle("iommu"), 0, 0x10000
            )
