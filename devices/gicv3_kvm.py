"""What QEMU 7.2's in-kernel GICv3 says to KVM besides creating it.

Three parts of ``hw/intc/arm_gicv3_kvm.c``, as facts of its behaviour:

- After CTRL_INIT at realize: one GSI routing table (GSI *n* to irqchip 0
  pin *n*, one per SPI), then two HAS_DEVICE_ATTR probes -- GICD_CTLR (can
  the state be saved at all?) and SAVE_PENDING_TABLES.
- At every CPU reset (a hook the GIC hangs on each CPU): the CPU interface
  goes back to QEMU's reset values and ICC_CTLR_EL1 is read from the kernel.
  QEMU registers the hook for both register views, so it runs -- and reads
  -- twice.
- At GIC reset: QEMU's whole reset state is written to the kernel (the
  migration "put"): a sanity read of GICD_TYPER and of CPU 0's GICR_TYPER,
  GICD_CTLR, the LPI base registers when the redistributors have LPIs, each
  redistributor's SGI/PPI state, the distributor's SPI state, then each CPU
  interface. :func:`put_writes` lists those writes; the values are QEMU's
  reset values (everything clear, GICD_CTLR ARE|DS, GICR_WAKER asleep).

QEMU 7.2 quirks kept as they are: the SPI IROUTER registers are written at
``0x6000 + 4*n`` and ``+4`` (halves overlapping the neighbour's), and a
set/clear register pair gets all-ones in the clear register first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from virtmodel.machine import kvm
from virtmodel.machine.kvm.encoding import v3_reg_attr
from virtmodel.machine.kvm.routing import Route

if TYPE_CHECKING:
    from virtmodel.machine.accel import KvmDeviceHandle, KvmVm

__all__ = [
    "ICC_CTLR_EL1",
    "Access",
    "after_init",
    "icc_reset",
    "put_state",
    "put_writes",
]

#: The private interrupts (SGIs and PPIs) each redistributor holds.
GIC_INTERNAL: Final = 32
_ALL: Final = 0xFFFF_FFFF

# Distributor registers (offsets in the distributor frame).
GICD_CTLR: Final = 0x0000
GICD_TYPER: Final = 0x0004
GICD_STATUSR: Final = 0x0010
GICD_IGROUPR: Final = 0x0080
GICD_ISENABLER: Final = 0x0100
GICD_ICENABLER: Final = 0x0180
GICD_ISPENDR: Final = 0x0200
GICD_ICPENDR: Final = 0x0280
GICD_ISACTIVER: Final = 0x0300
GICD_ICACTIVER: Final = 0x0380
GICD_IPRIORITYR: Final = 0x0400
GICD_ICFGR: Final = 0x0C00
GICD_IROUTER: Final = 0x6000
#: GICD_CTLR as QEMU resets a GIC without security extensions: ARE and DS.
GICD_CTLR_RESET: Final = (1 << 4) | (1 << 6)

# Redistributor registers (RD_base frame, then SGI_base at +64K).
GICR_CTLR: Final = 0x0000
GICR_TYPER: Final = 0x0008
GICR_STATUSR: Final = 0x0010
GICR_WAKER: Final = 0x0014
GICR_PROPBASER: Final = 0x0070
GICR_PENDBASER: Final = 0x0078
_SGI: Final = 0x10000
GICR_IGROUPR0: Final = _SGI + 0x0080
GICR_ISENABLER0: Final = _SGI + 0x0100
GICR_ICENABLER0: Final = _SGI + 0x0180
GICR_ISPENDR0: Final = _SGI + 0x0200
GICR_ICPENDR0: Final = _SGI + 0x0280
GICR_ISACTIVER0: Final = _SGI + 0x0300
GICR_ICACTIVER0: Final = _SGI + 0x0380
GICR_IPRIORITYR: Final = _SGI + 0x0400
GICR_ICFGR1: Final = _SGI + 0x0C04
#: GICR_TYPER.PLPIS: the redistributor handles LPIs (an ITS exists).
GICR_TYPER_PLPIS: Final = 1
#: GICR_WAKER as QEMU resets it: ProcessorSleep and ChildrenAsleep.
GICR_WAKER_RESET: Final = 0x6


def _sysreg(op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
    return op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2


ICC_PMR_EL1: Final = _sysreg(3, 0, 4, 6, 0)
ICC_BPR0_EL1: Final = _sysreg(3, 0, 12, 8, 3)
ICC_BPR1_EL1: Final = _sysreg(3, 0, 12, 12, 3)
ICC_CTLR_EL1: Final = _sysreg(3, 0, 12, 12, 4)
ICC_SRE_EL1: Final = _sysreg(3, 0, 12, 12, 5)
ICC_IGRPEN0_EL1: Final = _sysreg(3, 0, 12, 12, 6)
ICC_IGRPEN1_EL1: Final = _sysreg(3, 0, 12, 12, 7)
#: ICC_SRE_EL1 as QEMU resets it: SRE, DFB, DIB.
ICC_SRE_RESET: Final = 0x7
_ICC_CTLR_PRIBITS_SHIFT: Final = 8


def _ap0r(n: int) -> int:
    return _sysreg(3, 0, 12, 8, 4 | n)


def _ap1r(n: int) -> int:
    return _sysreg(3, 0, 12, 9, n)


@dataclass(frozen=True, slots=True)
class Access:
    """One register write of the put: group, attribute and value."""

    group: int
    attr: int
    value: int


def after_init(dev: KvmDeviceHandle, vm: KvmVm, num_irq: int) -> bool:
    """Route every SPI and probe GICD_CTLR and SAVE_PENDING_TABLES (QEMU's order).

    A probe's "no" is an answer: QEMU then blocks migration (and never
    reads or writes the vGIC's state) or skips the pending-table flush.

    Returns:
        Whether the kernel can read and write the vGIC's registers.
    """
    vm.set_gsi_routing(
        [Route(n, "irqchip", 0, n) for n in range(num_irq - GIC_INTERNAL)]
    )
    state = dev.check_attr(kvm.KVM_DEV_ARM_VGIC_GRP_DIST_REGS, GICD_CTLR)
    dev.check_attr(
        kvm.KVM_DEV_ARM_VGIC_GRP_CTRL, kvm.KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES
    )
    return bool(state)


def icc_reset(dev: KvmDeviceHandle, mpidr: int) -> int:
    """Read ICC_CTLR_EL1 of the CPU with *mpidr* twice, as a CPU reset does.

    Returns:
        The value the kernel gave (QEMU keeps it for the put).
    """
    attr = v3_reg_attr(mpidr, ICC_CTLR_EL1)
    value = 0
    for _ in range(2):  # the hook is registered for both register views
        value = dev.get_attr(kvm.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, attr, value)
    return int(value)


def put_state(
    dev: KvmDeviceHandle, mpidrs: list[int], num_irq: int, icc_ctlr: dict[int, int]
) -> None:
    """Write QEMU's reset state into the vGIC (``kvm_arm_gicv3_put``).

    *mpidrs* are the CPUs' affinities in CPU order; *icc_ctlr* the
    ICC_CTLR_EL1 value each read at its reset.
    """
    dist = kvm.KVM_DEV_ARM_VGIC_GRP_DIST_REGS
    redist = kvm.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS
    first = mpidrs[0] if mpidrs else 0  # no vCPU: the kernel refuses the read
    dev.get_attr(dist, v3_reg_attr(0, GICD_TYPER))
    low = dev.get_attr(redist, v3_reg_attr(first, GICR_TYPER))
    dev.get_attr(redist, v3_reg_attr(first, GICR_TYPER + 4))
    lpis = bool(low & GICR_TYPER_PLPIS)
    for access in put_writes(mpidrs, num_irq, icc_ctlr, lpis=lpis):
        dev.set_attr(access.group, access.attr, access.value)


def put_writes(
    mpidrs: list[int], num_irq: int, icc_ctlr: dict[int, int], *, lpis: bool
) -> Iterator[Access]:
    """Yield the put's writes in QEMU 7.2's order (see the module docstring)."""
    dist = kvm.KVM_DEV_ARM_VGIC_GRP_DIST_REGS
    redist = kvm.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS
    level = kvm.KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO
    sysregs = kvm.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS

    def d(offset: int, value: int = 0) -> Access:
        return Access(dist, v3_reg_attr(0, offset), value)

    yield d(GICD_CTLR, GICD_CTLR_RESET)
    if lpis:
        for mpidr in mpidrs:
            for offset in (
                GICR_PROPBASER,
                GICR_PROPBASER + 4,
                GICR_PENDBASER,
                GICR_PENDBASER + 4,
            ):
                yield Access(redist, v3_reg_attr(mpidr, offset), 0)
    for mpidr in mpidrs:
        yield from _redistributor(redist, level, mpidr)
    yield d(GICD_STATUSR)
    spi_words = range(GIC_INTERNAL, num_irq, 32)
    for k, _ in enumerate(spi_words):  # enable: clear all, then set
        yield d(GICD_ICENABLER + 4 + 4 * k, _ALL)
        yield d(GICD_ISENABLER + 4 + 4 * k)
    for k, _ in enumerate(spi_words):
        yield d(GICD_IGROUPR + 4 + 4 * k)
    for irq in range(GIC_INTERNAL, num_irq):
        yield d(GICD_IROUTER + 4 * irq)
        yield d(GICD_IROUTER + 4 * irq + 4)
    for k, _ in enumerate(range(GIC_INTERNAL, num_irq, 16)):
        yield d(GICD_ICFGR + 8 + 4 * k)
    for irq in spi_words:  # SPI line levels go through CPU 0's affinity
        yield Access(level, v3_reg_attr(mpidrs[0] if mpidrs else 0, irq), 0)
    for set_base, clear_base in (
        (GICD_ISPENDR, GICD_ICPENDR),
        (GICD_ISACTIVER, GICD_ICACTIVER),
    ):
        for k, _ in enumerate(spi_words):
            yield d(clear_base + 4 + 4 * k, _ALL)
            yield d(set_base + 4 + 4 * k)
    for k, _ in enumerate(range(GIC_INTERNAL, num_irq, 4)):
        yield d(GICD_IPRIORITYR + GIC_INTERNAL + 4 * k)
    for mpidr in mpidrs:
        yield from _cpu_interface(sysregs, mpidr, icc_ctlr.get(mpidr, 0))


def _redistributor(redist: int, level: int, mpidr: int) -> Iterator[Access]:
    def r(offset: int, value: int = 0) -> Access:
        return Access(redist, v3_reg_attr(mpidr, offset), value)

    yield r(GICR_CTLR)
    yield r(GICR_STATUSR)
    yield r(GICR_WAKER, GICR_WAKER_RESET)
    yield r(GICR_IGROUPR0)
    yield r(GICR_ICENABLER0, _ALL)
    yield r(GICR_ISENABLER0)
    yield r(GICR_ICFGR1)  # PPI configuration before pending state
    yield Access(level, v3_reg_attr(mpidr, 0), 0)
    yield r(GICR_ICPENDR0, _ALL)
    yield r(GICR_ISPENDR0)
    yield r(GICR_ICACTIVER0, _ALL)
    yield r(GICR_ISACTIVER0)
    for i in range(0, GIC_INTERNAL, 4):
        yield r(GICR_IPRIORITYR + i)


def _cpu_interface(sysregs: int, mpidr: int, ctlr: int) -> Iterator[Access]:
    def s(reg: int, value: int = 0) -> Access:
        return Access(sysregs, v3_reg_attr(mpidr, reg), value)

    yield s(ICC_SRE_EL1, ICC_SRE_RESET)
    yield s(ICC_CTLR_EL1, ctlr)
    for reg in (
        ICC_IGRPEN0_EL1,
        ICC_IGRPEN1_EL1,
        ICC_PMR_EL1,
        ICC_BPR0_EL1,
        ICC_BPR1_EL1,
    ):
        yield s(reg)
    pri_bits = (ctlr >> _ICC_CTLR_PRIBITS_SHIFT & 0x7) + 1
    # Active-priority registers: 1, 2 or 4 per group with 5, 6 or 7 bits,
    # the highest first.
    count = 4 if pri_bits >= 7 else 2 if pri_bits == 6 else 1
    for ap in (_ap0r, _ap1r):
        for n in reversed(range(count)):
            yield s(ap(n))
