"""vGIC register groups: DIST_REGS, REDIST_REGS, CPU_REGS and LEVEL_INFO.

Check order (kvm-vgic.md §2.7): the target vCPU must exist (EINVAL), then a
set reads its value (EFAULT), then the vGIC must be initialized (EBUSY; on
GICv2 the access initializes it instead), then the offset must name a
register, and a get writes its value back last (EFAULT).

Modelled registers -- anything else answers ENXIO with "not modelled":
GICv3 distributor GICD_CTLR, GICD_TYPER, GICD_IIDR, GICD_TYPER2;
redistributor GICR_TYPER (two 32-bit halves at 0x8 and 0xC); GICv2
GICD_CTLR, GICD_TYPER and GICC_CTLR. CPU_SYSREGS is not modelled at all.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm.encoding import (
    MPIDR_HWID_MASK,
    OFFSET_MASK,
    V2_CPUID_MASK,
    V2_CPUID_SHIFT,
    V3_MPIDR_SHIFT,
    attr_affinity_to_mpidr,
)
from virtmodel.machine.kvm.errors import refuse
from virtmodel.machine.kvm.state import VcpuState

if TYPE_CHECKING:
    from virtmodel.machine.kvm.vm import Vm

#: GICD_CTLR bits: EnableGrp1 (read/write), ARE_NS and DS (always set).
_GICD_CTLR_ENABLE_G1 = 1 << 1
_GICD_CTLR_FIXED = (1 << 4) | (1 << 6)
#: GICC_CTLR bits userspace can see: EnableGrp0/1, AckCtl, FIQEn, CBPR, EOImode.
_GICC_CTLR_MASK = 0x21F
_IIDR_REV_SHIFT = 12
_IIDR_REV_MASK = 0xF << _IIDR_REV_SHIFT
#: LEVEL_INFO attr layout (§1.6).
_LEVEL_INFO_SHIFT = 10
_LEVEL_INFO_MASK = 0x3FFFFF << _LEVEL_INFO_SHIFT
_LEVEL_INTID_MASK = 0x3FF

_V3_REGS = {
    c.KVM_DEV_ARM_VGIC_GRP_DIST_REGS: (
        c.GICD_CTLR,
        c.GICD_TYPER,
        c.GICD_IIDR,
        c.GICD_TYPER2,
    ),
    c.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS: (c.GICR_TYPER, c.GICR_TYPER_HI),
}
_V2_REGS = {
    c.KVM_DEV_ARM_VGIC_GRP_DIST_REGS: (c.GICD_CTLR, c.GICD_TYPER),
    c.KVM_DEV_ARM_VGIC_GRP_CPU_REGS: (c.GICC_CTLR,),
}
_NAMES = {
    (c.KVM_DEV_ARM_VGIC_GRP_DIST_REGS, c.GICD_CTLR): "GICD_CTLR",
    (c.KVM_DEV_ARM_VGIC_GRP_DIST_REGS, c.GICD_TYPER): "GICD_TYPER",
    (c.KVM_DEV_ARM_VGIC_GRP_DIST_REGS, c.GICD_IIDR): "GICD_IIDR",
    (c.KVM_DEV_ARM_VGIC_GRP_DIST_REGS, c.GICD_TYPER2): "GICD_TYPER2",
    (c.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, c.GICR_TYPER): "GICR_TYPER",
    (c.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, c.GICR_TYPER_HI): "GICR_TYPER+4",
    (c.KVM_DEV_ARM_VGIC_GRP_CPU_REGS, c.GICC_CTLR): "GICC_CTLR",
}


def register_attr_name(v3: bool, group: int, attr: int) -> str:
    """Name a register attr for traces, e.g. ``GICR_TYPER(mpidr=0x00000001)``."""
    offset = attr & OFFSET_MASK
    name = _NAMES.get((group, offset), f"0x{offset:04x}")
    if group == c.KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO:
        return f"LEVEL_INFO(vintid={attr & _LEVEL_INTID_MASK})"
    if v3:
        return f"{name}(mpidr=0x{attr >> V3_MPIDR_SHIFT:08x})"
    return f"{name}(vcpu={(attr & V2_CPUID_MASK) >> V2_CPUID_SHIFT})"


def _target(vm: Vm, group: int, attr: int) -> VcpuState:
    if vm.vgic.model == c.KVM_DEV_TYPE_ARM_VGIC_V2:
        cpuid = (attr & V2_CPUID_MASK) >> V2_CPUID_SHIFT
        found = next((v.state for v in vm.vcpus if v.state.vcpu_id == cpuid), None)
        if found is None:
            refuse(errno.EINVAL, f"no vcpu with id {cpuid}")
        return found
    if group == c.KVM_DEV_ARM_VGIC_GRP_DIST_REGS:
        if not vm.vcpus:
            refuse(errno.EINVAL, "distributor access needs vcpu 0, and there is none")
        return vm.vcpus[0].state
    mpidr = attr_affinity_to_mpidr(attr >> V3_MPIDR_SHIFT)
    for vcpu in vm.vcpus:
        if vcpu.state.mpidr & MPIDR_HWID_MASK == mpidr:
            return vcpu.state
    refuse(errno.EINVAL, f"no vcpu with mpidr 0x{mpidr:08x}")


def has_register(vm: Vm, group: int, attr: int) -> None:
    """Answer KVM_HAS_DEVICE_ATTR for a register group.

    Raises:
        Refusal: EINVAL (GICv2: no such vCPU) or ENXIO (no such register).
    """
    v2 = vm.vgic.model == c.KVM_DEV_TYPE_ARM_VGIC_V2
    if v2:
        _target(vm, group, attr)
    if group == c.KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO:
        if (attr & _LEVEL_INFO_MASK) >> _LEVEL_INFO_SHIFT != 0:
            refuse(errno.ENXIO, "unknown LEVEL_INFO info field")
        return
    offset = attr & OFFSET_MASK
    table = _V2_REGS if v2 else _V3_REGS
    if offset % 4 or offset not in table.get(group, ()):
        refuse(errno.ENXIO, f"register at offset 0x{offset:08x} is not modelled")


def access_register(
    vm: Vm, group: int, attr: int, value: int | None, write: bool
) -> int:
    """Read (returns the value) or write a register through a register group.

    Raises:
        Refusal: EINVAL, EFAULT, EBUSY or ENXIO in the order of §2.7.
    """
    gic = vm.vgic
    target = _target(vm, group, attr)
    if write and value is None:
        refuse(errno.EFAULT, "NULL value pointer")
    offset = attr & OFFSET_MASK
    if gic.model == c.KVM_DEV_TYPE_ARM_VGIC_V2:
        vm.vgic_init()  # a GICv2 register access initializes the vGIC (§2.7)
        result = _v2_access(vm, target, group, offset, value if write else None)
    else:
        exempt = (
            vm.semantics.newest_registers
            and group == c.KVM_DEV_ARM_VGIC_GRP_DIST_REGS
            and offset in (c.GICD_IIDR, c.GICD_TYPER2)
        )
        if not gic.initialized and not exempt:
            refuse(errno.EBUSY, "the vGIC is not initialized: no CTRL_INIT")
        if group == c.KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO:
            result = _level_info(vm, target, attr, value if write else None)
        else:
            result = _v3_access(vm, target, group, offset, value if write else None)
    if not write and value is None:
        refuse(errno.EFAULT, "NULL value pointer")
    return result


def _not_modelled(offset: int) -> int:
    refuse(errno.ENXIO, f"register at offset 0x{offset:08x} is not modelled")


def _v3_access(
    vm: Vm, vcpu: VcpuState, group: int, offset: int, value: int | None
) -> int:
    gic = vm.vgic
    if group == c.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS:
        if offset not in (c.GICR_TYPER, c.GICR_TYPER_HI):
            return _not_modelled(offset)
        typer = gicr_typer(vm, vcpu)
        return (
            0
            if value is not None
            else (typer >> (0 if offset == c.GICR_TYPER else 32)) & OFFSET_MASK
        )
    if offset == c.GICD_CTLR:
        if value is not None:
            gic.enabled = bool(value & _GICD_CTLR_ENABLE_G1)
            return 0
        return _GICD_CTLR_FIXED | (_GICD_CTLR_ENABLE_G1 if gic.enabled else 0)
    if offset == c.GICD_TYPER:
        if value is not None:
            return 0  # read-only: writes are ignored
        lpis = vm.has_its()
        id_bits = 16 if lpis else 10
        typer = ((gic.nr_spis + c.VGIC_NR_PRIVATE_IRQS) >> 5) - 1
        return typer | (id_bits - 1) << 19 | (1 << 17 if lpis else 0)
    if offset == c.GICD_IIDR:
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
    if offset == c.GICD_TYPER2:
        current = c.GICD_TYPER2_NASSGICAP if gic.nassgicap else 0
        if value is None or value == current:
            return current if value is None else 0
        if gic.initialized:
            refuse(errno.EBUSY, "GICD_TYPER2 cannot change after CTRL_INIT")
        if (value ^ current) & ~c.GICD_TYPER2_NASSGICAP:
            refuse(errno.EINVAL, "only GICD_TYPER2.nASSGIcap may change")
        if value & c.GICD_TYPER2_NASSGICAP and not vm.host.gicv4_1_vsgi:
            refuse(errno.EINVAL, "the host has no GICv4.1 vSGI support for nASSGIcap")
        gic.nassgicap = bool(value & c.GICD_TYPER2_NASSGICAP)
        return 0
    return _not_modelled(offset)


def _v2_access(
    vm: Vm, vcpu: VcpuState, group: int, offset: int, value: int | None
) -> int:
    gic = vm.vgic
    if group == c.KVM_DEV_ARM_VGIC_GRP_CPU_REGS:
        if offset != c.GICC_CTLR:
            return _not_modelled(offset)
        if value is not None:
            vcpu.gicc_ctlr = value & _GICC_CTLR_MASK
            return 0
        return vcpu.gicc_ctlr
    if offset == c.GICD_CTLR:
        if value is not None:
            gic.enabled = bool(value & 1)
            return 0
        return int(gic.enabled)
    if offset == c.GICD_TYPER:
        if value is not None:
            return 0  # read-only: writes are ignored
        lines = ((gic.nr_spis + c.VGIC_NR_PRIVATE_IRQS) >> 5) - 1
        return lines | (len(vm.vcpus) - 1) << 5
    return _not_modelled(offset)


def _level_info(vm: Vm, vcpu: VcpuState, attr: int, value: int | None) -> int:
    if (attr & _LEVEL_INFO_MASK) >> _LEVEL_INFO_SHIFT != 0:
        refuse(errno.EINVAL, "unknown LEVEL_INFO info field")
    intid = attr & _LEVEL_INTID_MASK
    if intid % 32:
        refuse(errno.EINVAL, f"vINTID {intid} is not a multiple of 32")
    nr_irqs = vm.vgic.nr_spis + c.VGIC_NR_PRIVATE_IRQS
    levels = vm.line_levels
    result = 0
    for bit in range(32):
        line = intid + bit
        if line < 16 or line >= nr_irqs:
            continue  # SGIs have no line level; beyond nr_irqs there is no line
        key = (vcpu.vcpu_id if line < 32 else -1, line)
        if value is not None:
            levels[key] = bool(value >> bit & 1)
        elif levels.get(key, False):
            result |= 1 << bit
    return 0 if value is not None else result


def gicr_typer(vm: Vm, vcpu: VcpuState) -> int:
    """Return the 64-bit GICR_TYPER of *vcpu*'s redistributor (§1.6).

    Affinity in bits 63..32, Processor_Number (the vCPU id) in 23..8, Last
    when no later frame follows in the same or a contiguous region, PLPIS
    when the VM has an ITS.
    """
    mpidr = vcpu.mpidr & MPIDR_HWID_MASK
    affinity = ((mpidr >> 32) & 0xFF) << 24 | (mpidr & 0xFFFFFF)
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
        # A contiguous region already holding frames continues this one.
        return not any(o.base == end and o.free_index > 0 for o in vm.vgic.regions)
    return True
