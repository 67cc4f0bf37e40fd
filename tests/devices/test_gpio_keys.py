"""Power button and secure power lines wired to a PL061."""

from __future__ import annotations

import pytest

from virtmodel.devices.base import FdtContext
from virtmodel.devices.gpio_keys import KEY_POWER, GpioKeys, GpioPwr
from virtmodel.machine.fdt import Fdt


def test_power_button_is_gpio_3_of_the_published_controller() -> None:
    fdt = Fdt()

    GpioKeys("keys").fdt_node(fdt, FdtContext({"gpio": 0x8007}))

    assert fdt.getprop("/gpio-keys", "compatible") == b"gpio-keys\0"
    assert fdt.getprop("/gpio-keys/poweroff", "gpios") == bytes.fromhex(
        "00008007 00000003 00000000"
    )
    assert fdt.getprop("/gpio-keys/poweroff", "linux,code") == KEY_POWER.to_bytes(
        4, "big"
    )


def test_secure_power_lines_use_pins_0_and_1() -> None:
    fdt = Fdt()

    GpioPwr("pwr").fdt_node(fdt, FdtContext({"secure-gpio": 0x8008}))

    assert [c.name for c in fdt.root.blob_children()] == [
        "gpio-restart",
        "gpio-poweroff",
    ]
    assert fdt.getprop("/gpio-restart", "gpios") == bytes.fromhex(
        "00008008 00000001 00000000"
    )
    assert fdt.getprop("/gpio-poweroff", "secure-status") == b"okay\0"


def test_a_missing_controller_phandle_is_a_board_bug() -> None:
    with pytest.raises(KeyError, match="gpio"):
        GpioKeys("keys").fdt_node(Fdt(), FdtContext())
