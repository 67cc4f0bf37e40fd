"""Device models built on the machine framework's lifecycle contract."""

from __future__ import annotations

from devices.base import Device, DeviceProps, FdtContext, State
from devices.errors import DeviceError, LifecycleError, PropertyError

__all__ = [
    "Device",
    "DeviceError",
    "DeviceProps",
    "FdtContext",
    "LifecycleError",
    "PropertyError",
    "State",
]
