"""GPIO-driven buttons and power lines hanging off a PL061.

:class:`GpioKeys` is the normal world's power button (``/gpio-keys``, GPIO 3,
``KEY_POWER``); :class:`GpioPwr` is the secure world's power-off (GPIO 0) and
restart (GPIO 1) lines (``/gpio-poweroff``, ``/gpio-restart``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pydantic import Field

from virtmodel.devices.base import Device, DeviceProps, FdtContext

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt

__all__ = ["KEY_POWER", "GpioKeys", "GpioKeysProps", "GpioPwr"]

#: Linux input event code of the power button.
KEY_POWER: Final = 116


class GpioKeysProps(DeviceProps):
    """Which controller the lines belong to, by its published phandle label."""

    gpio: str = Field(
        default="gpio", min_length=1, description="phandle label of the PL061"
    )
    pin: int = Field(default=3, ge=0, lt=8, description="GPIO line of the power button")


class GpioKeys(Device[GpioKeysProps]):
    """The power button: a ``gpio-keys`` node with one ``poweroff`` key."""

    props_model = GpioKeysProps
    type_name = "gpio-key"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/gpio-keys`` and its ``poweroff`` key."""
        fdt.add_subnode("/gpio-keys")
        fdt.setprop_string("/gpio-keys", "compatible", "gpio-keys")
        fdt.add_subnode("/gpio-keys/poweroff")
        fdt.setprop_string("/gpio-keys/poweroff", "label", "GPIO Key Poweroff")
        fdt.setprop_cells("/gpio-keys/poweroff", "linux,code", KEY_POWER)
        fdt.setprop_cells(
            "/gpio-keys/poweroff",
            "gpios",
            ctx.phandle(self.props.gpio),
            self.props.pin,
            0,
        )


class GpioPwrProps(DeviceProps):
    """Which controller drives the lines, by its published phandle label."""

    gpio: str = Field(
        default="secure-gpio", min_length=1, description="phandle label of the PL061"
    )


class GpioPwr(Device[GpioPwrProps]):
    """Secure-world power-off (GPIO 0) and restart (GPIO 1) lines (``gpio-pwr``)."""

    props_model = GpioPwrProps
    type_name = "gpio-pwr"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/gpio-poweroff`` then ``/gpio-restart``, secure-only."""
        phandle = ctx.phandle(self.props.gpio)
        for pin, what in enumerate(("poweroff", "restart")):
            node = f"/gpio-{what}"
            fdt.add_subnode(node)
            fdt.setprop_string(node, "compatible", f"gpio-{what}")
            fdt.setprop_cells(node, "gpios", phandle, pin, 0)
            fdt.setprop_string(node, "status", "disabled")
            fdt.setprop_string(node, "secure-status", "okay")
