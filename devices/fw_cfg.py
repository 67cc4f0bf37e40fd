"""QEMU's firmware configuration device, MMIO flavour (``/fw-cfg@...``).

Layout of its 0x18 bytes: data at +0 (8 bytes wide), selector at +8, DMA
address at +16.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from virtmodel.devices.base import Device, FdtContext
from virtmodel.devices.mmio import MmioProps

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt

__all__ = ["FwCfg", "FwCfgProps"]


class FwCfgProps(MmioProps):
    """Properties of a :class:`FwCfg`."""

    size: int = Field(default=0x18, gt=0, lt=1 << 64, description="MMIO size in bytes")


class FwCfg(Device[FwCfgProps]):
    """fw_cfg over MMIO with DMA."""

    props_model = FwCfgProps
    type_name = "fw_cfg_mem"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/fw-cfg@<base>``."""
        p = self.props
        node = f"/fw-cfg@{p.base:x}"
        fdt.add_subnode(node)
        fdt.setprop_string(node, "compatible", "qemu,fw-cfg-mmio")
        fdt.setprop_sized_cells(node, "reg", (2, p.base), (2, p.size))
        fdt.setprop_empty(node, "dma-coherent")
