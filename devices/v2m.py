"""ARM GICv2m MSI frame: a userspace device even under KVM (QEMU never backs it)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from devices.base import Device, DeviceProps

#: Size of the MSI frame.
V2M_SIZE = 0x1000


class V2mProps(DeviceProps):
    """Properties of a :class:`V2m`."""

    base_spi: int = Field(default=48, ge=0, le=987, description="first SPI it raises")
    num_spi: int = Field(default=64, ge=1, le=1020, description="SPIs it owns")


class V2m(Device[V2mProps]):
    """A GICv2m frame that turns MSI writes into SPIs."""

    props_model = V2mProps

    def __init__(self, name: str = "v2m", **props: Any) -> None:
        super().__init__(name, **props)

    def region_sizes(self) -> dict[str, int]:
        """Return the MMIO region this frame needs."""
        return {f"{self.name}.frame": V2M_SIZE}
