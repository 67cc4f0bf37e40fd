"""The vCPU device attributes: PMU, timer and stolen-time (PV time) controls.

QEMU sets these on every vCPU fd with KVM_SET_DEVICE_ATTR: the PMU overflow
interrupt and its init (KVM_ARM_VCPU_PMU_V3_CTRL), the timer interrupts
(KVM_ARM_VCPU_TIMER_CTRL) and the stolen-time structure's address
(KVM_ARM_VCPU_PVTIME_CTRL). Checks and their order are those of Linux 6.1's
pmu-emul.c, arch_timer.c and pvtime.c: an unknown group answers ENXIO; a
value is read from the user pointer at the kernel's step (EFAULT for NULL).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.errors import refuse

if TYPE_CHECKING:
    from virtmodel.machine.kvm.vcpu import Vcpu

#: The stolen-time base of a vCPU that has none (GPA_INVALID).
GPA_INVALID = (1 << 64) - 1
#: Default timer interrupts: virtual timer PPI 27, physical timer PPI 30.
DEFAULT_VTIMER_IRQ = 27
DEFAULT_PTIMER_IRQ = 30
_VGIC_MAX_SPI = 1019


def _int32(value: int) -> int:
    """Return the C ``int`` the kernel reads from the low 4 bytes of *value*."""
    low = value & 0xFFFFFFFF
    return low - (1 << 32) if low & 0x80000000 else low


def _is_ppi(irq: int) -> bool:
    return 16 <= irq < 32


def _is_spi(irq: int) -> bool:
    return c.VGIC_NR_PRIVATE_IRQS <= irq <= _VGIC_MAX_SPI


def value_bytes(group: int, attr: int) -> int:
    """Return how many bytes of the user value the kernel reads or writes."""
    if group == u.KVM_ARM_VCPU_PVTIME_CTRL:
        return 8
    if group == u.KVM_ARM_VCPU_PMU_V3_CTRL and attr == u.KVM_ARM_VCPU_PMU_V3_FILTER:
        return 8  # struct kvm_pmu_event_filter
    return 4


def set_attr(vcpu: Vcpu, group: int, attr: int, value: int | None) -> None:
    """KVM_SET_DEVICE_ATTR on a vCPU.

    Raises:
        Refusal: The errno 6.1 answers.
    """
    if group == u.KVM_ARM_VCPU_PMU_V3_CTRL:
        _pmu_set(vcpu, attr, value)
    elif group == u.KVM_ARM_VCPU_TIMER_CTRL:
        _timer_set(vcpu, attr, value)
    elif group == u.KVM_ARM_VCPU_PVTIME_CTRL:
        _pvtime_set(vcpu, attr, value)
    else:
        refuse(errno.ENXIO, f"no vcpu attribute group {group}")


def get_attr(vcpu: Vcpu, group: int, attr: int, value: int | None) -> int:
    """KVM_GET_DEVICE_ATTR on a vCPU; returns the value written back.

    Raises:
        Refusal: The errno 6.1 answers.
    """
    state, vm = vcpu.state, vcpu.vm
    if group == u.KVM_ARM_VCPU_PMU_V3_CTRL:
        if attr != u.KVM_ARM_VCPU_PMU_V3_IRQ:
            refuse(errno.ENXIO, f"PMU attribute {attr} cannot be read")
        if not vm.vgic.in_kernel:
            refuse(errno.EINVAL, "no in-kernel irqchip")
        if not state.has_feature(u.KVM_ARM_VCPU_PMU_V3):
            refuse(errno.ENODEV, "the vcpu has no PMU (KVM_ARM_VCPU_PMU_V3)")
        if state.pmu_irq is None:
            refuse(errno.ENXIO, "the PMU interrupt is not set")
        result = state.pmu_irq & 0xFFFFFFFF
    elif group == u.KVM_ARM_VCPU_TIMER_CTRL:
        if attr == u.KVM_ARM_VCPU_TIMER_IRQ_VTIMER:
            result = state.vtimer_irq
        elif attr == u.KVM_ARM_VCPU_TIMER_IRQ_PTIMER:
            result = state.ptimer_irq
        else:
            refuse(errno.ENXIO, f"no timer attribute {attr}")
    elif group == u.KVM_ARM_VCPU_PVTIME_CTRL:
        if not vm.host.pvtime or attr != u.KVM_ARM_VCPU_PVTIME_IPA:
            refuse(errno.ENXIO, f"no stolen-time attribute {attr}")
        result = state.steal_base
    else:
        refuse(errno.ENXIO, f"no vcpu attribute group {group}")
    if value is None:
        refuse(errno.EFAULT, "NULL value pointer")
    return result


def has_attr(vcpu: Vcpu, group: int, attr: int) -> None:
    """KVM_HAS_DEVICE_ATTR on a vCPU.

    Raises:
        Refusal: ENXIO for what this vCPU does not have.
    """
    state, host = vcpu.state, vcpu.vm.host
    if group == u.KVM_ARM_VCPU_PMU_V3_CTRL:
        known = attr in (
            u.KVM_ARM_VCPU_PMU_V3_IRQ,
            u.KVM_ARM_VCPU_PMU_V3_INIT,
            u.KVM_ARM_VCPU_PMU_V3_FILTER,
            u.KVM_ARM_VCPU_PMU_V3_SET_PMU,
        )
        if known and state.has_feature(u.KVM_ARM_VCPU_PMU_V3):
            return
    elif group == u.KVM_ARM_VCPU_TIMER_CTRL:
        timers = (u.KVM_ARM_VCPU_TIMER_IRQ_VTIMER, u.KVM_ARM_VCPU_TIMER_IRQ_PTIMER)
        if attr in timers:
            return
    elif group == u.KVM_ARM_VCPU_PVTIME_CTRL and (
        attr == u.KVM_ARM_VCPU_PVTIME_IPA and host.pvtime
    ):
        return
    refuse(errno.ENXIO, f"no vcpu attribute {attr} in group {group}")


def _need(value: int | None) -> int:
    if value is None:
        refuse(errno.EFAULT, "NULL value pointer")
    return value


def _pmu_set(vcpu: Vcpu, attr: int, value: int | None) -> None:
    state, vm = vcpu.state, vcpu.vm
    if not state.has_feature(u.KVM_ARM_VCPU_PMU_V3):
        refuse(errno.ENODEV, "the vcpu has no PMU (KVM_ARM_VCPU_PMU_V3)")
    if state.pmu_created:
        refuse(errno.EBUSY, "the vcpu's PMU is already initialized")
    if attr == u.KVM_ARM_VCPU_PMU_V3_IRQ:
        if not vm.vgic.in_kernel:
            refuse(errno.EINVAL, "no in-kernel irqchip")
        irq = _int32(_need(value))
        if not (_is_ppi(irq) or _is_spi(irq)):
            refuse(errno.EINVAL, f"PMU interrupt {irq} is neither a PPI nor an SPI")
        for other in vm.vcpus:
            taken = other.state.pmu_irq
            if taken is None:
                continue
            if (_is_ppi(irq) and taken != irq) or (not _is_ppi(irq) and taken == irq):
                refuse(
                    errno.EINVAL,
                    f"PMU interrupt {irq} clashes with vcpu {other.vcpu_id}'s",
                )
        if state.pmu_irq is not None:
            refuse(errno.EBUSY, "the PMU interrupt is already set")
        state.pmu_irq = irq
    elif attr == u.KVM_ARM_VCPU_PMU_V3_FILTER:
        raw = _need(value)
        base, count, action = raw & 0xFFFF, (raw >> 16) & 0xFFFF, (raw >> 32) & 0xFF
        if base + count > vm.host.pmu_event_mask + 1 or action not in (0, 1):
            refuse(errno.EINVAL, f"bad PMU event filter {base}+{count} action {action}")
        if vm.any_vcpu_has_run:
            refuse(errno.EBUSY, "a vcpu has already run")
        vm.pmu_filtered = True
    elif attr == u.KVM_ARM_VCPU_PMU_V3_SET_PMU:
        pmu_id = _int32(_need(value))
        if pmu_id != vm.host.pmu_id:
            refuse(errno.ENXIO, f"no host PMU with id {pmu_id}")
        if vm.any_vcpu_has_run:
            refuse(errno.EBUSY, "a vcpu has already run")
    elif attr == u.KVM_ARM_VCPU_PMU_V3_INIT:
        if vm.vgic.in_kernel:
            if not vm.vgic.initialized:
                refuse(errno.ENODEV, "the vGIC is not initialized")
            if state.pmu_irq is None:
                refuse(errno.ENXIO, "the PMU interrupt is not set")
            irq = state.pmu_irq
            if not _is_ppi(irq) and irq >= vm.vgic.nr_spis + c.VGIC_NR_PRIVATE_IRQS:
                refuse(errno.EINVAL, f"PMU interrupt {irq} is beyond the vGIC's SPIs")
        state.pmu_created = True
    else:
        refuse(errno.ENXIO, f"no PMU attribute {attr}")


def _timer_set(vcpu: Vcpu, attr: int, value: int | None) -> None:
    vm = vcpu.vm
    if not vm.vgic.in_kernel:
        refuse(errno.EINVAL, "no in-kernel irqchip")
    irq = _int32(_need(value))
    if not _is_ppi(irq):
        refuse(errno.EINVAL, f"timer interrupt {irq} is not a PPI")
    if vcpu.state.timer_enabled:
        refuse(errno.EBUSY, "the vcpu's timer is already enabled (it has run)")
    if attr == u.KVM_ARM_VCPU_TIMER_IRQ_VTIMER:
        vtimer, ptimer = irq, vcpu.state.ptimer_irq
    elif attr == u.KVM_ARM_VCPU_TIMER_IRQ_PTIMER:
        vtimer, ptimer = vcpu.state.vtimer_irq, irq
    else:
        refuse(errno.ENXIO, f"no timer attribute {attr}")
    for other in vm.vcpus:  # the kernel sets the pair on every vCPU
        other.state.vtimer_irq, other.state.ptimer_irq = vtimer, ptimer


def _pvtime_set(vcpu: Vcpu, attr: int, value: int | None) -> None:
    vm, state = vcpu.vm, vcpu.state
    if not vm.host.pvtime or attr != u.KVM_ARM_VCPU_PVTIME_IPA:
        refuse(errno.ENXIO, f"no stolen-time attribute {attr}")
    ipa = _need(value)
    if ipa % 64:
        refuse(errno.EINVAL, f"stolen-time address 0x{ipa:x} is not 64-byte aligned")
    if state.steal_base != GPA_INVALID:
        refuse(errno.EEXIST, "the stolen-time address is already set")
    # 6.1 looks the page up for writing: a read-only slot fails it too.
    if not vm.in_memslot(ipa, writable=True):
        refuse(errno.EINVAL, f"stolen-time address 0x{ipa:x} is not in writable memory")
    state.steal_base = ipa


def timer_irqs_valid(vcpu: Vcpu) -> bool:
    """Whether the first run can claim the vCPU's timer interrupts (6.1).

    Both must be free of another owner on this vCPU (the PMU's, once its
    INIT ran with an in-kernel vGIC) and distinct from each other.
    """
    state = vcpu.state
    vtimer, ptimer = state.vtimer_irq, state.ptimer_irq
    pmu = state.pmu_irq if state.pmu_created and vcpu.vm.vgic.in_kernel else None
    return vtimer != ptimer and pmu not in (vtimer, ptimer)
