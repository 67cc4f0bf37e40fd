"""The GICv3 CPU interface registers (KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS), 6.1.

The attribute's low 16 bits encode a system register as Op0:Op1:CRn:CRm:Op2;
fifteen ICC_*_EL1 registers exist. Values live in the vCPU's virtual machine
control register fields and active-priority registers. Limits come from the
host's GIC CPU interface (ICH_VTR_EL2): the number of priority and
interrupt-ID bits, SEIS and A3V, which ICC_CTLR_EL1 reports and a write must
not exceed or change (EINVAL). The value is a u64 at the attribute's address.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Final

from virtmodel.machine.kvm.errors import refuse

if TYPE_CHECKING:
    from virtmodel.machine.kvm.state import VcpuState
    from virtmodel.machine.kvm.vm import Vm


def sysreg(op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
    """Encode a system register as the CPU_SYSREGS attribute's low 16 bits."""
    return op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2


ICC_PMR_EL1: Final = sysreg(3, 0, 4, 6, 0)
ICC_BPR0_EL1: Final = sysreg(3, 0, 12, 8, 3)
ICC_AP0R_EL1: Final = tuple(sysreg(3, 0, 12, 8, 4 + n) for n in range(4))
ICC_AP1R_EL1: Final = tuple(sysreg(3, 0, 12, 9, n) for n in range(4))
ICC_BPR1_EL1: Final = sysreg(3, 0, 12, 12, 3)
ICC_CTLR_EL1: Final = sysreg(3, 0, 12, 12, 4)
ICC_SRE_EL1: Final = sysreg(3, 0, 12, 12, 5)
ICC_IGRPEN0_EL1: Final = sysreg(3, 0, 12, 12, 6)
ICC_IGRPEN1_EL1: Final = sysreg(3, 0, 12, 12, 7)
#: Every register the group knows.
CPU_SYSREGS: Final = frozenset(
    {
        ICC_PMR_EL1,
        ICC_BPR0_EL1,
        *ICC_AP0R_EL1,
        *ICC_AP1R_EL1,
        ICC_BPR1_EL1,
        ICC_CTLR_EL1,
        ICC_SRE_EL1,
        ICC_IGRPEN0_EL1,
        ICC_IGRPEN1_EL1,
    }
)
#: ICC_SRE_EL1 of a GICv3 vCPU: SRE, DFB and DIB set.
_SRE: Final = 0x7


def known(attr: int) -> bool:
    """Whether the attribute names one of the fifteen ICC registers."""
    return attr & 0xFFFF in CPU_SYSREGS


def _max_apr_index(vcpu: VcpuState) -> int:
    return {7: 3, 6: 1}.get(vcpu.pri_bits, 0)


def access(vm: Vm, vcpu: VcpuState, attr: int, value: int | None, write: bool) -> int:
    """Read or write an ICC register; returns the value read (0 for a write).

    Raises:
        Refusal: EFAULT (NULL pointer), ENOENT (no such register), EINVAL (a
            value the CPU interface cannot take).
    """
    if write and value is None:
        refuse(errno.EFAULT, "NULL value pointer")
    reg = attr & 0xFFFF
    if reg not in CPU_SYSREGS:
        refuse(errno.ENOENT, f"no GIC CPU register 0x{reg:04x}")
    if write:
        assert value is not None
        _write(vm, vcpu, reg, value)
        return 0
    result = _read(vm, vcpu, reg)
    if value is None:
        refuse(errno.EFAULT, "NULL value pointer")
    return result


def _read(vm: Vm, vcpu: VcpuState, reg: int) -> int:
    host = vm.host
    if reg == ICC_PMR_EL1:
        return vcpu.vmcr_pmr
    if reg == ICC_BPR0_EL1:
        return vcpu.vmcr_bpr
    if reg == ICC_BPR1_EL1:
        return min(vcpu.vmcr_bpr + 1, 7) if vcpu.vmcr_cbpr else vcpu.vmcr_abpr
    if reg == ICC_CTLR_EL1:
        return (
            (vcpu.pri_bits - 1) << 8
            | vcpu.id_bits << 11
            | host.ich_seis << 14
            | host.ich_a3v << 15
            | int(vcpu.vmcr_cbpr)
            | int(vcpu.vmcr_eoim) << 1
        )
    if reg == ICC_SRE_EL1:
        return _SRE
    if reg == ICC_IGRPEN0_EL1:
        return int(vcpu.vmcr_grpen0)
    if reg == ICC_IGRPEN1_EL1:
        return int(vcpu.vmcr_grpen1)
    group = 1 if reg in ICC_AP1R_EL1 else 0
    index = reg & 3
    if index > _max_apr_index(vcpu):
        refuse(
            errno.EINVAL,
            f"active-priority register {index} is beyond the priority bits",
        )
    return vcpu.apr[group][index]


def _write(vm: Vm, vcpu: VcpuState, reg: int, value: int) -> None:
    host = vm.host
    if reg == ICC_PMR_EL1:
        vcpu.vmcr_pmr = value & 0xFF
    elif reg == ICC_BPR0_EL1:
        vcpu.vmcr_bpr = value & 7
    elif reg == ICC_BPR1_EL1:
        if not vcpu.vmcr_cbpr:
            vcpu.vmcr_abpr = value & 7
    elif reg == ICC_CTLR_EL1:
        pri_bits = ((value >> 8) & 7) + 1
        if pri_bits > vcpu.pri_bits:
            refuse(
                errno.EINVAL,
                f"{pri_bits} priority bits exceed the vcpu's {vcpu.pri_bits}",
            )
        vcpu.pri_bits = pri_bits
        id_bits = (value >> 11) & 7
        if id_bits > vcpu.id_bits:
            refuse(errno.EINVAL, "the interrupt-ID bits exceed the host's")
        vcpu.id_bits = id_bits
        if (value >> 14) & 1 != host.ich_seis or (value >> 15) & 1 != host.ich_a3v:
            refuse(errno.EINVAL, "SEIS and A3V must match the host's")
        vcpu.vmcr_cbpr = bool(value & 1)
        vcpu.vmcr_eoim = bool(value & 2)
    elif reg == ICC_SRE_EL1:
        if not value & 1:
            refuse(errno.EINVAL, "ICC_SRE_EL1.SRE must stay set")
    elif reg == ICC_IGRPEN0_EL1:
        vcpu.vmcr_grpen0 = bool(value & 1)
    elif reg == ICC_IGRPEN1_EL1:
        vcpu.vmcr_grpen1 = bool(value & 1)
    else:
        group = 1 if reg in ICC_AP1R_EL1 else 0
        index = reg & 3
        if index > _max_apr_index(vcpu):
            refuse(
                errno.EINVAL,
                f"active-priority register {index} is beyond the priority bits",
            )
        vcpu.apr[group][index] = value & 0xFFFFFFFF
