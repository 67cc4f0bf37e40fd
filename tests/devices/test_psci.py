"""The PSCI node: compatible strings and function IDs by version."""

from __future__ import annotations

import pytest

from virtmodel.devices.base import FdtContext
from virtmodel.devices.psci import Psci
from virtmodel.machine.fdt import Fdt


@pytest.mark.parametrize(
    ("props", "compatible", "cpu_on"),
    [
        (
            {"version": "1.1", "aarch64": True},
            b"arm,psci-1.0\0arm,psci-0.2\0arm,psci\0",
            0xC4000003,
        ),
        (
            {"version": "1.1", "aarch64": False},
            b"arm,psci-1.0\0arm,psci-0.2\0arm,psci\0",
            0x84000003,
        ),
        ({"version": "0.2"}, b"arm,psci-0.2\0arm,psci\0", 0xC4000003),
        ({"version": "0.1"}, b"arm,psci\0", 0x95C1BA60),
    ],
)
def test_psci_ids_follow_version_and_register_width(
    props: dict[str, object], compatible: bytes, cpu_on: int
) -> None:
    fdt = Fdt()

    Psci("psci", **props).fdt_node(fdt, FdtContext())

    assert fdt.getprop("/psci", "compatible") == compatible
    assert fdt.getprop("/psci", "cpu_on") == cpu_on.to_bytes(4, "big")


def test_cpu_off_always_uses_the_32_bit_id_and_the_method_is_the_conduit() -> None:
    fdt = Fdt()

    Psci("psci", conduit="smc").fdt_node(fdt, FdtContext())

    assert fdt.getprop("/psci", "cpu_off") == bytes.fromhex("84000002")
    assert fdt.getprop("/psci", "method") == b"smc\0"
