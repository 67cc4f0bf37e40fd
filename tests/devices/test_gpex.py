"""The PCIe host bridge node."""

from __future__ import annotations

import pytest

from virtmodel.devices import PropertyError
from virtmodel.devices.base import FdtContext
from virtmodel.devices.gpex import Gpex
from virtmodel.machine.fdt import Fdt


def bridge(**extra: object) -> Gpex:
    return Gpex(
        "pcie",
        ecam=(0x3F000000, 0x1000000),
        mmio=(0x10000000, 0x2EFF0000),
        pio=(0x3EFF0000, 0x10000),
        **extra,
    )


def test_low_ecam_gives_16_buses_and_no_64_bit_window() -> None:
    fdt = Fdt()

    bridge().fdt_node(fdt, FdtContext({"gic": 0x8001}))

    assert fdt.getprop("/pcie@10000000", "bus-range") == bytes.fromhex(
        "00000000 0000000f"
    )
    assert len(fdt.getprop("/pcie@10000000", "ranges")) == 2 * 7 * 4
    assert "msi-map" not in fdt.node("/pcie@10000000").props


def test_interrupt_map_swizzles_pins_across_slots() -> None:
    fdt = Fdt()

    bridge(irq=3).fdt_node(fdt, FdtContext({"gic": 0x8001}))

    cells = fdt.getprop("/pcie@10000000", "interrupt-map")
    rows = [
        [int.from_bytes(cells[i + 4 * j : i + 4 * j + 4], "big") for j in range(10)]
        for i in range(0, len(cells), 40)
    ]
    assert len(rows) == 16
    assert rows[5] == [0x800, 0, 0, 2, 0x8001, 0, 0, 0, 5, 4]
    assert fdt.getprop("/pcie@10000000", "interrupt-map-mask") == bytes.fromhex(
        "00001800 00000000 00000000 00000007"
    )


def test_msi_and_iommu_maps_point_at_the_published_phandles() -> None:
    fdt = Fdt()
    ctx = FdtContext({"gic": 0x8001, "msi": 0x8002, "iommu": 0x8003})
    pcie = bridge(iommu_map=True, mmio_high=(0x8000000000, 0x8000000000))

    pcie.fdt_node(fdt, ctx)
    pcie.fdt_iommu_map(fdt, ctx)

    assert fdt.getprop(pcie.node_path, "msi-map") == bytes.fromhex(
        "00000000 00008002 00000000 00010000"
    )
    assert fdt.getprop(pcie.node_path, "iommu-map")[4:8] == bytes.fromhex("00008003")
    assert len(fdt.getprop(pcie.node_path, "ranges")) == 3 * 7 * 4


def test_an_ecam_window_of_partial_buses_is_rejected() -> None:
    with pytest.raises(PropertyError, match="not a whole number of 1 MiB buses"):
        Gpex("pcie", ecam=(0, 0x180000), mmio=(0, 1), pio=(0, 1))
