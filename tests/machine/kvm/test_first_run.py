from __future__ import annotations

import errno

import pytest

from tests.machine.kvm.helpers import (
    ADDR,
    CTRL,
    DIST,
    ERAS,
    INIT,
    NR_IRQS,
    OLD_ERAS,
    REDIST,
    configured_v3,
    fails,
    set_redist,
    v2_vm,
    v3_vm,
)
from virtmodel.machine import kvm
from virtmodel.machine.kvm.eras import SemanticsName

UNDEF = (1 << 64) - 1
V2_DIST = kvm.KVM_VGIC_V2_ADDR_TYPE_DIST
V2_CPU = kvm.KVM_VGIC_V2_ADDR_TYPE_CPU


@pytest.mark.parametrize("era", ERAS)
def test_configured_gicv3_runs_and_becomes_ready(era: SemanticsName) -> None:
    vm, _ = configured_v3(era, vcpus=2)

    assert vm.vcpus[0].run() == 0

    assert vm.vgic.ready
    assert vm.any_vcpu_has_run
    assert vm.vcpus[1].run() == 0


@pytest.mark.parametrize("era", ERAS)
def test_run_with_nothing_configured_is_enxio_not_ebusy(era: SemanticsName) -> None:
    vm, _ = v3_vm(era)

    fails(errno.ENXIO, vm.vcpus[0].run)


def test_vcpu_without_a_redistributor_frame_is_enxio() -> None:
    vm, gic = v3_vm(vcpus=2)
    gic.set_attr(ADDR, DIST, 0x8000000)
    set_redist(gic, 0x80A0000, count=1)
    gic.set_attr(CTRL, INIT)

    error = fails(errno.ENXIO, vm.vcpus[0].run)

    assert "vcpu 1 has no redistributor frame" in str(error)


@pytest.mark.parametrize("era", ERAS)
def test_missing_distributor_is_enxio(era: SemanticsName) -> None:
    vm, gic = v3_vm(era)
    gic.set_attr(ADDR, REDIST, 0x80A0000)
    gic.set_attr(CTRL, INIT)

    error = fails(errno.ENXIO, vm.vcpus[0].run)

    assert "distributor address is not set" in str(error)


@pytest.mark.parametrize("era", OLD_ERAS)
def test_2016_missing_redistributor_is_enxio(era: SemanticsName) -> None:
    vm, gic = v3_vm(era)
    gic.set_attr(ADDR, DIST, 0x8000000)
    gic.set_attr(CTRL, INIT)

    fails(errno.ENXIO, vm.vcpus[0].run)


@pytest.mark.parametrize("era", ERAS)
def test_gicv3_without_ctrl_init_is_ebusy(era: SemanticsName) -> None:
    vm, gic = v3_vm(era)
    gic.set_attr(ADDR, DIST, 0x8000000)
    gic.set_attr(ADDR, REDIST, 0x80A0000)

    error = fails(errno.EBUSY, vm.vcpus[0].run)

    assert str(error) == (
        "KVM_RUN(vcpu0) failed: EBUSY (the vGIC is not initialized: no CTRL_INIT)"
    )


def test_overlap_is_reported_before_missing_init() -> None:
    vm, gic = v3_vm()
    gic.set_attr(ADDR, REDIST, 0x8000000)
    gic.set_attr(ADDR, DIST, 0x8000000)

    fails(errno.EINVAL, vm.vcpus[0].run)


@pytest.mark.parametrize("era", ERAS)
def test_gicv2_initializes_implicitly_at_first_run(era: SemanticsName) -> None:
    vm, gic = v2_vm(era)
    gic.set_attr(ADDR, V2_DIST, 0x8000000)
    gic.set_attr(ADDR, V2_CPU, 0x8010000)

    vm.vcpus[0].run()

    assert vm.vgic.initialized
    assert gic.get_attr(NR_IRQS, 0) == 256


@pytest.mark.parametrize("missing", [V2_DIST, V2_CPU])
def test_gicv2_with_an_address_missing_is_enxio(missing: int) -> None:
    vm, gic = v2_vm()
    present = V2_CPU if missing == V2_DIST else V2_DIST
    gic.set_attr(ADDR, present, 0x8000000)

    fails(errno.ENXIO, vm.vcpus[0].run)


@pytest.mark.parametrize("era", ERAS)
def test_gicv2_distributor_overlapping_cpu_interface_is_einval(
    era: SemanticsName,
) -> None:
    vm, gic = v2_vm(era)
    gic.set_attr(ADDR, V2_CPU, 0x8000000)
    gic.set_attr(ADDR, V2_DIST, 0x8001000)

    fails(errno.EINVAL, vm.vcpus[0].run)

    assert not vm.vgic.initialized


@pytest.mark.parametrize("era", OLD_ERAS)
def test_failed_first_run_wipes_the_whole_vgic_configuration(
    era: SemanticsName,
) -> None:
    vm, gic = v3_vm(era, vcpus=2)
    gic.set_attr(ADDR, REDIST, 0x8000000)
    gic.set_attr(ADDR, DIST, 0x8020000)  # inside the two redistributor frames
    gic.set_attr(NR_IRQS, 0, 128)
    gic.set_attr(CTRL, INIT)
    fails(errno.EINVAL, vm.vcpus[0].run)

    assert gic.get_attr(ADDR, DIST) == UNDEF
    assert gic.get_attr(ADDR, REDIST) == UNDEF
    assert gic.get_attr(NR_IRQS, 0) == 32
    assert not vm.vgic.initialized
    assert all(v.state.rdreg is None for v in vm.vcpus)
    fails(errno.ENXIO, vm.vcpus[0].run)
    gic.set_attr(NR_IRQS, 0, 96)
    vm.create_vcpu(2)


def test_reconfiguring_after_a_failed_first_run_lets_a_2016_vm_run() -> None:
    vm, gic = v3_vm("v4.8")
    gic.set_attr(ADDR, DIST, 0x8000000)
    fails(errno.ENXIO, vm.vcpus[0].run)

    gic.set_attr(ADDR, DIST, 0x8000000)
    gic.set_attr(ADDR, REDIST, 0x80A0000)
    gic.set_attr(CTRL, INIT)

    assert vm.vcpus[0].run() == 0


def test_a_failed_first_run_kills_a_6_1_vm_every_later_call_is_eio() -> None:
    vm, gic = v3_vm("v6.1", vcpus=2)
    gic.set_attr(ADDR, DIST, 0x8000000)
    fails(errno.ENXIO, vm.vcpus[0].run)

    fails(errno.EIO, vm.vcpus[0].run)
    fails(errno.EIO, vm.vcpus[1].run)
    fails(errno.EIO, gic.get_attr, ADDR, DIST)
    fails(errno.EIO, gic.has_attr, CTRL, INIT)
    fails(errno.EIO, vm.create_vcpu, 2)
    fails(errno.EIO, vm.create_device, kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    fails(errno.EIO, vm.vcpus[1].init)
    assert vm.dead


@pytest.mark.parametrize("era", ERAS)
def test_after_a_successful_run_the_configuration_is_frozen(era: SemanticsName) -> None:
    vm, gic = configured_v3(era)
    vm.vcpus[0].run()

    fails(errno.EBUSY, vm.create_vcpu, 1)
    fails(errno.EBUSY, gic.set_attr, NR_IRQS, 0, 128)
    fails(errno.EEXIST, gic.set_attr, ADDR, DIST, 0x9000000)


def test_vm_without_irqchip_runs_without_vgic_checks() -> None:
    vm = kvm.create_vm()

    assert vm.create_vcpu(0).run() == 0


def test_a_new_region_is_still_accepted_after_a_successful_run() -> None:
    vm, gic = v3_vm()
    gic.set_attr(ADDR, DIST, 0x8000000)
    set_redist(gic, 0x80A0000, count=1)
    gic.set_attr(CTRL, INIT)
    vm.vcpus[0].run()

    set_redist(gic, 0x90A0000, count=1, index=1)

    assert gic.get_attr(ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION, 1) >> 52 == 1
