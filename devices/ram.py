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
    backends: tuple[tuple[str, int], ...] = Field(
        default=(),
        description="memory backends (id, bytes) that make the RAM up, in order",
    )


class Ram(Device[RamProps]):
    """A block of RAM; realize maps it into the machine's memory map."""

    props_model = RamProps

    def __init__(self, name: str = "ram", **props: Any) -> None:
        super().__init__(name, **props)

    def on_realize(self) -> None:
        """Map the RAM (as QEMU's board does right after creating it).

        Made of memory backends (``-numa ...,memdev=``), the RAM is one
        region a backend, ``<name>/<backend id>``, each after the previous
        one: they are separate blocks of host memory (KVM gives each its
        own memory slot).

        Raises:
            ValueError: The backends do not add up to the RAM's size.
        """
        if self.context is None:
            return
        p = self.props
        if not p.backends:
            self.context.map_mmio(self.name, p.base, p.size, kind="ram", align=0x1000)
            return
        total = sum(size for _, size in p.backends)
        if total != p.size:
            msg = f"{self.name}: backends hold 0x{total:x} bytes, not 0x{p.size:x}"
            raise ValueError(msg)
        base = p.base
        for backend, size in p.backends:
            self.context.map_mmio(
                f"{self.name}/{backend}", base, size, kind="ram", align=0x1000
            )
            base += size

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/memory@<base>``."""
        node = f"/memory@{self.props.base:x}"
        fdt.add_subnode(node)
        fdt.setprop_string(node, "device_type", "memory")
        fdt.setprop_sized_cells(node, "reg", (2, self.props.base), (2, self.props.size))
