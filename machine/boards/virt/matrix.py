"""The 2016 ITS story as a matrix: kernel era x notifier mode x ITS init placement.

Each cell is a real bring-up of the same virt machine under the simulated
KVM; whether it boots follows from the kernel's rules and the notifier order,
nothing is tabulated. :func:`its_matrix` returns the cells;
:func:`format_matrix` prints them as a table.
"""

from __future__ import annotations

import errno as errno_mod
from dataclasses import dataclass
from typing import Final

from virtmodel.devices.its_init import ITS_INITS, ItsInit
from virtmodel.machine.boards.virt.board import boot_virt, create_virt
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.errors import MachineFailedError
from virtmodel.machine.kvm.eras import ERAS as KERNEL_ERAS
from virtmodel.machine.kvm.eras import Era
from virtmodel.machine.notifier_modes import NOTIFIER_MODES, NotifierMode

# The axes are the vocabularies themselves, read as the story runs: the
# vocabularies list the default (the newest kernel, the declared order) first,
# the matrix starts in 2016 (the oldest kernel, QEMU's list) and ends at it.
#: Every kernel era, oldest first (no aliases: each era once).
ERAS: Final[tuple[Era, ...]] = tuple(reversed(KERNEL_ERAS))
#: Every notifier mode, QEMU's list first.
MODES: Final[tuple[NotifierMode, ...]] = tuple(reversed(NOTIFIER_MODES))
#: Every ITS CTRL_INIT placement, in realize (QEMU's) first.
PLACEMENTS: Final[tuple[ItsInit, ...]] = ITS_INITS


@dataclass(frozen=True, slots=True)
class Cell:
    """How one combination ended."""

    era: Era
    mode: NotifierMode
    placement: ItsInit
    boots: bool
    call: str | None = None
    errno: int | None = None
    where: str | None = None

    def verdict(self) -> str:
        """Return ``boots`` or ``fails: <call> -> ENXIO (in <where>)``."""
        if self.boots:
            return "boots"
        code = errno_mod.errorcode.get(self.errno or 0, "?")
        return f"fails: {self.call} -> {code} ({self.where})"


def its_cell(
    config: VirtConfig, era: Era, mode: NotifierMode, placement: ItsInit
) -> Cell:
    """Bring up one machine and return how it ended."""
    machine = create_virt(
        config, kernel_semantics=era, notifiers=mode, its_init=placement, seed=0
    )
    try:
        boot_virt(machine)
    except MachineFailedError as exc:
        where = f"notifier {exc.notifier}" if exc.notifier else exc.where
        return Cell(era, mode, placement, False, exc.call, exc.errno, where)
    return Cell(era, mode, placement, True)


class Matrix(list[Cell]):
    """The cells of :func:`its_matrix`: a list that prints as a table."""

    def __str__(self) -> str:
        return format_matrix(self)

    def _repr_html_(self) -> str:
        # Jupyter: one row per cell, failures highlighted (machine.display).
        from virtmodel.machine.display import matrix_html

        return matrix_html(self)


def its_matrix(config: VirtConfig | None = None) -> Matrix:
    """Return every cell for a GICv3+ITS KVM machine (4 CPUs by default)."""
    cfg = config or VirtConfig.from_options(
        "virt,gic-version=3,its=on", smp="4", memory="1G", cpu="cortex-a57", accel="kvm"
    )
    return Matrix(
        its_cell(cfg, era, mode, placement)
        for era in ERAS
        for mode in MODES
        for placement in PLACEMENTS
    )


def format_matrix(cells: list[Cell]) -> str:
    """Return the cells as an aligned text table."""
    rows = [("kernel", "notifiers", "its-init", "result")]
    rows += [(c.era, c.mode, c.placement, c.verdict()) for c in cells]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows
    )
