"""Properties shared by memory-mapped (sysbus) devices: a base and a size.

Each device-tree node of such a device is named ``<name>@<base in hex>`` and
its ``reg`` is two 2-cell (address, size) values, as on QEMU's ``virt``.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from virtmodel.devices.base import DeviceProps

__all__ = ["MmioProps", "PpiMaskProps", "SpiProps"]

_LIMIT = 1 << 64


class MmioProps(DeviceProps):
    """A device with one MMIO region ``[base, base + size)``."""

    base: int = Field(default=0, ge=0, lt=_LIMIT, description="MMIO base address")
    size: int = Field(default=0x1000, gt=0, lt=_LIMIT, description="MMIO size in bytes")

    @model_validator(mode="after")
    def _check_end(self) -> MmioProps:
        if self.base + self.size > _LIMIT:
            end = self.base + self.size
            msg = f"region [0x{self.base:08x}, 0x{end:08x}) ends past 2**64"
            raise ValueError(msg)
        return self


class SpiProps(MmioProps):
    """An MMIO device with one shared peripheral interrupt (SPI number, INTID - 32)."""

    irq: int = Field(default=0, ge=0, lt=988, description="SPI number (GIC INTID - 32)")


class PpiMaskProps(DeviceProps):
    """A per-CPU interrupt source whose GICv2 node carries a CPU target mask."""

    gicv2_cpus: int | None = Field(
        default=None,
        ge=1,
        le=8,
        description="CPU count for the GICv2 PPI mask; None on v3+",
    )
