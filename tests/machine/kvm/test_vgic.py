from __future__ import annotations

import errno

import pytest

from tests.machine.kvm.helpers import (
    CTRL,
    ERAS,
    INIT,
    NR_IRQS,
    OLD_ERAS,
    fails,
    v2_vm,
    v3_vm,
)
from virtmodel.machine import kvm
from virtmodel.machine.kvm.eras import SemanticsName

SAVE_PENDING = kvm.KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES
MAINT = kvm.KVM_DEV_ARM_VGIC_GRP_MAINT_IRQ


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("value", [64, 96, 288, 992])
def test_nr_irqs_accepts_64_to_992_in_steps_of_32(
    era: SemanticsName, value: int
) -> None:
    _, gic = v3_vm(era)

    gic.set_attr(NR_IRQS, 0, value)

    assert gic.get_attr(NR_IRQS, 0) == value


@pytest.mark.parametrize("value", [0, 32, 63, 65, 100, 1023, 1024, 2048])
def test_nr_irqs_outside_the_valid_set_is_einval(value: int) -> None:
    _, gic = v3_vm()

    fails(errno.EINVAL, gic.set_attr, NR_IRQS, 0, value)


def test_nr_irqs_above_32_bits_is_a_value_error() -> None:
    _, gic = v3_vm()

    with pytest.raises(ValueError, match="value for GRP_NR_IRQS"):
        gic.set_attr(NR_IRQS, 0, 1 << 32)


@pytest.mark.parametrize("era", ERAS)
def test_nr_irqs_set_twice_or_after_init_is_ebusy(era: SemanticsName) -> None:
    _, first = v3_vm(era)
    first.set_attr(NR_IRQS, 0, 128)
    _, second = v2_vm(era)
    second.set_attr(CTRL, INIT)

    fails(errno.EBUSY, first.set_attr, NR_IRQS, 0, 256)
    fails(errno.EBUSY, second.set_attr, NR_IRQS, 0, 256)


def test_nr_irqs_reads_32_before_init_and_256_after_default_init() -> None:
    _, gic = v3_vm()

    before = gic.get_attr(NR_IRQS, 0)
    gic.set_attr(CTRL, INIT)

    assert (before, gic.get_attr(NR_IRQS, 0)) == (32, 256)


def test_nr_irqs_null_pointer_is_efault() -> None:
    _, gic = v3_vm()

    fails(errno.EFAULT, gic.set_attr, NR_IRQS, 0, None)
    fails(errno.EFAULT, gic.get_attr, NR_IRQS, 0, None)


@pytest.mark.parametrize("era", ERAS)
def test_ctrl_init_needs_no_address_and_no_vcpu_and_is_idempotent(
    era: SemanticsName,
) -> None:
    _, gic = v3_vm(era, vcpus=0)

    gic.set_attr(CTRL, INIT)
    gic.set_attr(CTRL, INIT)

    assert gic.vm.vgic.initialized


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("attr", [1, 2, 4, 99])
def test_unknown_vgic_control_attribute_is_enxio(era: SemanticsName, attr: int) -> None:
    _, gic = v3_vm(era)

    fails(errno.ENXIO, gic.set_attr, CTRL, attr)
    fails(errno.ENXIO, gic.has_attr, CTRL, attr)


def test_save_pending_tables_needs_a_gicv3_and_init_on_mainline() -> None:
    _, v3 = v3_vm()
    _, v2 = v2_vm()

    fails(errno.ENXIO, v3.set_attr, CTRL, SAVE_PENDING)
    fails(errno.ENXIO, v2.set_attr, CTRL, SAVE_PENDING)
    fails(errno.ENXIO, v2.has_attr, CTRL, SAVE_PENDING)
    v3.set_attr(CTRL, INIT)
    v3.set_attr(CTRL, SAVE_PENDING)
    v3.has_attr(CTRL, SAVE_PENDING)


@pytest.mark.parametrize("era", OLD_ERAS)
def test_save_pending_tables_is_unknown_before_4_12(era: SemanticsName) -> None:
    _, gic = v3_vm(era)
    gic.set_attr(CTRL, INIT)

    fails(errno.ENXIO, gic.set_attr, CTRL, SAVE_PENDING)
    fails(errno.ENXIO, gic.has_attr, CTRL, SAVE_PENDING)


@pytest.mark.parametrize("era", ERAS)
def test_has_attr_accepts_nr_irqs_and_ctrl_init_on_both_models(
    era: SemanticsName,
) -> None:
    _, v3 = v3_vm(era)
    _, v2 = v2_vm(era)

    for gic in (v2, v3):
        gic.has_attr(NR_IRQS, 0)
        gic.has_attr(CTRL, INIT)

    assert v3.check_attr(kvm.KVM_DEV_ARM_VGIC_GRP_CPU_REGS, 0) is False


def test_control_attributes_cannot_be_read() -> None:
    _, gic = v3_vm()

    fails(errno.ENXIO, gic.get_attr, CTRL, INIT)


@pytest.mark.parametrize("group", [10, 0xFFFF])
def test_unknown_group_is_enxio(group: int) -> None:
    _, gic = v3_vm()

    error = fails(errno.ENXIO, gic.set_attr, group, 0, 0)

    assert f"group {group} is not a group of vgic-v3" in str(error)


@pytest.mark.parametrize("era", OLD_ERAS)
def test_maintenance_interrupt_group_is_unknown_to_2016_kernels(
    era: SemanticsName,
) -> None:
    _, gic = v3_vm(era)

    fails(errno.ENXIO, gic.set_attr, MAINT, 0, 25)
    fails(errno.ENXIO, gic.has_attr, MAINT, 0)


def test_maintenance_interrupt_group_is_unknown_to_6_1() -> None:
    _, gic = v3_vm()

    fails(errno.ENXIO, gic.set_attr, MAINT, 0, 25)
    fails(errno.ENXIO, gic.has_attr, MAINT, 0)


def test_cpu_sysregs_hold_the_cpu_interface_state() -> None:
    _, gic = v3_vm()
    sysregs = kvm.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS
    pmr, ctlr, sre = 0xC230, 0xC664, 0xC665  # ICC_PMR/CTLR/SRE_EL1

    fails(errno.EBUSY, gic.get_attr, sysregs, pmr)
    gic.set_attr(CTRL, INIT)
    gic.set_attr(sysregs, pmr, 0x1F0)
    assert gic.get_attr(sysregs, pmr) == 0xF0
    assert gic.get_attr(sysregs, ctlr) == 0x8C00  # 5 priority bits, 24-bit ids, A3V
    assert gic.get_attr(sysregs, sre) == 0x7
    fails(errno.EINVAL, gic.set_attr, sysregs, sre, 0)
    fails(errno.ENOENT, gic.get_attr, sysregs, 0xC231)
    fails(errno.ENXIO, gic.has_attr, sysregs, 0xC231)
    # The register is read, then copying it out through NULL fails.
    fails(errno.EFAULT, gic.get_attr, sysregs, pmr, None)


SYSREGS = kvm.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS
ICC_BPR0, ICC_BPR1, ICC_CTLR, ICC_SRE = 0xC643, 0xC663, 0xC664, 0xC665


def test_icc_ctlr_writes_keep_the_host_limits_and_cbpr_ties_bpr1_to_bpr0() -> None:
    _, gic = v3_vm()
    gic.set_attr(CTRL, INIT)
    gic.set_attr(SYSREGS, ICC_BPR0, 2)
    gic.set_attr(SYSREGS, ICC_BPR1, 5)

    gic.set_attr(SYSREGS, ICC_CTLR, 0x8C03)  # CBPR and EOImode
    gic.set_attr(SYSREGS, ICC_BPR1, 6)  # ignored while CBPR is set

    assert gic.get_attr(SYSREGS, ICC_CTLR) == 0x8C03
    assert gic.get_attr(SYSREGS, ICC_BPR1) == 3  # BPR0 + 1
    gic.set_attr(SYSREGS, ICC_CTLR, 0x8C00)
    assert gic.get_attr(SYSREGS, ICC_BPR1) == 5
    gic.set_attr(SYSREGS, ICC_SRE, 0x7)  # SRE stays set: accepted
    assert gic.get_attr(SYSREGS, ICC_SRE) == 0x7


@pytest.mark.parametrize(
    ("value", "culprit"),
    [
        (0x8D00, "6 priority bits exceed the vcpu's 5"),
        (0xCC00, "SEIS and A3V must match the host's"),
        (0x0C00, "SEIS and A3V must match the host's"),
    ],
)
def test_icc_ctlr_beyond_the_cpu_interface_is_einval(value: int, culprit: str) -> None:
    _, gic = v3_vm()
    gic.set_attr(CTRL, INIT)

    error = fails(errno.EINVAL, gic.set_attr, SYSREGS, ICC_CTLR, value)

    assert culprit in str(error)
    assert gic.get_attr(SYSREGS, ICC_CTLR) == 0x8C00


def test_icc_ctlr_keeps_the_priority_bits_written_before_a_refused_id_width() -> None:
    # 6.1 stores each field as it checks it: fewer priority bits stick even
    # though the interrupt-ID width (32 bits here, the host has 24) fails.
    _, gic = v3_vm()
    gic.set_attr(CTRL, INIT)

    error = fails(errno.EINVAL, gic.set_attr, SYSREGS, ICC_CTLR, 0x9300)

    assert "interrupt-ID bits exceed" in str(error)
    assert gic.get_attr(SYSREGS, ICC_CTLR) == 0x8B00
