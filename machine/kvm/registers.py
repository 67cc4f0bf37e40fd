"""vGIC register groups: DIST_REGS, REDIST_REGS, CPU_SYSREGS, CPU_REGS, LEVEL_INFO.

Check order (kvm-vgic.md §2.7, Linux 6.1's vgic-kvm-device.c): the target
vCPU must exist (EINVAL), then a set of a 32-bit group reads its value
(EFAULT), then the vGIC must be initialized (EBUSY; on GICv2 the access
initializes it instead), then the register answers, and a get writes its
value back last (EFAULT).

GICv3: the whole 6.1 register file (:mod:`gicv3_regs`, :mod:`gicv3_sysregs`).
GICv2 (which the lab's host cannot create, so unmeasured): GICD_CTLR,
GICD_TYPER and GICC_CTLR; other offsets answer ENXIO "not modelled".
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm import gicv3_regs, gicv3_sysregs
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

#: GICC_CTLR bits userspace can see: EnableGrp0/1, AckCtl, FIQEn, CBPR, EOImode.
_GICC_CTLR_MASK = 0x21F
#: LEVEL_INFO attr layout (§1.6).
_LEVEL_INFO_SHIFT = 10
_LEVEL_INFO_MASK = 0x3FFFFF << _LEVEL_INFO_SHIFT
_LEVEL_INTID_MASK = 0x3FF

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
        Refusal: EINVAL (no such target vCPU) or ENXIO (no such register).
    """
    v2 = vm.vgic.model == c.KVM_DEV_TYPE_ARM_VGIC_V2
    if group == c.KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO:
        if (attr & _LEVEL_INFO_MASK) >> _LEVEL_INFO_SHIFT != 0:
            refuse(errno.ENXIO, "unknown LEVEL_INFO info field")
        return
    _target(vm, group, attr)
    offset = attr & OFFSET_MASK
    if v2:
        if offset % 4 or offset not in _V2_REGS.get(group, ()):
            refuse(errno.ENXIO, f"register at offset 0x{offset:08x} is not modelled")
        return
    if group == c.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS:
        if not gicv3_sysregs.known(attr):
            refuse(errno.ENXIO, f"no GIC CPU register 0x{attr & 0xFFFF:04x}")
        return
    redist = group == c.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS
    regions = gicv3_regs.REDIST_REGIONS if redist else gicv3_regs.DIST_REGIONS
    if gicv3_regs.find_region(vm, regions, offset) is None:
        refuse(errno.ENXIO, f"no register at offset 0x{offset:08x}")


def access_register(
    vm: Vm, group: int, attr: int, value: int | None, write: bool
) -> int:
    """Read (returns the value) or write a register through a register group.

    Raises:
        Refusal: EINVAL, EFAULT, EBUSY, ENOENT or ENXIO in the order of §2.7.
    """
    gic = vm.vgic
    target = _target(vm, group, attr)
    sysregs = group == c.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS
    if write and value is None and not sysregs:
        refuse(errno.EFAULT, "NULL value pointer")
    offset = attr & OFFSET_MASK
    if gic.model == c.KVM_DEV_TYPE_ARM_VGIC_V2:
        vm.vgic_init()  # a GICv2 register access initializes the vGIC (§2.7)
        result = _v2_access(vm, target, group, offset, value if write else None)
    else:
        if not gic.initialized:
            refuse(errno.EBUSY, "the vGIC is not initialized: no CTRL_INIT")
        if sysregs:
            return gicv3_sysregs.access(vm, target, attr, value, write)
        if group == c.KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO:
            result = _level_info(vm, target, attr, value if write else None)
        else:
            redist = group == c.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS
            data = value & 0xFFFFFFFF if write and value is not None else None
            result = gicv3_regs.access(vm, target, redist, offset, data)
    if not write and value is None:
        refuse(errno.EFAULT, "NULL value pointer")
    return result


def _not_modelled(offset: int) -> int:
    refuse(errno.ENXIO, f"register at offset 0x{offset:08x} is not modelled")


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
    result = 0
    for bit in range(32):
        line = intid + bit
        if line < 16 or line >= nr_irqs:
            continue  # SGIs have no line level; beyond nr_irqs there is no line
        irq = vm.vgic.irqs.get(vcpu.index, line)
        if value is not None:
            irq.line_level = bool(value >> bit & 1)
        elif irq.line_level and not irq.edge:
            result |= 1 << bit
    return 0 if value is not None else result
