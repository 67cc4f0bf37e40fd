"""The SMMUv3 node."""

from __future__ import annotations

from virtmodel.devices.base import FdtContext
from virtmodel.devices.smmuv3 import Smmuv3
from virtmodel.machine.fdt import Fdt


def test_smmu_has_four_named_edge_interrupts_and_the_board_phandle() -> None:
    fdt = Fdt()

    Smmuv3("smmu", base=0x9050000, irq=74).fdt_node(fdt, FdtContext({"iommu": 0x8007}))

    path = "/smmuv3@9050000"
    assert fdt.getprop(path, "interrupt-names") == b"eventq\0priq\0cmdq-sync\0gerror\0"
    assert fdt.getprop(path, "interrupts") == bytes.fromhex(
        "00000000 0000004a 00000001 00000000 0000004b 00000001"
        "00000000 0000004c 00000001 00000000 0000004d 00000001"
    )
    assert fdt.get_phandle(path) == 0x8007
