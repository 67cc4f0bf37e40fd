"""Device models built on the machine framework's lifecycle contract."""

from __future__ import annotations

from devices.base import Device, DeviceProps, FdtContext, State
from devices.cfi_flash import CfiFlash
from devices.cpu import ArmCpu
from devices.errors import DeviceError, LifecycleError, PropertyError, RealizeError
from devices.fw_cfg import FwCfg
from devices.gicv2 import GicV2
from devices.gicv3 import GicV3
from devices.gpex import Gpex
from devices.gpio_keys import GpioKeys, GpioPwr
from devices.its import Its
from devices.pl011 import Pl011
from devices.pl031 import Pl031
from devices.pl061 import Pl061
from devices.platform_bus import PlatformBus
from devices.pmu import ArmPmu
from devices.psci import Psci
from devices.ram import Ram
from devices.secure_ram import SecureRam
from devices.smmuv3 import Smmuv3
from devices.timer import ArmTimer
from devices.v2m import V2m
from devices.virtio_mmio import VirtioMmio

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
