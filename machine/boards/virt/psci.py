"""How a ``virt`` machine boots: exception level and PSCI (QEMU 7.2).

The board first picks a PSCI conduit (``virt.c``); ``arm_load_kernel`` then
disables it when the boot CPU already runs at or above the level that would
handle the call, because nothing would answer an HVC at EL2 or an SMC at EL3.
The board's choice decides the CPUs' ``enable-method``; the final one decides
whether ``/psci`` exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

Conduit = Literal["disabled", "hvc", "smc"]

#: PSCI version QEMU's own (TCG) implementation reports.
TCG_PSCI_VERSION: Final = (1, 1)
#: PSCI version the simulated KVM host reports (mainline arm64 KVM: 1.1).
DEFAULT_HOST_PSCI_VERSION: Final = (1, 1)

_PSCI_0_1_IDS: Final = MappingProxyType(
    {
        "cpu_suspend": 0x95C1BA5E,
        "cpu_off": 0x95C1BA5F,
        "cpu_on": 0x95C1BA60,
        "migrate": 0x95C1BA61,
    }
)
_SMC64: Final = 0x40000000  # the bit that turns an SMC32 function ID into SMC64


@dataclass(frozen=True, slots=True)
class BootFacts:
    """The PSCI and exception-level facts of one configuration."""

    #: The board's conduit, written before the kernel loader runs.
    board_conduit: Conduit
    #: The exception level the boot CPU starts in.
    boot_el: int
    #: The conduit after ``arm_load_kernel``; ``/psci`` exists unless "disabled".
    conduit: Conduit
    #: PSCI version the guest sees.
    version: tuple[int, int]
    #: Whether the CPU is AArch64 (64-bit function IDs).
    aarch64: bool

    @property
    def compatible(self) -> tuple[str, ...]:
        """Return the ``/psci`` compatible strings for :attr:`version`."""
        if self.version >= (1, 0):
            return ("arm,psci-1.0", "arm,psci-0.2", "arm,psci")
        if self.version >= (0, 2):
            return ("arm,psci-0.2", "arm,psci")
        return ("arm,psci",)

    @property
    def function_ids(self) -> Mapping[str, int]:
        """Return the ``cpu_suspend``/``cpu_off``/``cpu_on``/``migrate`` IDs."""
        if self.version < (0, 2):
            return _PSCI_0_1_IDS
        wide = _SMC64 if self.aarch64 else 0
        # CPU_OFF takes no arguments, so it only exists as a 32-bit call.
        return MappingProxyType(
            {
                "cpu_suspend": 0x84000001 | wide,
                "cpu_off": 0x84000002,
                "cpu_on": 0x84000003 | wide,
                "migrate": 0x84000005 | wide,
            }
        )


def boot_facts(
    *,
    secure: bool,
    virtualization: bool,
    has_kernel: bool,
    has_firmware: bool,
    aarch64: bool,
    version: tuple[int, int],
) -> BootFacts:
    """Decide conduit and boot level as ``machvirt_init``/``arm_load_kernel`` do."""
    if secure and has_firmware:
        board: Conduit = "disabled"
    else:
        board = "smc" if virtualization else "hvc"
    if has_kernel and not has_firmware:
        # A kernel loaded directly is entered non-secure at EL2 if the CPU has
        # it, else EL1; with firmware the kernel is the firmware's business.
        boot_el = 2 if virtualization else 1
    else:
        boot_el = 3 if secure else 2 if virtualization else 1
    conduit = board
    if (board == "hvc" and boot_el >= 2) or (board == "smc" and boot_el == 3):
        conduit = "disabled"
    return BootFacts(board, boot_el, conduit, version, aarch64)
