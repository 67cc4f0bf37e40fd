"""A virtio-mmio transport's node."""

from __future__ import annotations

from virtmodel.devices.base import FdtContext
from virtmodel.devices.virtio_mmio import VirtioMmio
from virtmodel.machine.fdt import Fdt


def test_transport_is_dma_coherent_with_an_edge_interrupt() -> None:
    fdt = Fdt()

    VirtioMmio("virtio31", base=0xA003E00, irq=47).fdt_node(fdt, FdtContext())

    path = "/virtio_mmio@a003e00"
    assert fdt.getprop(path, "reg") == bytes.fromhex(
        "00000000 0a003e00 00000000 00000200"
    )
    assert fdt.getprop(path, "interrupts") == bytes.fromhex(
        "00000000 0000002f 00000001"
    )
    assert next(n for n, _ in fdt.node(path).blob_props()) == "dma-coherent"
