"""ARM GICv2m MSI frame: a userspace device even under KVM (QEMU never backs it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from virtmodel.devices.base import Device, DeviceProps, FdtContext
from virtmodel.devices.gic_fdt import msi_node

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt

#: Size of the MSI frame.
V2M_SIZE = 0x1000


class V2mProps(DeviceProps):
    """Properties of a :class:`V2m`."""

    base: int = Field(default=0x0802_0000, ge=0, description="MSI frame base")
    base_spi: int = Field(default=48, ge=0, le=987, description="first SPI it raises")
    num_spi: int = Field(default=64, ge=1, le=1020, description="SPIs it owns")


class V2m(Device[V2mProps]):
    """A GICv2m frame that turns MSI writes into SPIs."""

    props_model = V2mProps
    type_name = "arm-gicv2m"

    def __init__(self, name: str = "v2m", **props: Any) -> None:
        super().__init__(name, **props)

    def regions(self) -> dict[str, tuple[int, int]]:
        """Return the MMIO region to map: ``(base, size)`` by name."""
        return {f"{self.name}.frame": (self.props.base, V2M_SIZE)}

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/intc/v2m@<base>`` and publish its phandle as "msi"."""
        frame = (self.props.base, V2M_SIZE)
        msi_node(fdt, ctx, "v2m", frame, "arm,gic-v2m-frame", msi_cells=False)
