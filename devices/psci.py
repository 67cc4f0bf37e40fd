"""The PSCI firmware interface's device-tree node (``/psci``).

QEMU implements PSCI itself (TCG: version 1.1, advertised as 1.0-compatible).
Function IDs depend on the version and on whether the CPU is AArch64; CPU_OFF
always uses its 32-bit ID.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from pydantic import Field

from virtmodel.devices.base import Device, DeviceProps, FdtContext

if TYPE_CHECKING:
    from virtmodel.machine.fdt.writer import FdtWriter

__all__ = ["PSCI_FUNCTION_IDS", "Psci", "PsciProps"]

#: (cpu_suspend, cpu_off, cpu_on, migrate) by (version >= 0.2, AArch64).
PSCI_FUNCTION_IDS: Final = {
    (True, True): (0xC4000001, 0x84000002, 0xC4000003, 0xC4000005),
    (True, False): (0x84000001, 0x84000002, 0x84000003, 0x84000005),
    (False, True): (0x95C1BA5E, 0x95C1BA5F, 0x95C1BA60, 0x95C1BA61),
    (False, False): (0x95C1BA5E, 0x95C1BA5F, 0x95C1BA60, 0x95C1BA61),
}
_COMPATIBLE: Final = {
    "0.1": ["arm,psci"],
    "0.2": ["arm,psci-0.2", "arm,psci"],
    "1.0": ["arm,psci-1.0", "arm,psci-0.2", "arm,psci"],
    "1.1": ["arm,psci-1.0", "arm,psci-0.2", "arm,psci"],
}


class PsciProps(DeviceProps):
    """Properties of a :class:`Psci` node."""

    conduit: Literal["hvc", "smc"] = Field(
        default="hvc", description="call instruction"
    )
    version: Literal["0.1", "0.2", "1.0", "1.1"] = Field(
        default="1.1", description="PSCI version the CPUs implement"
    )
    aarch64: bool = Field(default=True, description="use the SMC64 function IDs")


class Psci(Device[PsciProps]):
    """PSCI as the firmware the guest calls to start and stop CPUs."""

    props_model = PsciProps
    type_name = "psci"

    def fdt_node(self, fdt: FdtWriter, ctx: FdtContext) -> None:
        """Write ``/psci`` (the board writes it last, when loading the DTB).

        Any tree takes it: the board's own, or a ``-dtb`` blob.
        """
        p = self.props
        fdt.add_subnode("/psci")
        fdt.setprop_stringlist("/psci", "compatible", _COMPATIBLE[p.version])
        fdt.setprop_string("/psci", "method", p.conduit)
        ids = PSCI_FUNCTION_IDS[(p.version != "0.1", p.aarch64)]
        for name, fn in zip(
            ("cpu_suspend", "cpu_off", "cpu_on", "migrate"), ids, strict=True
        ):
            fdt.setprop_cells("/psci", name, fn)
