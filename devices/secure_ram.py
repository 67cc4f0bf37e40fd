"""Secure-world RAM (``/secram@...``), present with ``secure=on``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from virtmodel.devices.base import Device, FdtContext
from virtmodel.devices.mmio import MmioProps

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt

__all__ = ["SecureRam", "SecureRamProps"]


class SecureRamProps(MmioProps):
    """Properties of a :class:`SecureRam`."""

    size: int = Field(default=0x1000000, gt=0, lt=1 << 64, description="bytes of RAM")


class SecureRam(Device[SecureRamProps]):
    """RAM only the secure world may use."""

    props_model = SecureRamProps
    type_name = "secure-ram"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/secram@<base>``: a memory node disabled for the normal world."""
        p = self.props
        node = f"/secram@{p.base:x}"
        fdt.add_subnode(node)
        fdt.setprop_string(node, "device_type", "memory")
        fdt.setprop_sized_cells(node, "reg", (2, p.base), (2, p.size))
        fdt.setprop_string(node, "status", "disabled")
        fdt.setprop_string(node, "secure-status", "okay")
