"""The ITS registers userspace saves and restores (GRP_ITS_REGS), Linux 6.1.

Regions: GITS_CTLR and GITS_IIDR (32-bit), GITS_TYPER, CBASER, CWRITER,
CREADR (64-bit), the eight GITS_BASERn (only 0, the device table, and 1,
the collection table, hold anything) and the ID registers at 0xFFD0. The
model keeps no guest tables: the command queue is never processed, which is
right as long as the ITS is never enabled (enabling needs valid tables and a
valid command queue).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Final

from virtmodel.machine.kvm.errors import refuse

#: (offset, length) of each register region.
REGIONS: Final = (
    (0x0000, 4),
    (0x0004, 4),
    (0x0008, 8),
    (0x0080, 8),
    (0x0088, 8),
    (0x0090, 8),
    (0x0100, 0x40),
    (0xFFD0, 0x30),
)
_TYPER: Final = 0x8
_PIDR4: Final = 0xFFD0
_VALID: Final = 1 << 63
_INDIRECT: Final = 1 << 62
_ESZ: Final = 8  # ABI v0 entry size of every table
_TYPE_DEVICE, _TYPE_COLLECTION = 1, 4
_RO_MASK: Final = (0x1F << 48) | (0x7 << 56)
_PAGE_SIZE_MASK, _PAGE_SIZE_64K = 3 << 8, 2 << 8
#: The kernel's reset BASER: inner RaWb, inner shareable, 64 KiB pages.
_INITIAL_BASER: Final = (3 << 59) | (1 << 10) | _PAGE_SIZE_64K
#: GITS_TYPER: PLPIS, 16 device-ID and event-ID bits, 8-byte ITT entries.
TYPER: Final = 1 | (15 << 13) | (15 << 8) | (7 << 4)
IIDR: Final = (0x4B << 24) | 0x43B
_IDREGS: Final = {
    0xFFE0: 0x92,
    0xFFE4: 0xB4,
    0xFFE8: 0x3B,
    0xFFD0: 0x40,
    0xFFF0: 0x0D,
    0xFFF4: 0xF0,
    0xFFF8: 0x05,
    0xFFFC: 0xB1,
}


def _sanitise(reg: int, inner_shift: int, outer_shift: int) -> int:
    if (reg >> 10) & 3 == 2:  # outer shareable becomes inner shareable
        reg = (reg & ~(3 << 10)) | 1 << 10
    if (reg >> inner_shift) & 7 in (0, 1):  # non-cacheable becomes RaWb
        reg = (reg & ~(7 << inner_shift)) | 3 << inner_shift
    if (reg >> outer_shift) & 7 not in (0, 1):
        reg &= ~(7 << outer_shift)
    return reg


@dataclass
class ItsRegisters:
    """One ITS's register state."""

    enabled: bool = False
    cbaser: int = 0
    creadr: int = 0
    cwriter: int = 0
    baser_device: int = _INITIAL_BASER | _TYPE_DEVICE << 56 | (_ESZ - 1) << 48
    baser_collection: int = _INITIAL_BASER | _TYPE_COLLECTION << 56 | (_ESZ - 1) << 48

    def reset(self) -> None:
        """KVM_DEV_ARM_ITS_CTRL_RESET: tables invalid, queue empty, disabled."""
        self.baser_device &= ~_VALID
        self.baser_collection &= ~_VALID
        self.cbaser = self.creadr = self.cwriter = 0
        self.enabled = False

    def _queue_size(self) -> int:
        return ((self.cbaser & 0xFF) + 1) << 12

    def read(self, offset: int) -> int:
        """Return the register at *offset* (whose region was checked)."""
        if offset == 0x0:
            quiescent = 1 << 31 if self.creadr == self.cwriter else 0
            return quiescent | int(self.enabled)
        if offset == 0x4:
            return IIDR
        if offset == _TYPER:
            return TYPER
        if offset == 0x80:
            return self.cbaser
        if offset == 0x88:
            return self.cwriter
        if offset == 0x90:
            return self.creadr
        if offset < _PIDR4:
            index = (offset // 8) & 7
            return {0: self.baser_device, 1: self.baser_collection}.get(index, 0)
        return _IDREGS.get(offset, 0)

    def write(self, offset: int, value: int) -> None:
        """Write the register at *offset* as userspace does.

        Raises:
            Refusal: EINVAL (GITS_IIDR revision, GITS_CREADR beyond the
                queue), EBUSY (GITS_CREADR of an enabled ITS).
        """
        if offset == 0x0:
            tables_valid = all(
                r & _VALID
                for r in (self.baser_device, self.baser_collection, self.cbaser)
            )
            if self.enabled or not value & 1 or tables_valid:
                self.enabled = bool(value & 1)
        elif offset == 0x4:
            if (value >> 12) & 0xF:
                refuse(
                    errno.EINVAL, f"GITS_IIDR revision {(value >> 12) & 0xF} is not 0"
                )
        elif offset == 0x80:
            if not self.enabled:
                cbaser = _sanitise(value, 59, 53) & ~(0xF << 12)
                self.cbaser, self.creadr, self.cwriter = cbaser, 0, 0
        elif offset == 0x88:
            cwriter = value & 0xFFFE0
            if cwriter < self._queue_size():
                self.cwriter = cwriter
        elif offset == 0x90:
            if self.enabled:
                refuse(
                    errno.EBUSY, "GITS_CREADR cannot change while the ITS is enabled"
                )
            creadr = value & 0xFFFE0
            if creadr >= self._queue_size():
                refuse(
                    errno.EINVAL,
                    f"GITS_CREADR 0x{creadr:x} is beyond the command queue",
                )
            self.creadr = creadr
        elif 0x100 <= offset < 0x140 and not self.enabled:
            self._write_baser((offset // 8) & 7, value)

    def _write_baser(self, index: int, value: int) -> None:
        if index not in (0, 1):
            return
        table = _TYPE_DEVICE if index == 0 else _TYPE_COLLECTION
        reg = value & ~_RO_MASK
        if index == 1:
            reg &= ~_INDIRECT
        reg |= (_ESZ - 1) << 48 | table << 56
        reg = _sanitise(reg, 59, 53)
        reg = (reg & ~_PAGE_SIZE_MASK) | _PAGE_SIZE_64K
        if index == 0:
            self.baser_device = reg
        else:
            self.baser_collection = reg


def find(offset: int) -> bool:
    """Whether *offset* lies in one of the ITS's register regions."""
    return any(start <= offset < start + length for start, length in REGIONS)


def alignment(offset: int) -> int:
    """Return the alignment the kernel demands of a register *offset*."""
    return 4 if offset < _TYPER or offset >= _PIDR4 else 8
