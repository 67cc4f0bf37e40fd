"""Device models built on the machine framework's lifecycle contract."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from virtmodel.devices.base import Device, DeviceProps, FdtContext
    from virtmodel.devices.cfi_flash import CfiFlash
    from virtmodel.devices.cpu import ArmCpu
    from virtmodel.devices.errors import (
        DeviceError,
        LifecycleError,
        PropertyError,
        RealizeError,
    )
    from virtmodel.devices.fw_cfg import FwCfg
    from virtmodel.devices.gicv2 import GicV2
    from virtmodel.devices.gicv3 import GicV3
    from virtmodel.devices.gpex import Gpex
    from virtmodel.devices.gpio_keys import GpioKeys, GpioPwr
    from virtmodel.devices.its import Its
    from virtmodel.devices.pl011 import Pl011
    from virtmodel.devices.pl031 import Pl031
    from virtmodel.devices.pl061 import Pl061
    from virtmodel.devices.platform_bus import PlatformBus
    from virtmodel.devices.pmu import ArmPmu
    from virtmodel.devices.psci import Psci
    from virtmodel.devices.ram import Ram
    from virtmodel.devices.secure_ram import SecureRam
    from virtmodel.devices.smmuv3 import Smmuv3
    from virtmodel.devices.timer import ArmTimer
    from virtmodel.devices.v2m import V2m
    from virtmodel.devices.virtio_mmio import VirtioMmio
    from virtmodel.machine.device import State

# Exported lazily (PEP 562): a command imports only the device models it
# builds, and none of them (nor pydantic) when it builds none.
_EXPORTS = {
    "ArmCpu": "virtmodel.devices.cpu",
    "ArmPmu": "virtmodel.devices.pmu",
    "ArmTimer": "virtmodel.devices.timer",
    "CfiFlash": "virtmodel.devices.cfi_flash",
    "Device": "virtmodel.devices.base",
    "DeviceError": "virtmodel.devices.errors",
    "DeviceProps": "virtmodel.devices.base",
    "FdtContext": "virtmodel.devices.base",
    "FwCfg": "virtmodel.devices.fw_cfg",
    "GicV2": "virtmodel.devices.gicv2",
    "GicV3": "virtmodel.devices.gicv3",
    "Gpex": "virtmodel.devices.gpex",
    "GpioKeys": "virtmodel.devices.gpio_keys",
    "GpioPwr": "virtmodel.devices.gpio_keys",
    "Its": "virtmodel.devices.its",
    "LifecycleError": "virtmodel.devices.errors",
    "Pl011": "virtmodel.devices.pl011",
    "Pl031": "virtmodel.devices.pl031",
    "Pl061": "virtmodel.devices.pl061",
    "PlatformBus": "virtmodel.devices.platform_bus",
    "PropertyError": "virtmodel.devices.errors",
    "Psci": "virtmodel.devices.psci",
    "Ram": "virtmodel.devices.ram",
    "RealizeError": "virtmodel.devices.errors",
    "SecureRam": "virtmodel.devices.secure_ram",
    "Smmuv3": "virtmodel.devices.smmuv3",
    "State": "virtmodel.machine.device",
    "V2m": "virtmodel.devices.v2m",
    "VirtioMmio": "virtmodel.devices.virtio_mmio",
}

__all__ = [
    "ArmCpu",
    "ArmPmu",
    "ArmTimer",
    "CfiFlash",
    "Device",
    "DeviceError",
    "DeviceProps",
    "FdtContext",
    "FwCfg",
    "GicV2",
    "GicV3",
    "Gpex",
    "GpioKeys",
    "GpioPwr",
    "Its",
    "LifecycleError",
    "Pl011",
    "Pl031",
    "Pl061",
    "PlatformBus",
    "PropertyError",
    "Psci",
    "Ram",
    "RealizeError",
    "SecureRam",
    "Smmuv3",
    "State",
    "V2m",
    "VirtioMmio",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
