"""The Arm generic timer's device-tree node (``/timer``).

It is not an MMIO device: four per-CPU interrupts (PPIs) in the binding's
order: secure EL1 physical (13), non-secure EL1 physical (14), virtual (11)
and EL2 physical (10).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pydantic import Field

from virtmodel.devices.base import Device, FdtContext
from virtmodel.devices.gic_binding import (
    GIC_FDT_IRQ_FLAGS_EDGE_LO_HI,
    GIC_FDT_IRQ_FLAGS_LEVEL_HI,
    GIC_FDT_IRQ_TYPE_PPI,
    ppi_flags,
)
from virtmodel.devices.mmio import PpiMaskProps

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt

__all__ = ["TIMER_PPIS", "ArmTimer", "ArmTimerProps"]

#: PPI numbers in the order the binding lists them.
TIMER_PPIS: Final = (13, 14, 11, 10)


class ArmTimerProps(PpiMaskProps):
    """Properties of an :class:`ArmTimer`."""

    armv8: bool = Field(
        default=False, description="also compatible with arm,armv8-timer"
    )
    edge: bool = Field(default=False, description="edge-triggered (virt <= 2.8)")


class ArmTimer(Device[ArmTimerProps]):
    """The CPUs' architected timer."""

    props_model = ArmTimerProps
    type_name = "arm-timer"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/timer``."""
        p = self.props
        level = GIC_FDT_IRQ_FLAGS_EDGE_LO_HI if p.edge else GIC_FDT_IRQ_FLAGS_LEVEL_HI
        flags = ppi_flags(level, p.gicv2_cpus)
        fdt.add_subnode("/timer")
        compat = (
            ["arm,armv8-timer", "arm,armv7-timer"] if p.armv8 else ["arm,armv7-timer"]
        )
        fdt.setprop_stringlist("/timer", "compatible", compat)
        fdt.setprop_empty("/timer", "always-on")
        cells: list[int] = []
        for ppi in TIMER_PPIS:
            cells += (GIC_FDT_IRQ_TYPE_PPI, ppi, flags)
        fdt.setprop_cells("/timer", "interrupts", *cells)
