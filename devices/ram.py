"""Guest RAM: one region of main memory."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from devices.base import Device, DeviceProps


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
        if self.machine is not None:
            self.machine.memory.add(
                f"{self.name}",
                self.props.base,
                self.props.size,
                owner=self.path,
                kind="ram",
                align=0x1000,
            )
