"""The GIC device-tree binding's interrupt specifiers, shared by every device.

A device's ``interrupts`` property is three cells: the type (SPI or PPI), the
number within the type, and flags; under a GICv2 the PPI flags also carry the
mask of CPUs the interrupt goes to. The values are the binding's
(``arm,gic`` and ``arm,gic-v3``), as QEMU's virt board writes them.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "GIC_FDT_IRQ_FLAGS_EDGE_LO_HI",
    "GIC_FDT_IRQ_FLAGS_LEVEL_HI",
    "GIC_FDT_IRQ_TYPE_PPI",
    "GIC_FDT_IRQ_TYPE_SPI",
    "ppi_flags",
]

#: Interrupt specifier encoding of the GIC binding (QEMU ``include/hw/arm/fdt.h``).
GIC_FDT_IRQ_TYPE_SPI: Final = 0
GIC_FDT_IRQ_TYPE_PPI: Final = 1
GIC_FDT_IRQ_FLAGS_EDGE_LO_HI: Final = 1
GIC_FDT_IRQ_FLAGS_LEVEL_HI: Final = 4


def ppi_flags(flags: int, cpus: int | None) -> int:
    """Return PPI flags with the GICv2 CPU mask (bits [15:8]) for *cpus* CPUs.

    ``cpus=None`` (GICv3 and later) leaves the flags as they are; the mask is
    eight bits wide, as QEMU's ``deposit32`` makes it.
    """
    if cpus is None:
        return flags
    return (flags & ~0xFF00) | ((((1 << cpus) - 1) & 0xFF) << 8)
