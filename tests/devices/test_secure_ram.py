"""Secure RAM's node."""

from __future__ import annotations

from virtmodel.devices.base import FdtContext
from virtmodel.devices.secure_ram import SecureRam
from virtmodel.machine.fdt import Fdt


def test_secure_ram_is_memory_hidden_from_the_normal_world() -> None:
    fdt = Fdt()

    SecureRam("secram", base=0xE000000).fdt_node(fdt, FdtContext())

    assert fdt.getprop("/secram@e000000", "device_type") == b"memory\0"
    assert fdt.getprop("/secram@e000000", "reg")[-4:] == bytes.fromhex("01000000")
    assert fdt.getprop("/secram@e000000", "status") == b"disabled\0"
