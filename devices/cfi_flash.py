"""CFI parallel NOR flash (``pflash``), the two 64 MiB banks of ``virt``.

Without ``secure=on`` both banks are described by one ``/flash@0`` node with two
``reg`` ranges (:func:`combined_flash_node`); with it, bank 0 is secure-only
(``/secflash@0``) and bank 1 gets its own ``/flash@4000000``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import Field

from virtmodel.devices.base import Device, FdtContext
from virtmodel.devices.mmio import MmioProps

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt

__all__ = ["CfiFlash", "CfiFlashProps", "combined_flash_node"]


class CfiFlashProps(MmioProps):
    """Properties of a :class:`CfiFlash` bank."""

    size: int = Field(default=0x4000000, gt=0, lt=1 << 64, description="bank size")
    bank_width: int = Field(default=4, description="bus width in bytes", ge=1, le=8)
    secure: bool = Field(default=False, description="secure-world only (secflash)")


class CfiFlash(Device[CfiFlashProps]):
    """One CFI flash bank (``cfi.pflash01``)."""

    props_model = CfiFlashProps
    type_name = "cfi.pflash01"

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write this bank's node: ``/secflash@...`` if secure, else ``/flash@...``."""
        p = self.props
        node = f"/{'secflash' if p.secure else 'flash'}@{p.base:x}"
        fdt.add_subnode(node)
        fdt.setprop_string(node, "compatible", "cfi-flash")
        fdt.setprop_sized_cells(node, "reg", (2, p.base), (2, p.size))
        fdt.setprop_cells(node, "bank-width", p.bank_width)
        if p.secure:
            fdt.setprop_string(node, "status", "disabled")
            fdt.setprop_string(node, "secure-status", "okay")


def combined_flash_node(fdt: Fdt, banks: Sequence[CfiFlash]) -> None:
    """Describe several banks as one ``/flash@<first base>`` node.

    Raises:
        ValueError: No banks were given, or their bank widths differ.
    """
    if not banks:
        msg = "combined_flash_node() needs at least one flash bank"
        raise ValueError(msg)
    widths = {b.props.bank_width for b in banks}
    if len(widths) != 1:
        msg = f"flash banks {[b.name for b in banks]!r} have different bank widths"
        raise ValueError(msg)
    node = f"/flash@{banks[0].props.base:x}"
    fdt.add_subnode(node)
    fdt.setprop_string(node, "compatible", "cfi-flash")
    pairs = [(2, v) for b in banks for v in (b.props.base, b.props.size)]
    fdt.setprop_sized_cells(node, "reg", *pairs)
    fdt.setprop_cells(node, "bank-width", widths.pop())
