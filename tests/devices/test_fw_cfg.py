"""The fw_cfg MMIO node."""

from __future__ import annotations

from virtmodel.devices.base import FdtContext
from virtmodel.devices.fw_cfg import FwCfg
from virtmodel.machine.fdt import Fdt


def test_fw_cfg_node_covers_data_selector_and_dma() -> None:
    fdt = Fdt()

    FwCfg("fw-cfg", base=0x9020000).fdt_node(fdt, FdtContext())

    assert fdt.getprop("/fw-cfg@9020000", "compatible") == b"qemu,fw-cfg-mmio\0"
    assert fdt.getprop("/fw-cfg@9020000", "reg")[-4:] == bytes.fromhex("00000018")
