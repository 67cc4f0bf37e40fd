"""KVM_ARM_VCPU_INIT and the vCPU attributes, as Linux 6.1 answers them."""

from __future__ import annotations

import errno

import pytest

from tests.machine.kvm.helpers import fails
from virtmodel.machine import kvm
from virtmodel.machine.kvm import uapi as u

PMU, TIMER, PVTIME = 0, 1, 2
IRQ, INIT, FILTER = 0, 1, 2


def lab_vm() -> kvm.Vm:
    return kvm.create_vm(host=kvm.LAB_HOST)


def test_an_uninitialised_vcpu_has_mpidr_zero_and_cannot_run() -> None:
    vm = lab_vm()
    vcpu = vm.create_vcpu(3, init=False)

    assert vcpu.mpidr == 0
    fails(errno.ENOEXEC, vcpu.run)
    fails(errno.ENOEXEC, setattr, vcpu, "mpidr", 1)
    vcpu.init()
    assert vcpu.mpidr == kvm.reset_mpidr(3)
    assert [c.ioctl for c in vm.calls][-1] == "KVM_ARM_VCPU_INIT"


@pytest.mark.parametrize(
    ("features", "code"),
    [
        (1 << 7, errno.ENOENT),  # no such feature in 6.1
        (1 << u.KVM_ARM_VCPU_PTRAUTH_ADDRESS, errno.EINVAL),  # needs both halves
    ],
)
def test_init_refuses_unknown_and_incomplete_features(features: int, code: int) -> None:
    vcpu = lab_vm().create_vcpu(0, init=False)

    fails(code, vcpu.init, features)
    assert not vcpu.initialized


def test_init_needs_the_preferred_target_and_the_same_features_again() -> None:
    vcpu = lab_vm().create_vcpu(0, init=False)

    fails(errno.EINVAL, vcpu.init, 0, u.KVM_ARM_TARGET_GENERIC_V8 + 1)
    vcpu.init(1 << u.KVM_ARM_VCPU_PSCI_0_2)
    vcpu.init(1 << u.KVM_ARM_VCPU_PSCI_0_2)
    fails(errno.EINVAL, vcpu.init, 0)
    assert vcpu.initialized


def test_feature_bits_walked_before_an_unknown_one_stay_set() -> None:
    vcpu = lab_vm().create_vcpu(0, init=False)

    fails(errno.ENOENT, vcpu.init, 1 << u.KVM_ARM_VCPU_PMU_V3 | 1 << 9)
    vcpu.init(0)

    assert vcpu.state.has_feature(u.KVM_ARM_VCPU_PMU_V3)


def test_the_first_vcpu_fixes_the_vm_register_width() -> None:
    vm = lab_vm()
    vm.create_vcpu(0, init=False).init(1 << u.KVM_ARM_VCPU_EL1_32BIT)

    fails(errno.EINVAL, vm.create_vcpu(1, init=False).init, 0)


def test_sve_vcpu_cannot_run_without_finalize() -> None:
    vcpu = lab_vm().create_vcpu(0, init=False)
    vcpu.init(1 << u.KVM_ARM_VCPU_SVE)

    fails(errno.EPERM, vcpu.run)


def test_pmu_attributes_follow_6_1_order() -> None:
    vm = lab_vm()
    plain = vm.create_vcpu(0)
    vcpu = vm.create_vcpu(1, init=False)
    vcpu.init(1 << u.KVM_ARM_VCPU_PMU_V3)

    fails(errno.ENODEV, plain.set_attr, PMU, IRQ, 23)
    fails(errno.EINVAL, vcpu.set_attr, PMU, IRQ, 23)  # no in-kernel irqchip yet
    gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
    fails(errno.EINVAL, vcpu.set_attr, PMU, IRQ, 15)  # an SGI
    vcpu.set_attr(PMU, IRQ, 23)
    fails(errno.EBUSY, vcpu.set_attr, PMU, IRQ, 23)
    assert vcpu.get_attr(PMU, IRQ) == 23
    fails(errno.ENODEV, vcpu.set_attr, PMU, INIT)  # the vGIC is not initialized
    gic.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT)
    vcpu.set_attr(PMU, INIT)
    fails(errno.EBUSY, vcpu.set_attr, PMU, FILTER, 0)
    vcpu.has_attr(PMU, FILTER)
    fails(errno.ENXIO, plain.has_attr, PMU, FILTER)


def test_timer_interrupts_are_vm_wide_ppis_until_the_first_run() -> None:
    vm = lab_vm()
    a, b = vm.create_vcpu(0), vm.create_vcpu(1)

    assert (a.get_attr(TIMER, 0), a.get_attr(TIMER, 1)) == (27, 30)
    fails(errno.EINVAL, a.set_attr, TIMER, 0, 26)  # no in-kernel irqchip
    vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
    fails(errno.EINVAL, a.set_attr, TIMER, 0, 32)
    fails(errno.ENXIO, a.set_attr, TIMER, 2, 26)
    a.set_attr(TIMER, 0, 26)

    assert b.get_attr(TIMER, 0) == 26


def test_stolen_time_needs_an_aligned_address_in_guest_memory() -> None:
    vm = lab_vm()
    vcpu = vm.create_vcpu(0)

    assert vcpu.get_attr(PVTIME, 0) == (1 << 64) - 1
    fails(errno.EINVAL, vcpu.set_attr, PVTIME, 0, 0x80000000)  # no memory yet
    vm.set_user_memory_region(0, 0x80000000, 0x10000)
    fails(errno.EINVAL, vcpu.set_attr, PVTIME, 0, 0x80000020)
    vcpu.set_attr(PVTIME, 0, 0x80000040)
    fails(errno.EEXIST, vcpu.set_attr, PVTIME, 0, 0x80000080)
    fails(errno.ENXIO, vcpu.set_attr, PVTIME, 1, 0x80000080)
    fails(errno.ENXIO, vcpu.set_attr, 3, 0, 0)


def test_a_pmu_vcpu_needs_its_pmu_initialised_to_run() -> None:
    vm = lab_vm()
    vcpu = vm.create_vcpu(0, init=False)
    vcpu.init(1 << u.KVM_ARM_VCPU_PMU_V3)

    fails(errno.EINVAL, vcpu.run)
    vcpu.set_attr(PMU, INIT)  # without an irqchip, INIT needs no interrupt
    assert vcpu.run() == 0
    assert not vm.dead  # only a vGIC failure kills the VM


def test_a_pmu_initialised_before_the_vgic_existed_cannot_run_with_one() -> None:
    # PMU INIT without an irqchip needs no interrupt; a vGIC created later
    # leaves the PMU with none, which the first run refuses.
    vm = lab_vm()
    vcpu = vm.create_vcpu(0, init=False)
    vcpu.init(1 << u.KVM_ARM_VCPU_PMU_V3)
    vcpu.set_attr(PMU, INIT)
    gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
    gic.set_attr(
        kvm.KVM_DEV_ARM_VGIC_GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST, 0x8000000
    )
    gic.set_attr(
        kvm.KVM_DEV_ARM_VGIC_GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST, 0x80A0000
    )
    gic.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT)

    error = fails(errno.EINVAL, vcpu.run)

    assert "PMU interrupt None is not usable" in str(error)
    assert vm.vgic.ready  # the vGIC mapped fine; only the PMU check failed


@pytest.mark.parametrize(
    ("caps", "feature", "culprit"),
    [
        (kvm.HostCaps(el1_32bit=False), u.KVM_ARM_VCPU_EL1_32BIT, "no AArch32 EL1"),
        (kvm.HostCaps(sve=False), u.KVM_ARM_VCPU_SVE, "no SVE"),
        (kvm.HostCaps(pmu_v3=False), u.KVM_ARM_VCPU_PMU_V3, "no PMU for KVM"),
    ],
)
def test_init_refuses_a_feature_the_host_lacks(
    caps: kvm.HostCaps, feature: int, culprit: str
) -> None:
    vm = kvm.create_vm(host=caps)
    vcpu = vm.create_vcpu(0, init=False)

    error = fails(errno.EINVAL, vcpu.init, 1 << feature)

    assert culprit in str(error)
    assert not vcpu.initialized
    vcpu.init(0)  # the same host takes the vcpu without the feature
    assert vcpu.initialized


def pmu_vcpus(count: int) -> tuple[kvm.Vm, list[kvm.Vcpu], kvm.KvmDevice]:
    vm = lab_vm()
    vcpus = [vm.create_vcpu(i, init=False) for i in range(count)]
    for vcpu in vcpus:
        vcpu.init(1 << u.KVM_ARM_VCPU_PMU_V3)
    return vm, vcpus, vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)


def test_pmu_ppis_must_match_and_spis_must_differ_across_vcpus() -> None:
    _, (a, b, c, d), _ = pmu_vcpus(4)
    a.set_attr(PMU, IRQ, 23)

    assert "clashes with vcpu 0's" in str(fails(errno.EINVAL, b.set_attr, PMU, IRQ, 22))
    b.set_attr(PMU, IRQ, 23)  # the same PPI everywhere
    c.set_attr(PMU, IRQ, 40)  # an SPI may sit beside the others' PPI
    # Another VM: SPIs, one per vcpu.
    _, (e, f), _ = pmu_vcpus(2)
    e.set_attr(PMU, IRQ, 40)
    fails(errno.EINVAL, f.set_attr, PMU, IRQ, 40)
    f.set_attr(PMU, IRQ, 41)
    assert (e.get_attr(PMU, IRQ), f.get_attr(PMU, IRQ)) == (40, 41)
    assert (c.get_attr(PMU, IRQ), d.state.pmu_irq) == (40, None)


SET_PMU = u.KVM_ARM_VCPU_PMU_V3_SET_PMU


def test_pmu_event_filter_and_host_pmu_choice_are_checked() -> None:
    vm, (vcpu,), _ = pmu_vcpus(1)
    host = vm.host

    too_far = 2 << 16 | host.pmu_event_mask  # events mask..mask+1: one too many
    fails(errno.EINVAL, vcpu.set_attr, PMU, FILTER, too_far)
    fails(errno.EINVAL, vcpu.set_attr, PMU, FILTER, 2 << 32)  # action 2
    filtered = [vm.pmu_filtered]
    vcpu.set_attr(PMU, FILTER, 1 << 32 | 4 << 16 | 8)  # allow events 8..11
    filtered.append(vm.pmu_filtered)
    assert filtered == [False, True]
    error = fails(errno.ENXIO, vcpu.set_attr, PMU, SET_PMU, host.pmu_id + 1)
    assert f"no host PMU with id {host.pmu_id + 1}" in str(error)
    vcpu.set_attr(PMU, SET_PMU, host.pmu_id)


def test_pmu_attributes_after_a_run_are_ebusy() -> None:
    vm = lab_vm()
    ran = vm.create_vcpu(0)
    vcpu = vm.create_vcpu(1, init=False)
    vcpu.init(1 << u.KVM_ARM_VCPU_PMU_V3)
    assert ran.run() == 0

    fails(errno.EBUSY, vcpu.set_attr, PMU, SET_PMU, vm.host.pmu_id)
    fails(errno.EBUSY, vcpu.set_attr, PMU, FILTER, 0)


def test_pmu_init_refuses_an_spi_beyond_the_vgics_interrupts() -> None:
    _, (vcpu,), gic = pmu_vcpus(1)
    gic.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, 64)  # 32 SPIs: 32..63
    vcpu.set_attr(PMU, IRQ, 64)
    gic.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT)

    error = fails(errno.EINVAL, vcpu.set_attr, PMU, INIT)

    assert "beyond the vGIC's SPIs" in str(error)
    assert not vcpu.state.pmu_created


def test_a_pmu_with_its_interrupt_set_runs_on_an_in_kernel_vgic() -> None:
    vm, (vcpu,), gic = pmu_vcpus(1)
    vcpu.set_attr(PMU, IRQ, 23)
    gic.set_attr(
        kvm.KVM_DEV_ARM_VGIC_GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST, 0x8000000
    )
    gic.set_attr(
        kvm.KVM_DEV_ARM_VGIC_GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST, 0x80A0000
    )
    gic.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT)
    vcpu.set_attr(PMU, INIT)

    assert vcpu.run() == 0
    assert vm.any_vcpu_has_run
