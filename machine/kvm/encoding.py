"""Bit layouts of attribute values: redistributor regions and register attrs.

REDIST_REGION values pack count, base, flags and index into 64 bits
(kvm-vgic.md §1.4); register attributes pack a target vCPU (an index for
GICv2, an MPIDR affinity for GICv3) above a register offset (§1.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

REDIST_INDEX_MASK: Final = 0xFFF
REDIST_FLAGS_SHIFT: Final = 12
REDIST_FLAGS_MASK: Final = 0xF << REDIST_FLAGS_SHIFT
REDIST_BASE_MASK: Final = ((1 << 52) - 1) & ~0xFFFF
REDIST_COUNT_SHIFT: Final = 52
REDIST_COUNT_MASK: Final = 0xFFF << REDIST_COUNT_SHIFT

#: v2 register attrs: vCPU index in bits 39..32.
V2_CPUID_SHIFT: Final = 32
V2_CPUID_MASK: Final = 0xFF << V2_CPUID_SHIFT
#: v3 register attrs: MPIDR affinity Aff3.Aff2.Aff1.Aff0 in bits 63..32.
V3_MPIDR_SHIFT: Final = 32
V3_MPIDR_MASK: Final = 0xFFFFFFFF << V3_MPIDR_SHIFT
OFFSET_MASK: Final = 0xFFFFFFFF
#: MPIDR bits that carry affinity (Aff3 at 39..32, Aff2..Aff0 at 23..0).
MPIDR_HWID_MASK: Final = 0xFF_00FF_FFFF
#: MPIDR_EL1 bit 31 reads as one.
MPIDR_RES1: Final = 1 << 31


@dataclass(frozen=True, slots=True)
class RedistRegionAttr:
    """The fields of a decoded REDIST_REGION attribute value."""

    count: int
    base: int
    flags: int
    index: int


def redist_region_attr(count: int, base: int, flags: int = 0, index: int = 0) -> int:
    """Encode a REDIST_REGION value, as the selftests' helper does.

    Base bits below bit 16 cannot be encoded and are dropped, exactly as in
    the kernel ABI (a base of 0x201000 becomes 0x200000).

    Raises:
        ValueError: A field does not fit its bit range.
    """
    for name, value, width in (("count", count, 12), ("flags", flags, 4)):
        if not 0 <= value < 1 << width:
            msg = f"REDIST_REGION {name} {value} does not fit in {width} bits"
            raise ValueError(msg)
    if not 0 <= index <= REDIST_INDEX_MASK:
        msg = f"REDIST_REGION index {index} does not fit in 12 bits"
        raise ValueError(msg)
    if not 0 <= base < 1 << 52:
        msg = f"REDIST_REGION base {base:#x} does not fit in 52 bits"
        raise ValueError(msg)
    return (
        (count << REDIST_COUNT_SHIFT)
        | (base & REDIST_BASE_MASK)
        | (flags << REDIST_FLAGS_SHIFT)
        | index
    )


def decode_redist_region(value: int) -> RedistRegionAttr:
    """Split a 64-bit REDIST_REGION value into its fields."""
    return RedistRegionAttr(
        count=(value & REDIST_COUNT_MASK) >> REDIST_COUNT_SHIFT,
        base=value & REDIST_BASE_MASK,
        flags=(value & REDIST_FLAGS_MASK) >> REDIST_FLAGS_SHIFT,
        index=value & REDIST_INDEX_MASK,
    )


def reset_mpidr(vcpu_id: int) -> int:
    """Return the MPIDR_EL1 the kernel gives vCPU *vcpu_id* at reset.

    Aff0 takes the low 4 bits of the id, Aff1 the next 8, Aff2 the 8 after
    that; bit 31 is RES1.
    """
    aff0 = vcpu_id & 0xF
    aff1 = (vcpu_id >> 4) & 0xFF
    aff2 = (vcpu_id >> 12) & 0xFF
    return MPIDR_RES1 | (aff2 << 16) | (aff1 << 8) | aff0


def mpidr_to_attr_affinity(mpidr: int) -> int:
    """Pack an MPIDR's affinity as the 32-bit Aff3.Aff2.Aff1.Aff0 attr field."""
    return ((mpidr >> 32) & 0xFF) << 24 | (mpidr & 0xFFFFFF)


def attr_affinity_to_mpidr(field: int) -> int:
    """Unpack the 32-bit attr affinity field into MPIDR affinity bits."""
    return ((field >> 24) & 0xFF) << 32 | (field & 0xFFFFFF)


def v3_reg_attr(mpidr: int, offset: int) -> int:
    """Encode a GICv3 register attr: target MPIDR above the register offset."""
    return (mpidr_to_attr_affinity(mpidr) << V3_MPIDR_SHIFT) | (offset & OFFSET_MASK)


def v2_reg_attr(vcpu_id: int, offset: int) -> int:
    """Encode a GICv2 register attr: vCPU in bits 39..32 above the offset."""
    return ((vcpu_id & 0xFF) << V2_CPUID_SHIFT) | (offset & OFFSET_MASK)
