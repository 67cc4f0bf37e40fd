"""GICv3 distributor and redistributor registers as Linux 6.1 serves them.

These are the groups KVM_DEV_ARM_VGIC_GRP_DIST_REGS and _REDIST_REGS.

Userspace accesses are 32 bits wide. An offset is a register when it lies in
one of the kernel's register regions, is 4-byte aligned and, for per-interrupt
registers, names an interrupt below the VM's count (32 + nr_spis). Set and
get of anything else succeed and read as zero (the kernel's uaccess ignores
them); only KVM_HAS_DEVICE_ATTR tells them apart (ENXIO). The private
interrupts' words of the distributor's per-interrupt registers read as zero.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm.encoding import MPIDR_HWID_MASK
from virtmodel.machine.kvm.errors import refuse
from virtmodel.machine.kvm.irqs import NR_PRIVATE, NR_SGIS, Irq

if TYPE_CHECKING:
    from virtmodel.machine.kvm.state import VcpuState
    from virtmodel.machine.kvm.vm import Vm


@dataclass(frozen=True, slots=True)
class Region:
    """One register region: where, how long, what it does, bits per interrupt."""

    offset: int
    length: int
    kind: str
    bits: int = 0


def _per_irq(offset: int, kind: str, bits: int) -> tuple[Region, Region]:
    # The distributor's private part reads as zero; the rest reaches SPIs.
    private = bits * NR_PRIVATE // 8
    return (
        Region(offset, private, "raz", bits),
        Region(offset + private, bits * (1024 - NR_PRIVATE) // 8, kind, bits),
    )


DIST_REGIONS: Final = (
    Region(0x0000, 16, "misc"),
    Region(0x0010, 4, "rao"),
    *_per_irq(0x0080, "group", 1),
    *_per_irq(0x0100, "senable", 1),
    *_per_irq(0x0180, "cenable", 1),
    *_per_irq(0x0200, "spending", 1),
    *_per_irq(0x0280, "cpending", 1),
    *_per_irq(0x0300, "sactive", 1),
    *_per_irq(0x0380, "cactive", 1),
    *_per_irq(0x0400, "priority", 8),
    *_per_irq(0x0800, "raz", 8),
    *_per_irq(0x0C00, "config", 2),
    *_per_irq(0x0D00, "raz", 1),
    *_per_irq(0x6000, "irouter", 64),
    Region(0xFFD0, 48, "idregs"),
)
_SGI = 0x10000
#: In the kernel's table order, which is not sorted: GICR_STATUSR comes
#: second, so the kernel's binary search never finds it (has_attr: ENXIO).
REDIST_REGIONS: Final = (
    Region(0x0000, 4, "rctlr"),
    Region(0x0010, 4, "raz"),
    Region(0x0004, 4, "riidr"),
    Region(0x0008, 8, "rtyper"),
    Region(0x0014, 4, "raz"),
    Region(0x0070, 8, "propbaser"),
    Region(0x0078, 8, "pendbaser"),
    Region(0x00A0, 8, "raz"),
    Region(0x00B0, 8, "raz"),
    Region(0x00C0, 4, "raz"),
    Region(0xFFD0, 48, "idregs"),
    Region(_SGI + 0x0080, 4, "group"),
    Region(_SGI + 0x0100, 4, "senable"),
    Region(_SGI + 0x0180, 4, "cenable"),
    Region(_SGI + 0x0200, 4, "spending"),
    Region(_SGI + 0x0280, 4, "cpending"),
    Region(_SGI + 0x0300, 4, "sactive"),
    Region(_SGI + 0x0380, 4, "cactive"),
    Region(_SGI + 0x0400, 32, "priority"),
    Region(_SGI + 0x0C00, 8, "config"),
    Region(_SGI + 0x0D00, 4, "raz"),
    Region(_SGI + 0x0E00, 4, "raz"),
)
#: Bits per interrupt of the redistributor's SGI-frame registers.
_REDIST_BITS: Final = {"priority": 8, "config": 2}

_GICD_CTLR_ENABLE_G1 = 1 << 1
_GICD_CTLR_FIXED = (1 << 4) | (1 << 6)  # ARE_NS, DS
_IIDR_REV_SHIFT = 12
_IIDR_REV_MASK = 0xF << _IIDR_REV_SHIFT
_PIDR2 = 0xFFE8
_GICR_CTLR_ENABLE_LPIS = 1 << 0
_GICR_CTLR_CES_IR = (1 << 1) | (1 << 2)
_PRIORITY_MASK = 0xF8  # five priority bits
#: PROPBASER/PENDBASER: RES0 bits, and the reset value (inner RaWb, inner
#: shareable).
_PROPBASER_RES0 = (0x1F << 59) | (0xF << 52) | (0x3 << 5)
_PENDBASER_RES0 = (1 << 63) | (0x7 << 59) | (0xF << 52) | (0xF << 12) | 0x7F
_PENDBASER_PTZ = 1 << 62
INITIAL_BASER: Final = (3 << 7) | (1 << 10)


def find_region(vm: Vm, regions: tuple[Region, ...], offset: int) -> Region | None:
    """Return the region serving a 32-bit access at *offset*, as check_region does."""
    if offset % 4:
        return None
    region = bsearch(regions, offset)
    if region is None:
        return None
    if (
        region.bits
        and addr_to_intid(offset, region.bits) >= vm.vgic.nr_spis + NR_PRIVATE
    ):
        return None
    return region


def bsearch(regions: tuple[Region, ...], offset: int) -> Region | None:
    """Return *offset*'s region, found the way the kernel's binary search does."""
    base, count = 0, len(regions)
    while count > 0:
        pivot = regions[base + count // 2]
        if offset < pivot.offset:
            pass
        elif offset >= pivot.offset + pivot.length:
            base += count // 2 + 1
            count -= 1
        else:
            return pivot
        count //= 2
    return None


def addr_to_intid(offset: int, bits: int) -> int:
    """Return the first interrupt a per-interrupt register word at *offset* holds."""
    return (offset & (bits * 1024 // 8 - 1)) * 8 // bits


def access(
    vm: Vm, vcpu: VcpuState, redist: bool, offset: int, value: int | None
) -> int:
    """Read (*value* None; returns the word) or write one 32-bit register.

    Raises:
        Refusal: EINVAL for a GICD_IIDR or GICD_TYPER2 write the kernel refuses.
    """
    regions = REDIST_REGIONS if redist else DIST_REGIONS
    region = find_region(vm, regions, offset)
    if region is None:
        return 0
    kind = region.kind
    if kind in ("raz", "rao", "idregs"):
        if value is not None:
            return 0
        if kind == "rao":
            return 0xFFFFFFFF
        return 0x3B if kind == "idregs" and offset == _PIDR2 else 0
    if kind == "misc":
        return _misc(vm, offset, value)
    if kind in ("rctlr", "riidr", "rtyper", "propbaser", "pendbaser"):
        return _redist(vm, vcpu, kind, offset, value)
    bits = _REDIST_BITS.get(kind, 1) if redist else region.bits
    first = addr_to_intid(offset, bits)
    if kind == "irouter":
        return _irouter(vm, first, offset, value)
    irqs = [vm.vgic.irqs.get(vcpu.index, first + i) for i in range(32 // bits)]
    if value is None:
        return _read_irqs(kind, irqs, bits)
    _write_irqs(kind, irqs, bits, value)
    return 0


def _read_irqs(kind: str, irqs: list[Irq], bits: int) -> int:
    word = 0
    for i, irq in enumerate(irqs):
        if kind == "group":
            field = int(irq.group)
        elif kind in ("senable", "cenable"):
            field = int(irq.enabled)
        elif kind == "spending":
            field = int(irq.pending)
        elif kind in ("sactive", "cactive"):
            field = int(irq.active)
        elif kind == "priority":
            field = irq.priority
        elif kind == "config":
            field = 2 if irq.edge else 0
        else:  # cpending reads as zero for userspace
            field = 0
        word |= field << (i * bits)
    return word


def _write_irqs(kind: str, irqs: list[Irq], bits: int, value: int) -> None:
    for i, irq in enumerate(irqs):
        field = (value >> (i * bits)) & ((1 << bits) - 1)
        if kind == "group":
            irq.group = bool(field)
        elif kind == "senable" and field:
            irq.enabled = True
        elif kind == "cenable" and field:
            irq.enabled = False
        elif kind == "spending":
            irq.pending_latch = bool(field)
        elif kind == "sactive" and field:
            irq.active = True
        elif kind == "cactive" and field:
            irq.active = False
        elif kind == "priority":
            irq.priority = field & _PRIORITY_MASK
        elif kind == "config" and irq.intid >= NR_SGIS:
            irq.edge = bool(field & 2)


def _irouter(vm: Vm, intid: int, offset: int, value: int | None) -> int:
    irq = vm.vgic.irqs.get(0, intid)
    upper = offset & 4
    if value is None:
        return 0 if upper else irq.mpidr & 0xFFFFFFFF
    if not upper:
        irq.mpidr = value & 0xFFFFFF
    return 0


def _misc(vm: Vm, offset: int, value: int | None) -> int:
    gic = vm.vgic
    reg = offset & 0xC
    if reg == c.GICD_CTLR:
        current = _GICD_CTLR_FIXED | (_GICD_CTLR_ENABLE_G1 if gic.enabled else 0)
        if value is None:
            return current
        gic.enabled = bool(value & _GICD_CTLR_ENABLE_G1)
        return 0
    if reg == c.GICD_TYPER:
        if value is not None:
            return 0
        lpis = vm.has_its()
        typer = ((gic.nr_spis + NR_PRIVATE) >> 5) - 1
        return typer | ((16 if lpis else 10) - 1) << 19 | (1 << 17 if lpis else 0)
    if reg == c.GICD_IIDR:
        current = (
            c.PRODUCT_ID_KVM << 24
            | gic.implementation_rev << _IIDR_REV_SHIFT
            | c.IMPLEMENTER_ARM
        )
        if value is None:
            return current
        if (value ^ current) & ~_IIDR_REV_MASK:
            refuse(errno.EINVAL, "only the GICD_IIDR revision field may change")
        revision = (value & _IIDR_REV_MASK) >> _IIDR_REV_SHIFT
        if revision not in (2, 3):
            refuse(errno.EINVAL, f"GICD_IIDR revision {revision} is not 2 or 3")
        gic.implementation_rev = revision
        return 0
    current = c.GICD_TYPER2_NASSGICAP if vm.host.gicv4_1_vsgi else 0
    if value is None:
        return current
    if value != current:
        refuse(errno.EINVAL, f"GICD_TYPER2 is read-only (0x{current:x})")
    return 0


def _redist(vm: Vm, vcpu: VcpuState, kind: str, offset: int, value: int | None) -> int:
    gic = vm.vgic
    if kind == "rctlr":
        current = _GICR_CTLR_ENABLE_LPIS if vcpu.lpis_enabled else 0
        if gic.implementation_rev >= 3:
            current |= _GICR_CTLR_CES_IR
        if value is None:
            return current
        if vm.has_its():
            vcpu.lpis_enabled = bool(value & _GICR_CTLR_ENABLE_LPIS)
        return 0
    if kind == "riidr":
        return 0 if value is not None else c.PRODUCT_ID_KVM << 24 | c.IMPLEMENTER_ARM
    upper = offset & 4
    if kind == "rtyper":
        if value is not None:
            return 0
        typer = gicr_typer(vm, vcpu)
        return (typer >> 32 if upper else typer) & 0xFFFFFFFF
    current = gic.propbaser if kind == "propbaser" else vcpu.pendbaser
    if value is None:
        if kind == "pendbaser":
            current &= ~_PENDBASER_PTZ
        return (current >> 32 if upper else current) & 0xFFFFFFFF
    if vcpu.lpis_enabled:
        return 0
    if upper:
        merged = (current & 0xFFFFFFFF) | value << 32
    else:
        merged = (current & ~0xFFFFFFFF) | value
    res0 = _PROPBASER_RES0 if kind == "propbaser" else _PENDBASER_RES0
    sanitised = _sanitise(merged) & ~res0
    if kind == "propbaser":
        gic.propbaser = sanitised
    else:
        vcpu.pendbaser = sanitised
    return 0


def _sanitise(reg: int) -> int:
    share = (reg >> 10) & 3
    if share == 2:  # outer shareable becomes inner shareable
        reg = (reg & ~(3 << 10)) | 1 << 10
    inner = (reg >> 7) & 7
    if inner in (0, 1):  # non-cacheable becomes read-allocate write-back
        reg = (reg & ~(7 << 7)) | 3 << 7
    outer = (reg >> 56) & 7
    if outer not in (0, 1):
        reg &= ~(7 << 56)
    return reg


def gicr_typer(vm: Vm, vcpu: VcpuState) -> int:
    """Return the 64-bit GICR_TYPER of *vcpu*'s redistributor (6.1).

    Aff2.Aff1.Aff0 in bits 55..32, Processor_Number (the vCPU id) in 23..8,
    Last when no later frame follows in the same or a contiguous region,
    PLPIS when the VM has an ITS.
    """
    affinity = vcpu.mpidr & MPIDR_HWID_MASK & 0xFFFFFF
    value = affinity << 32 | (vcpu.vcpu_id & 0xFFFF) << 8
    if vm.has_its():
        value |= c.GICR_TYPER_PLPIS
    if _is_last(vm, vcpu):
        value |= c.GICR_TYPER_LAST
    return value


def _is_last(vm: Vm, vcpu: VcpuState) -> bool:
    region = vcpu.rdreg
    if region is None:
        return False
    if vcpu.rdreg_index < region.free_index - 1:
        return False
    if region.count and vcpu.rdreg_index == region.count - 1:
        end = region.base + region.count * c.KVM_VGIC_V3_REDIST_SIZE
        return not any(o.base == end and o.free_index > 0 for o in vm.vgic.regions)
    return True
