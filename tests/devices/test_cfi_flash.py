"""CFI flash nodes: combined, or split with a secure bank."""

from __future__ import annotations

import pytest

from virtmodel.devices.base import FdtContext
from virtmodel.devices.cfi_flash import CfiFlash, combined_flash_node
from virtmodel.machine.fdt import Fdt

MiB64 = 0x4000000


def test_two_banks_share_one_node_with_two_ranges() -> None:
    fdt = Fdt()
    banks = [CfiFlash("f0", base=0), CfiFlash("f1", base=MiB64)]

    combined_flash_node(fdt, banks)

    assert fdt.getprop("/flash@0", "reg") == bytes.fromhex(
        "00000000 00000000 00000000 04000000 00000000 04000000 00000000 04000000"
    )
    assert fdt.getprop("/flash@0", "bank-width") == bytes.fromhex("00000004")


def test_a_secure_bank_is_a_disabled_secflash_node() -> None:
    fdt = Fdt()

    CfiFlash("f0", base=0, secure=True).fdt_node(fdt, FdtContext())

    assert [n for n, _ in fdt.node("/secflash@0").blob_props()] == [
        "secure-status", "status", "bank-width", "reg", "compatible",
    ]  # fmt: skip


def test_combining_no_banks_or_mixed_widths_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one flash bank"):
        combined_flash_node(Fdt(), [])
    with pytest.raises(ValueError, match="different bank widths"):
        combined_flash_node(
            Fdt(), [CfiFlash("a"), CfiFlash("b", base=MiB64, bank_width=2)]
        )
