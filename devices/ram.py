"""Guest RAM: one region of main memory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from virtmodel.devices.base import Device, DeviceProps, FdtContext

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt


class RamProps(DeviceProps):
    """Properties of a :class:`Ram`."""

    size: int = Field(default=128 << 20, gt=0, description="bytes")
    base: int = Field(default=0x4000_0000, ge=0, description="guest-physical base")


class Ram(Device[RamProps]):
    """A block of RAM; realize maps it into the machine's memory map."""

    props_model = RamProps

    def __init__(self, name: str = "ram", **props: Any) -> None:
        super().__init__(name, **props)

    def on_realize(self) -> None:
        """Map the RAM (as QEMU's board does right after creating it)."""
        if self.context is not None:
            self.context.map_mmio(
                self.name, self.props.base, self.props.size, kind="ram", align=0x1000
            )

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/memory@<base>``."""
        node = f"/memory@{self.props.base:x}"
        fdt.add_subnode(node)
        fdt.setprop_string(node, "device_type", "memory")
        fdt.setprop_sized_cells(node, "reg", (2, self.props.base), (2, self.props.size))
