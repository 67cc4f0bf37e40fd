"""The CPUs' performance monitors' device-tree node (``/pmu``).

An ARMv8 PMU gets ``arm,armv8-pmuv3`` and its PPI (7); an ARMv7 CPU's PMU gets
an empty node, exactly as QEMU 7.2 writes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from pydantic import Field

from virtmodel.devices.base import Device, FdtContext
from virtmodel.devices.gic_binding import (
    GIC_FDT_IRQ_FLAGS_LEVEL_HI,
    GIC_FDT_IRQ_TYPE_PPI,
    ppi_flags,
)
from virtmodel.devices.mmio import PpiMaskProps

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt

__all__ = ["PMU_PPI", "ArmPmu", "ArmPmuProps"]

#: The PMU overflow interrupt (PPI 7, INTID 23).
PMU_PPI: Final = 7


class ArmPmuProps(PpiMaskProps):
    """Properties of an :class:`ArmPmu`."""

    kind: Literal["armv7", "armv8"] = Field(
        default="armv8", description="PMU architecture"
    )


class ArmPmu(Device[ArmPmuProps]):
    """The PMU shared by all CPUs."""

    props_model = ArmPmuProps
    type_name = "arm-pmu"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/pmu`` (empty for an ARMv7 PMU)."""
        fdt.add_subnode("/pmu")
        if self.props.kind == "armv8":
            fdt.setprop_string("/pmu", "compatible", "arm,armv8-pmuv3")
            flags = ppi_flags(GIC_FDT_IRQ_FLAGS_LEVEL_HI, self.props.gicv2_cpus)
            fdt.setprop_cells(
                "/pmu", "interrupts", GIC_FDT_IRQ_TYPE_PPI, PMU_PPI, flags
            )
