from __future__ import annotations

import errno

import pytest

from tests.machine.kvm.helpers import (
    ADDR,
    CTRL,
    ERAS,
    INIT,
    IPA40,
    ITS_ADDR,
    OLD_ERAS,
    configured_v3,
    fails,
    v2_vm,
)
from virtmodel.machine import kvm
from virtmodel.machine.kvm.eras import SemanticsName

ITS_REGS = kvm.KVM_DEV_ARM_VGIC_GRP_ITS_REGS
ITS = kvm.KVM_DEV_TYPE_ARM_VGIC_ITS


def its_vm(era: SemanticsName) -> tuple[kvm.Vm, kvm.KvmDevice]:
    vm, _ = configured_v3(era)
    return vm, vm.create_device(ITS)


@pytest.mark.parametrize("era", ERAS)
def test_misaligned_its_address_is_einval(era: SemanticsName) -> None:
    _, its = its_vm(era)

    fails(errno.EINVAL, its.set_attr, ADDR, ITS_ADDR, 0x401000)


@pytest.mark.parametrize("era", ERAS)
def test_its_address_set_twice_is_eexist(era: SemanticsName) -> None:
    _, its = its_vm(era)
    its.set_attr(ADDR, ITS_ADDR, 0x8080000)

    fails(errno.EEXIST, its.set_attr, ADDR, ITS_ADDR, 0x8090000)

    assert its.get_attr(ADDR, ITS_ADDR) == 0x8080000


@pytest.mark.parametrize("era", ERAS)
def test_wrong_its_address_attribute_is_enodev_but_has_attr_says_enxio(
    era: SemanticsName,
) -> None:
    _, its = its_vm(era)

    fails(errno.ENODEV, its.set_attr, ADDR, 0, 0x8080000)
    fails(errno.ENODEV, its.set_attr, ADDR, 0, None)
    fails(errno.ENODEV, its.get_attr, ADDR, 0)
    fails(errno.ENXIO, its.has_attr, ADDR, 0)


@pytest.mark.parametrize("era", ERAS)
def test_its_address_null_pointer_is_efault(era: SemanticsName) -> None:
    _, its = its_vm(era)

    fails(errno.EFAULT, its.set_attr, ADDR, ITS_ADDR, None)


def test_its_frame_ending_beyond_the_ipa_is_e2big_on_mainline_only() -> None:
    _, new = its_vm("mainline")
    _, old = its_vm("v4.8")

    fails(errno.E2BIG, new.set_attr, ADDR, ITS_ADDR, IPA40 - 0x10000)
    old.set_attr(ADDR, ITS_ADDR, IPA40 - 0x10000)
    fails(errno.E2BIG, old.set_attr, ADDR, ITS_ADDR, IPA40)


@pytest.mark.parametrize("init_first", [True, False])
def test_mainline_its_init_is_a_no_op_in_either_order(init_first: bool) -> None:
    vm, its = its_vm("mainline")

    if init_first:
        its.set_attr(CTRL, INIT)
    its.set_attr(ADDR, ITS_ADDR, 0x8080000)
    if not init_first:
        its.set_attr(CTRL, INIT)

    assert vm.vcpus[0].run() == 0
    assert isinstance(its, kvm.ItsDevice)
    assert its.mapped


def test_mainline_runs_without_any_its_init() -> None:
    vm, its = its_vm("mainline")
    its.set_attr(ADDR, ITS_ADDR, 0x8080000)

    assert vm.vcpus[0].run() == 0


def test_v4_8_rc1_its_init_before_its_address_is_enxio() -> None:
    _, its = its_vm("v4.8-rc1")

    error = fails(errno.ENXIO, its.set_attr, CTRL, INIT)

    assert str(error) == (
        "KVM_SET_DEVICE_ATTR(its, GRP_CTRL, CTRL_INIT) failed:"
        " ENXIO (the ITS address is not set)"
    )


def test_v4_8_rc1_its_address_after_its_init_is_ebusy() -> None:
    vm, its = its_vm("v4.8-rc1")
    its.set_attr(ADDR, ITS_ADDR, 0x8080000)
    its.set_attr(CTRL, INIT)

    fails(errno.EBUSY, its.set_attr, ADDR, ITS_ADDR, 0x8090000)
    fails(errno.EBUSY, its.set_attr, ADDR, ITS_ADDR, None)  # EBUSY precedes EFAULT
    its.set_attr(CTRL, INIT)
    assert isinstance(its, kvm.ItsDevice)
    assert its.mapped
    assert vm.vcpus[0].run() == 0


def test_v4_8_rc1_runs_without_its_init_because_nothing_is_checked_at_run() -> None:
    vm, its = its_vm("v4.8-rc1")
    its.set_attr(ADDR, ITS_ADDR, 0x8080000)

    assert vm.vcpus[0].run() == 0
    assert isinstance(its, kvm.ItsDevice)
    assert not its.mapped


def test_v4_8_first_run_without_its_init_is_ebusy_and_wipes_the_vgic() -> None:
    vm, its = its_vm("v4.8")
    its.set_attr(ADDR, ITS_ADDR, 0x8080000)

    error = fails(errno.EBUSY, vm.vcpus[0].run)

    assert "its: the ITS is not initialized" in str(error)
    assert not vm.vgic.initialized
    assert its.get_attr(ADDR, ITS_ADDR) == 0x8080000


def test_v4_8_first_run_without_its_address_is_enxio() -> None:
    vm, its = its_vm("v4.8")
    its.set_attr(CTRL, INIT)

    fails(errno.ENXIO, vm.vcpus[0].run)


@pytest.mark.parametrize("init_first", [True, False])
def test_v4_8_accepts_its_init_and_address_in_either_order(init_first: bool) -> None:
    vm, its = its_vm("v4.8")

    if init_first:
        its.set_attr(CTRL, INIT)
    its.set_attr(ADDR, ITS_ADDR, 0x8080000)
    if not init_first:
        its.set_attr(CTRL, INIT)

    assert vm.vcpus[0].run() == 0
    assert isinstance(its, kvm.ItsDevice)
    assert its.mapped


def test_v4_8_checks_every_its_in_creation_order() -> None:
    vm, first = its_vm("v4.8")
    second = vm.create_device(ITS)
    first.set_attr(ADDR, ITS_ADDR, 0x8080000)
    first.set_attr(CTRL, INIT)

    error = fails(errno.EBUSY, vm.vcpus[0].run)

    assert second.label in str(error)


def test_v4_8_ignores_an_its_in_a_gicv2_vm() -> None:
    vm, _ = v2_vm("v4.8")
    vm.create_device(ITS)
    gic = vm.devices[0]
    gic.set_attr(ADDR, kvm.KVM_VGIC_V2_ADDR_TYPE_DIST, 0x8000000)
    gic.set_attr(ADDR, kvm.KVM_VGIC_V2_ADDR_TYPE_CPU, 0x8010000)

    assert vm.vcpus[0].run() == 0


@pytest.mark.parametrize(
    "attr",
    [
        kvm.KVM_DEV_ARM_ITS_SAVE_TABLES,
        kvm.KVM_DEV_ARM_ITS_RESTORE_TABLES,
        kvm.KVM_DEV_ARM_ITS_CTRL_RESET,
    ],
)
def test_its_save_restore_and_reset_exist_only_on_mainline(attr: int) -> None:
    _, new = its_vm("mainline")
    _, old = its_vm("v4.8")

    new.has_attr(CTRL, attr)
    new.set_attr(CTRL, attr)
    fails(errno.ENXIO, old.has_attr, CTRL, attr)
    fails(errno.ENXIO, old.set_attr, CTRL, attr)


def test_its_registers_check_alignment_then_the_its_address() -> None:
    _, its = its_vm("v6.1")

    fails(errno.EINVAL, its.get_attr, ITS_REGS, 0x82)
    fails(errno.EINVAL, its.has_attr, ITS_REGS, 0x2)
    fails(errno.ENXIO, its.get_attr, ITS_REGS, 0x0)
    its.has_attr(ITS_REGS, 0x0)
    its.has_attr(ITS_REGS, 0x100)
    fails(errno.ENXIO, its.has_attr, ITS_REGS, 0x200)
    fails(errno.EFAULT, its.set_attr, ITS_REGS, 0x82, None)
    its.set_attr(ADDR, ITS_ADDR, 0x8080000)
    assert "no ITS register" in str(fails(errno.ENXIO, its.get_attr, ITS_REGS, 0x200))
    assert its.get_attr(ITS_REGS, 0x0) == 0x80000000  # quiescent, disabled


def test_its_registers_hold_what_qemu_saves_and_restores() -> None:
    _, its = its_vm("v6.1")
    its.set_attr(ADDR, ITS_ADDR, 0x8080000)

    assert its.get_attr(ITS_REGS, 0x4) == 0x4B00043B  # GITS_IIDR, ABI 0
    assert its.get_attr(ITS_REGS, 0x8) == 0x1EF71  # GITS_TYPER
    assert its.get_attr(ITS_REGS, 0x100) == 0x1907000000000600  # device table
    its.set_attr(ITS_REGS, 0x80, 0x1234_5678)  # CBASER: 64 KiB aligned address
    assert its.get_attr(ITS_REGS, 0x80) == 0x1800_0000_1234_0678
    its.set_attr(ITS_REGS, 0x88, 0xFFE0)  # CWRITER inside the 484 KiB queue
    assert its.get_attr(ITS_REGS, 0x0) == 0  # not quiescent now
    fails(errno.EINVAL, its.set_attr, ITS_REGS, 0x90, 0x7FFE0)  # CREADR beyond
    fails(errno.EINVAL, its.set_attr, ITS_REGS, 0x4, 0x1000)  # ABI revision 1
    its.set_attr(CTRL, kvm.KVM_DEV_ARM_ITS_CTRL_RESET)
    assert its.get_attr(ITS_REGS, 0x80) == 0
    assert its.get_attr(ITS_REGS, 0xFFE8) == 0x3B  # GITS_PIDR2
    its.set_attr(CTRL, 7)  # 6.1 accepts an unknown control attribute


@pytest.mark.parametrize("era", OLD_ERAS)
def test_its_registers_are_unknown_before_4_12(era: SemanticsName) -> None:
    _, its = its_vm(era)

    fails(errno.ENXIO, its.has_attr, ITS_REGS, 0)
    fails(errno.ENXIO, its.get_attr, ITS_REGS, 0)


def test_its_address_and_init_attributes_are_advertised() -> None:
    _, its = its_vm("v4.8-rc1")

    its.has_attr(ADDR, ITS_ADDR)
    its.has_attr(CTRL, INIT)

    assert its.check_attr(kvm.KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0) is False


def qemu_virt_gicv3_its(era: SemanticsName, its_init: str) -> kvm.Vm:
    """Drive the VM as QEMU's virt board does (qemu-init-and-virt.md §3.2).

    *its_init* is "realize" (QEMU >= 2.8: ITS CTRL_INIT before the address
    is known) or "init-done" (the thread's proposal: after the addresses).
    """
    vm = kvm.create_vm(semantics=era)
    for vcpu_id in range(2):
        vm.create_vcpu(vcpu_id)
    vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3, test=True)
    gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
    multi = gic.check_attr(ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION)
    gic.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, 288)
    gic.set_attr(CTRL, INIT)
    its = vm.create_device(ITS)
    if its_init == "realize":
        its.set_attr(CTRL, INIT)
    # The init-done notifier writes the queued addresses newest first.
    its.set_attr(ADDR, ITS_ADDR, 0x08080000)
    if multi:
        redist = kvm.redist_region_attr(2, 0x080A0000, 0, 0)
        gic.set_attr(ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION, redist)
    else:
        gic.set_attr(ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST, 0x080A0000)
    gic.set_attr(ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST, 0x08000000)
    if its_init == "init-done":
        its.set_attr(CTRL, INIT)
    for vcpu in vm.vcpus:
        vcpu.run()
    return vm


@pytest.mark.parametrize(
    ("era", "its_init", "outcome"),
    [
        ("mainline", "realize", None),
        ("mainline", "init-done", None),
        ("v4.8", "realize", None),
        ("v4.8", "init-done", None),
        ("v4.8-rc1", "realize", ("KVM_SET_DEVICE_ATTR", errno.ENXIO)),
        ("v4.8-rc1", "init-done", None),
    ],
)
def test_qemu_virt_sequence_boots_except_realize_time_its_init_on_v4_8_rc1(
    era: SemanticsName, its_init: str, outcome: tuple[str, int] | None
) -> None:
    if outcome is None:
        vm = qemu_virt_gicv3_its(era, its_init)

        assert vm.vgic.ready
        assert all(its.mapped for its in vm.its_devices)
        return
    with pytest.raises(kvm.KvmError) as excinfo:
        qemu_virt_gicv3_its(era, its_init)

    assert excinfo.value.call is not None
    assert (excinfo.value.call.ioctl, excinfo.value.errno) == outcome
    assert excinfo.value.call.resource == "kvm.its.ctrl.init"


def test_an_enabled_its_keeps_its_command_queue_registers() -> None:
    _, its = its_vm("v6.1")
    its.set_attr(ADDR, ITS_ADDR, 0x8080000)
    valid = 1 << 63
    its.set_attr(ITS_REGS, 0x0, 1)  # no valid tables yet: stays disabled
    assert its.get_attr(ITS_REGS, 0x0) == 0x80000000
    its.set_attr(ITS_REGS, 0x100, valid | 0x4000_0000)  # device table
    its.set_attr(ITS_REGS, 0x108, valid | 0x4001_0000)  # collection table
    its.set_attr(ITS_REGS, 0x80, valid | 0x1234_0000)  # CBASER, a 4 KiB queue
    its.set_attr(ITS_REGS, 0x4, 0x4B00043B)  # GITS_IIDR, revision 0: accepted

    its.set_attr(ITS_REGS, 0x0, 1)
    its.set_attr(ITS_REGS, 0x80, valid | 0x5678_0000)  # ignored while enabled
    its.set_attr(ITS_REGS, 0x88, 0x1000)  # CWRITER beyond the queue: ignored
    error = fails(errno.EBUSY, its.set_attr, ITS_REGS, 0x90, 0x20)

    assert "while the ITS is enabled" in str(error)
    assert its.get_attr(ITS_REGS, 0x0) == 0x80000001  # enabled, quiescent
    assert its.get_attr(ITS_REGS, 0x80) & 0xFFFF_FFFF_F000 == 0x1234_0000
    assert its.get_attr(ITS_REGS, 0x88) == 0
    assert its.get_attr(ITS_REGS, 0x90) == 0
