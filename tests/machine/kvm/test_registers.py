from __future__ import annotations

import errno

import pytest

from tests.machine.kvm.helpers import (
    ADDR,
    CTRL,
    INIT,
    NR_IRQS,
    OLD_ERAS,
    REDIST,
    fails,
    set_redist,
    v2_vm,
    v3_vm,
)
from virtmodel.machine import kvm
from virtmodel.machine.kvm.eras import SemanticsName

DIST_REGS = kvm.KVM_DEV_ARM_VGIC_GRP_DIST_REGS
REDIST_REGS = kvm.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS
CPU_REGS = kvm.KVM_DEV_ARM_VGIC_GRP_CPU_REGS
LEVEL_INFO = kvm.KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO
CREATION_ORDER = (0, 3, 5, 4, 1, 2)


def typer(gic: kvm.KvmDevice, vcpu_id: int) -> int:
    mpidr = kvm.reset_mpidr(vcpu_id)
    return gic.get_attr(REDIST_REGS, kvm.v3_reg_attr(mpidr, kvm.GICR_TYPER))


def vm_with_vcpus(ids: tuple[int, ...]) -> tuple[kvm.Vm, kvm.KvmDevice]:
    vm = kvm.create_vm()
    for vcpu_id in ids:
        vm.create_vcpu(vcpu_id)
    return vm, vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)


def test_gicr_typer_read_before_init_is_ebusy() -> None:
    _, gic = v3_vm()
    gic.set_attr(ADDR, REDIST, 0x80A0000)

    fails(errno.EBUSY, typer, gic, 0)


def test_gicr_typer_for_a_missing_mpidr_is_einval_even_before_init() -> None:
    _, gic = v3_vm()

    fails(errno.EINVAL, typer, gic, 1)


def test_gicr_typer_last_bit_in_a_legacy_region_marks_the_last_created_vcpu() -> None:
    _, gic = vm_with_vcpus(CREATION_ORDER)
    gic.set_attr(ADDR, REDIST, 0x100000)
    gic.set_attr(CTRL, INIT)

    values = {vcpu_id: typer(gic, vcpu_id) for vcpu_id in CREATION_ORDER}

    assert values == {0: 0x000, 3: 0x300, 5: 0x500, 4: 0x400, 1: 0x100, 2: 0x210}


def test_gicr_typer_last_bit_follows_regions_and_contiguity() -> None:
    _, gic = vm_with_vcpus(CREATION_ORDER)
    set_redist(gic, 0x100000, count=2, index=0)
    set_redist(gic, 0x240000, count=1, index=1)
    set_redist(gic, 0x200000, count=2, index=2)  # runs straight into region 1
    gic.set_attr(CTRL, INIT)

    values = {vcpu_id: typer(gic, vcpu_id) for vcpu_id in CREATION_ORDER}

    assert values == {0: 0x000, 3: 0x310, 5: 0x510, 4: 0x400, 1: 0x100, 2: 0x200}


def test_gicr_typer_sets_plpis_once_the_vm_has_an_its() -> None:
    vm, gic = v3_vm()
    gic.set_attr(ADDR, REDIST, 0x80A0000)
    gic.set_attr(CTRL, INIT)
    before = typer(gic, 0)

    vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)

    assert (before, typer(gic, 0)) == (0x10, 0x11)


def test_gicr_typer_upper_half_holds_the_affinity() -> None:
    vm, gic = vm_with_vcpus((17,))
    gic.set_attr(CTRL, INIT)

    high = gic.get_attr(
        REDIST_REGS, kvm.v3_reg_attr(vm.vcpus[0].mpidr, kvm.GICR_TYPER_HI)
    )

    assert high == 0x101


def test_registers_find_vcpus_by_the_mpidr_userspace_wrote() -> None:
    vm, gic = v3_vm()
    vm.vcpus[0].mpidr = 0x80000100
    gic.set_attr(CTRL, INIT)

    fails(errno.EINVAL, typer, gic, 0)
    assert gic.get_attr(REDIST_REGS, kvm.v3_reg_attr(0x100, kvm.GICR_TYPER)) == 0


def test_gicd_iidr_needs_init_and_only_its_revision_changes() -> None:
    _, gic = v3_vm()

    fails(errno.EBUSY, gic.get_attr, DIST_REGS, kvm.GICD_IIDR)
    gic.set_attr(CTRL, INIT)
    assert gic.get_attr(DIST_REGS, kvm.GICD_IIDR) == 0x4B00343B
    gic.set_attr(DIST_REGS, kvm.GICD_IIDR, 0x4B00243B)
    assert gic.get_attr(DIST_REGS, kvm.GICD_IIDR) == 0x4B00243B
    fails(errno.EINVAL, gic.set_attr, DIST_REGS, kvm.GICD_IIDR, 0x4B00143B)
    fails(errno.EINVAL, gic.set_attr, DIST_REGS, kvm.GICD_IIDR, 0x4C00343B)


def test_distributor_registers_need_vcpu_zero() -> None:
    _, gic = v3_vm(vcpus=0)

    fails(errno.EINVAL, gic.get_attr, DIST_REGS, kvm.GICD_IIDR)


@pytest.mark.parametrize(("vsgi", "typer2"), [(False, 0), (True, 0x100)])
def test_gicd_typer2_is_read_only_on_6_1(vsgi: bool, typer2: int) -> None:
    _, gic = v3_vm(host=kvm.HostCaps(gicv4_1_vsgi=vsgi))
    gic.set_attr(CTRL, INIT)

    assert gic.get_attr(DIST_REGS, kvm.GICD_TYPER2) == typer2
    gic.set_attr(DIST_REGS, kvm.GICD_TYPER2, typer2)  # the same value is accepted
    fails(errno.EINVAL, gic.set_attr, DIST_REGS, kvm.GICD_TYPER2, typer2 ^ 0x100)
    fails(errno.EINVAL, gic.set_attr, DIST_REGS, kvm.GICD_TYPER2, typer2 | 1)


def test_other_distributor_registers_need_init() -> None:
    vm, gic = v3_vm()

    fails(errno.EBUSY, gic.get_attr, DIST_REGS, kvm.GICD_TYPER)
    gic.set_attr(CTRL, INIT)
    assert gic.get_attr(DIST_REGS, kvm.GICD_TYPER) == 0x480007
    vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    assert gic.get_attr(DIST_REGS, kvm.GICD_TYPER) == 0x7A0007


def test_gicd_ctlr_enable_bit_round_trips() -> None:
    _, gic = v3_vm()
    gic.set_attr(CTRL, INIT)

    gic.set_attr(DIST_REGS, kvm.GICD_CTLR, 0xFFFFFFFF)

    assert gic.get_attr(DIST_REGS, kvm.GICD_CTLR) == 0x52


def test_set_with_null_pointer_is_efault_before_the_init_check() -> None:
    _, gic = v3_vm()

    fails(errno.EFAULT, gic.set_attr, DIST_REGS, kvm.GICD_CTLR, None)
    fails(errno.EBUSY, gic.get_attr, DIST_REGS, kvm.GICD_CTLR, None)


def test_offsets_that_are_no_register_read_as_zero_but_has_attr_says_enxio() -> None:
    _, gic = v3_vm()
    gic.set_attr(CTRL, INIT)  # 256 interrupts: GICD_ISENABLER0..7

    for offset in (0x2, 0x20, 0x120):  # misaligned, a hole, beyond nr_irqs
        gic.set_attr(DIST_REGS, offset, 0xFFFFFFFF)
        assert gic.get_attr(DIST_REGS, offset) == 0
        fails(errno.ENXIO, gic.has_attr, DIST_REGS, offset)
    gic.has_attr(DIST_REGS, 0x11C)
    gic.has_attr(DIST_REGS, kvm.GICD_CTLR)
    gic.has_attr(REDIST_REGS, kvm.v3_reg_attr(kvm.reset_mpidr(0), kvm.GICR_TYPER))


def test_spi_registers_hold_what_userspace_writes() -> None:
    _, gic = v3_vm()
    gic.set_attr(CTRL, INIT)

    assert gic.get_attr(DIST_REGS, 0x84) == 0xFFFFFFFF  # IGROUPR1: group 1
    gic.set_attr(DIST_REGS, 0x104, 0x5)  # ISENABLER1
    gic.set_attr(DIST_REGS, 0x184, 0x1)  # ICENABLER1 clears SPI 32
    assert gic.get_attr(DIST_REGS, 0x104) == 0x4
    gic.set_attr(DIST_REGS, 0x420, 0xFFFFFFFF)  # IPRIORITYR8: five bits kept
    assert gic.get_attr(DIST_REGS, 0x420) == 0xF8F8F8F8
    gic.set_attr(DIST_REGS, 0x6100, 0xFFFFFFFF)  # IROUTER32: Aff2..Aff0
    assert gic.get_attr(DIST_REGS, 0x6100) == 0xFFFFFF
    assert gic.get_attr(DIST_REGS, 0x80) == 0  # private interrupts read as zero


def test_sgi_frame_registers_of_each_redistributor() -> None:
    _, gic = v3_vm(vcpus=2)
    gic.set_attr(CTRL, INIT)
    vcpu1 = kvm.reset_mpidr(1)

    assert gic.get_attr(REDIST_REGS, kvm.v3_reg_attr(vcpu1, 0x10100)) == 0xFFFF
    assert gic.get_attr(REDIST_REGS, kvm.v3_reg_attr(vcpu1, 0x10C00)) == 0xAAAAAAAA
    gic.set_attr(REDIST_REGS, kvm.v3_reg_attr(vcpu1, 0x10C04), 0xFFFFFFFF)
    assert gic.get_attr(REDIST_REGS, kvm.v3_reg_attr(vcpu1, 0x10C04)) == 0xAAAAAAAA
    assert gic.get_attr(REDIST_REGS, kvm.v3_reg_attr(kvm.reset_mpidr(0), 0x10C04)) == 0


@pytest.mark.parametrize("era", OLD_ERAS)
@pytest.mark.parametrize("group", [DIST_REGS, REDIST_REGS, LEVEL_INFO])
def test_v3_register_groups_are_unknown_to_2016_kernels(
    era: SemanticsName, group: int
) -> None:
    _, gic = v3_vm(era)
    gic.set_attr(CTRL, INIT)

    fails(errno.ENXIO, gic.get_attr, group, 0)
    fails(errno.ENXIO, gic.has_attr, group, 0)


@pytest.mark.parametrize("call", ["has", "get", "set"])
def test_gicv2_cpu_registers_without_vcpus_are_einval(call: str) -> None:
    _, gic = v2_vm(vcpus=0)

    if call == "has":
        fails(errno.EINVAL, gic.has_attr, CPU_REGS, kvm.GICC_CTLR)
    elif call == "get":
        fails(errno.EINVAL, gic.get_attr, CPU_REGS, kvm.GICC_CTLR)
    else:
        fails(errno.EINVAL, gic.set_attr, CPU_REGS, kvm.GICC_CTLR, 0)


def test_gicv2_register_access_initializes_the_vgic() -> None:
    vm, gic = v2_vm(vcpus=2)

    gic.set_attr(CPU_REGS, kvm.v2_reg_attr(1, kvm.GICC_CTLR), 0xFFFFFFFF)

    assert gic.get_attr(CPU_REGS, kvm.v2_reg_attr(1, kvm.GICC_CTLR)) == 0x21F
    assert gic.get_attr(CPU_REGS, kvm.v2_reg_attr(0, kvm.GICC_CTLR)) == 0
    assert gic.get_attr(DIST_REGS, kvm.GICD_TYPER) == 0x27
    fails(errno.EBUSY, vm.create_vcpu, 2)
    fails(errno.EBUSY, gic.set_attr, NR_IRQS, 0, 128)


def test_level_info_round_trips_spi_line_levels() -> None:
    _, gic = v3_vm()
    gic.set_attr(NR_IRQS, 0, 64)
    gic.set_attr(CTRL, INIT)

    gic.set_attr(LEVEL_INFO, 32, 0xFFFFFFFF)
    gic.set_attr(LEVEL_INFO, 0, 0xFFFFFFFF)

    assert gic.get_attr(LEVEL_INFO, 32) == 0  # SPIs start edge-triggered
    gic.set_attr(DIST_REGS, 0xC08, 0)  # GICD_ICFGR2/3: SPIs 32..63 level
    gic.set_attr(DIST_REGS, 0xC0C, 0)
    assert gic.get_attr(LEVEL_INFO, 32) == 0xFFFFFFFF
    assert gic.get_attr(DIST_REGS, 0x204) == 0xFFFFFFFF  # ISPENDR1: lines high
    assert gic.get_attr(LEVEL_INFO, 0) == 0xFFFF0000  # SGIs have no line level
    assert gic.get_attr(LEVEL_INFO, 64) == 0  # beyond nr_irqs
    gic.has_attr(LEVEL_INFO, 0)


def test_level_info_rejects_bad_intids_and_info_fields() -> None:
    _, gic = v3_vm()
    gic.set_attr(CTRL, INIT)

    fails(errno.EINVAL, gic.get_attr, LEVEL_INFO, 33)
    fails(errno.EINVAL, gic.get_attr, LEVEL_INFO, 1 << 10)
    fails(errno.ENXIO, gic.has_attr, LEVEL_INFO, 1 << 10)


def redist_attr(offset: int) -> int:
    return kvm.v3_reg_attr(kvm.reset_mpidr(0), offset)


GICR_CTLR, GICR_PROPBASER, GICR_PENDBASER = 0x0, 0x70, 0x78


def test_gicr_ctlr_enable_lpis_sticks_only_with_an_its() -> None:
    vm, gic = v3_vm()
    gic.set_attr(ADDR, REDIST, 0x80A0000)
    gic.set_attr(CTRL, INIT)

    assert gic.get_attr(REDIST_REGS, redist_attr(GICR_CTLR)) == 0x6  # CES and IR
    gic.set_attr(REDIST_REGS, redist_attr(GICR_CTLR), 1)
    assert gic.get_attr(REDIST_REGS, redist_attr(GICR_CTLR)) == 0x6  # no ITS
    gic.set_attr(DIST_REGS, kvm.GICD_IIDR, 0x4B00243B)  # revision 2
    assert gic.get_attr(REDIST_REGS, redist_attr(GICR_CTLR)) == 0x0
    vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    gic.set_attr(REDIST_REGS, redist_attr(GICR_CTLR), 1)
    assert gic.get_attr(REDIST_REGS, redist_attr(GICR_CTLR)) == 0x1


def test_lpi_tables_are_sanitised_and_frozen_once_lpis_are_enabled() -> None:
    vm, gic = v3_vm()
    gic.set_attr(ADDR, REDIST, 0x80A0000)
    gic.set_attr(CTRL, INIT)
    vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    # Outer shareable (2) becomes inner shareable (1); non-cacheable inner
    # (1) becomes read-allocate write-back (3).
    gic.set_attr(
        REDIST_REGS, redist_attr(GICR_PROPBASER), 0x12340000 | 2 << 10 | 1 << 7
    )
    gic.set_attr(REDIST_REGS, redist_attr(GICR_PENDBASER), 0x12340000 | 2 << 10)
    gic.set_attr(REDIST_REGS, redist_attr(GICR_PENDBASER + 4), 1 << 30)  # PTZ

    assert gic.get_attr(REDIST_REGS, redist_attr(GICR_PROPBASER)) == 0x12340580
    assert gic.get_attr(REDIST_REGS, redist_attr(GICR_PENDBASER)) == 0x12340580
    assert (
        gic.get_attr(REDIST_REGS, redist_attr(GICR_PENDBASER + 4)) == 0
    )  # PTZ reads 0
    gic.set_attr(REDIST_REGS, redist_attr(GICR_CTLR), 1)
    gic.set_attr(REDIST_REGS, redist_attr(GICR_PROPBASER), 0x56780000)
    gic.set_attr(REDIST_REGS, redist_attr(GICR_PENDBASER), 0x56780000)
    assert gic.get_attr(REDIST_REGS, redist_attr(GICR_PROPBASER)) == 0x12340580
    assert gic.get_attr(REDIST_REGS, redist_attr(GICR_PENDBASER)) == 0x12340580


def test_gicv2_has_attr_knows_aligned_registers_only() -> None:
    _, gic = v2_vm(vcpus=1)

    gic.has_attr(CPU_REGS, kvm.GICC_CTLR)
    gic.has_attr(DIST_REGS, kvm.GICD_CTLR)
    gic.has_attr(DIST_REGS, kvm.GICD_TYPER)
    fails(errno.ENXIO, gic.has_attr, DIST_REGS, kvm.GICD_TYPER + 1)  # misaligned
    fails(errno.ENXIO, gic.has_attr, CPU_REGS, 0x100)  # no register there
    fails(errno.ENXIO, gic.get_attr, CPU_REGS, 0x100)
    fails(errno.ENXIO, gic.has_attr, DIST_REGS, 0xF30)  # past GICD_SPENDSGIR
    fails(errno.ENXIO, gic.get_attr, DIST_REGS, 0xF30)


def test_gicv2_distributor_enable_round_trips_and_typer_ignores_writes() -> None:
    _, gic = v2_vm(vcpus=2)

    gic.set_attr(DIST_REGS, kvm.GICD_CTLR, 1)
    assert gic.get_attr(DIST_REGS, kvm.GICD_CTLR) == 1
    gic.set_attr(DIST_REGS, kvm.GICD_CTLR, 0)
    assert gic.get_attr(DIST_REGS, kvm.GICD_CTLR) == 0
    gic.set_attr(DIST_REGS, kvm.GICD_TYPER, 0xFFFF)
    assert gic.get_attr(DIST_REGS, kvm.GICD_TYPER) == 0x27  # 2 vcpus, 256 lines
