"""The PMU node."""

from __future__ import annotations

from virtmodel.devices.base import FdtContext
from virtmodel.devices.pmu import ArmPmu
from virtmodel.machine.fdt import Fdt


def test_armv7_pmu_gets_an_empty_node() -> None:
    fdt = Fdt()

    ArmPmu("pmu", kind="armv7").fdt_node(fdt, FdtContext())

    assert fdt.node("/pmu").props == {}


def test_armv8_pmu_on_gicv2_has_ppi_7_with_the_cpu_mask() -> None:
    fdt = Fdt()

    ArmPmu("pmu", kind="armv8", gicv2_cpus=2).fdt_node(fdt, FdtContext())

    assert fdt.getprop("/pmu", "compatible") == b"arm,armv8-pmuv3\0"
    assert fdt.getprop("/pmu", "interrupts") == bytes.fromhex(
        "00000001 00000007 00000304"
    )
