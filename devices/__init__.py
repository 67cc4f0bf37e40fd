"""Device models built on the machine framework's lifecycle contract."""

from __future__ import annotations

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
