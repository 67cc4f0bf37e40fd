"""Linux KVM arm64 UAPI numbers for the vGIC and ITS devices, and their names.

Values are those of ``include/uapi/linux/kvm.h`` and
``arch/arm64/include/uapi/asm/kvm.h`` (fact sheet kvm-vgic.md §1). The name
tables turn numbers back into UAPI names for traces and error messages; they
are indexed by number, so message text never depends on hashing.
"""

from __future__ import annotations

import errno as _errno
from typing import Final

# Device types (kvm-vgic.md §1.1).
KVM_DEV_TYPE_FSL_MPIC_20: Final = 1
KVM_DEV_TYPE_FSL_MPIC_42: Final = 2
KVM_DEV_TYPE_XICS: Final = 3
KVM_DEV_TYPE_VFIO: Final = 4
KVM_DEV_TYPE_ARM_VGIC_V2: Final = 5
KVM_DEV_TYPE_FLIC: Final = 6
KVM_DEV_TYPE_ARM_VGIC_V3: Final = 7
KVM_DEV_TYPE_ARM_VGIC_ITS: Final = 8
KVM_DEV_TYPE_XIVE: Final = 9
KVM_DEV_TYPE_ARM_PV_TIME: Final = 10
KVM_DEV_TYPE_RISCV_AIA: Final = 11

#: Flag of KVM_CREATE_DEVICE: only ask whether the type could be created.
KVM_CREATE_DEVICE_TEST: Final = 1

# Attribute groups (§1.2).
KVM_DEV_ARM_VGIC_GRP_ADDR: Final = 0
KVM_DEV_ARM_VGIC_GRP_DIST_REGS: Final = 1
KVM_DEV_ARM_VGIC_GRP_CPU_REGS: Final = 2
KVM_DEV_ARM_VGIC_GRP_NR_IRQS: Final = 3
KVM_DEV_ARM_VGIC_GRP_CTRL: Final = 4
KVM_DEV_ARM_VGIC_GRP_REDIST_REGS: Final = 5
KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS: Final = 6
KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO: Final = 7
KVM_DEV_ARM_VGIC_GRP_ITS_REGS: Final = 8
KVM_DEV_ARM_VGIC_GRP_MAINT_IRQ: Final = 9

# GRP_ADDR attributes (§1.3).
KVM_VGIC_V2_ADDR_TYPE_DIST: Final = 0
KVM_VGIC_V2_ADDR_TYPE_CPU: Final = 1
KVM_VGIC_V3_ADDR_TYPE_DIST: Final = 2
KVM_VGIC_V3_ADDR_TYPE_REDIST: Final = 3
KVM_VGIC_ITS_ADDR_TYPE: Final = 4
KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION: Final = 5

# GRP_CTRL attributes (§1.5).
KVM_DEV_ARM_VGIC_CTRL_INIT: Final = 0
KVM_DEV_ARM_ITS_SAVE_TABLES: Final = 1
KVM_DEV_ARM_ITS_RESTORE_TABLES: Final = 2
KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES: Final = 3
KVM_DEV_ARM_ITS_CTRL_RESET: Final = 4

# Region sizes (§1.3).
KVM_VGIC_V2_DIST_SIZE: Final = 0x1000
KVM_VGIC_V2_CPU_SIZE: Final = 0x2000
KVM_VGIC_V3_DIST_SIZE: Final = 0x10000
KVM_VGIC_V3_REDIST_SIZE: Final = 0x20000
KVM_VGIC_V3_ITS_SIZE: Final = 0x20000
SZ_4K: Final = 0x1000
SZ_64K: Final = 0x10000

#: An unset address, as the kernel stores it (all ones).
VGIC_ADDR_UNDEF: Final = (1 << 64) - 1

# Limits (§1.7).
VGIC_V2_MAX_CPUS: Final = 8
VGIC_V3_MAX_CPUS: Final = 512
VGIC_NR_PRIVATE_IRQS: Final = 32
VGIC_NR_IRQS_LEGACY: Final = 256
VGIC_MAX_RESERVED: Final = 1023
#: KVM_MAX_VCPU_IDS on arm64 (equal to the vGICv3 limit).
KVM_MAX_VCPU_IDS: Final = 512
#: Smallest IPA size a VM may ask for (ARM64_MIN_PARANGE_BITS).
KVM_MIN_IPA_BITS: Final = 32
#: IPA size of a VM created with type 0 (KVM_PHYS_SHIFT).
KVM_DEFAULT_IPA_BITS: Final = 40

# Register offsets (§1.6), and identification values read through them.
GICD_CTLR: Final = 0x0000
GICD_TYPER: Final = 0x0004
GICD_IIDR: Final = 0x0008
GICD_TYPER2: Final = 0x000C
GICD_TYPER2_NASSGICAP: Final = 1 << 8
GICR_TYPER: Final = 0x0008
GICR_TYPER_HI: Final = 0x000C
GICR_TYPER_PLPIS: Final = 1 << 0
GICR_TYPER_LAST: Final = 1 << 4
GICC_CTLR: Final = 0x0000
#: Implementer (ARM) and product (KVM) fields of the IIDR registers.
IMPLEMENTER_ARM: Final = 0x43B
PRODUCT_ID_KVM: Final = 0x4B

GROUP_NAMES: Final[dict[int, str]] = {
    0: "GRP_ADDR",
    1: "GRP_DIST_REGS",
    2: "GRP_CPU_REGS",
    3: "GRP_NR_IRQS",
    4: "GRP_CTRL",
    5: "GRP_REDIST_REGS",
    6: "GRP_CPU_SYSREGS",
    7: "GRP_LEVEL_INFO",
    8: "GRP_ITS_REGS",
    9: "GRP_MAINT_IRQ",
}
ADDR_NAMES: Final[dict[int, str]] = {
    0: "VGIC_V2_ADDR_TYPE_DIST",
    1: "VGIC_V2_ADDR_TYPE_CPU",
    2: "VGIC_V3_ADDR_TYPE_DIST",
    3: "VGIC_V3_ADDR_TYPE_REDIST",
    4: "VGIC_ITS_ADDR_TYPE",
    5: "VGIC_V3_ADDR_TYPE_REDIST_REGION",
}
CTRL_NAMES: Final[dict[int, str]] = {
    0: "CTRL_INIT",
    1: "ITS_SAVE_TABLES",
    2: "ITS_RESTORE_TABLES",
    3: "SAVE_PENDING_TABLES",
    4: "ITS_CTRL_RESET",
}
DEVICE_TYPE_NAMES: Final[dict[int, str]] = {
    1: "KVM_DEV_TYPE_FSL_MPIC_20",
    2: "KVM_DEV_TYPE_FSL_MPIC_42",
    3: "KVM_DEV_TYPE_XICS",
    4: "KVM_DEV_TYPE_VFIO",
    5: "KVM_DEV_TYPE_ARM_VGIC_V2",
    6: "KVM_DEV_TYPE_FLIC",
    7: "KVM_DEV_TYPE_ARM_VGIC_V3",
    8: "KVM_DEV_TYPE_ARM_VGIC_ITS",
    9: "KVM_DEV_TYPE_XIVE",
    10: "KVM_DEV_TYPE_ARM_PV_TIME",
    11: "KVM_DEV_TYPE_RISCV_AIA",
}


def errno_name(code: int) -> str:
    """Return the symbolic name of errno *code* (``EEXIST``), or its number."""
    return _errno.errorcode.get(code, str(code))


def group_name(group: int) -> str:
    """Return the UAPI name of attribute group *group* without its prefix."""
    return GROUP_NAMES.get(group, f"group {group}")
