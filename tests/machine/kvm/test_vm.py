from __future__ import annotations

import errno

import pytest

from tests.machine.kvm.helpers import (
    ADDR,
    CTRL,
    DIST,
    ERAS,
    INIT,
    OLD_ERAS,
    configured_v3,
    fails,
    v2_vm,
    v3_vm,
)
from virtmodel.machine import kvm
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.eras import SemanticsName
from virtmodel.machine.kvm.memslots import KVM_MEM_READONLY
from virtmodel.machine.kvm.routing import Route


@pytest.mark.parametrize("bits", [32, 40, 48])
def test_mainline_accepts_ipa_sizes_from_32_bits_to_the_host_limit(bits: int) -> None:
    vm = kvm.create_vm(ipa_bits=bits)

    assert vm.ipa_size == 1 << bits


@pytest.mark.parametrize("bits", [31, 49, 64])
def test_mainline_rejects_ipa_sizes_outside_32_to_host_limit(bits: int) -> None:
    error = fails(errno.EINVAL, kvm.create_vm, bits)

    assert error.call is None
    assert str(error).startswith(f"KVM_CREATE_VM(ipa_bits={bits}) failed: EINVAL (")


def test_host_ipa_limit_bounds_the_vm_ipa_size() -> None:
    host = kvm.HostCaps(ipa_limit=44)

    fails(errno.EINVAL, kvm.create_vm, 48, "mainline", host)
    assert kvm.create_vm(44, host=host).ipa_bits == 44


@pytest.mark.parametrize("era", OLD_ERAS)
def test_2016_kernels_only_make_40_bit_vms(era: SemanticsName) -> None:
    assert kvm.create_vm(40, era).ipa_bits == 40
    fails(errno.EINVAL, kvm.create_vm, 44, era)


def test_unknown_semantics_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="unknown kernel semantics 'v9'"):
        kvm.create_vm(semantics="v9")  # type: ignore[call-overload]  # on purpose


def test_vcpu_gets_the_kernels_reset_mpidr() -> None:
    vm = kvm.create_vm()

    vcpus = [vm.create_vcpu(i) for i in (0, 17, 0x1FF)]

    assert [v.mpidr for v in vcpus] == [0x80000000, 0x80000101, 0x80001F0F]


def test_vcpu_id_beyond_the_limit_is_einval() -> None:
    vm = kvm.create_vm()

    fails(errno.EINVAL, vm.create_vcpu, 512)


def test_duplicate_vcpu_id_is_eexist() -> None:
    vm = kvm.create_vm()
    vm.create_vcpu(3)

    error = fails(errno.EEXIST, vm.create_vcpu, 3)

    assert "KVM_CREATE_VCPU(vcpu3) failed: EEXIST" in str(error)


def test_negative_vcpu_id_is_a_value_error() -> None:
    vm = kvm.create_vm()

    with pytest.raises(ValueError, match="vcpu_id -1 is not a 32-bit unsigned"):
        vm.create_vcpu(-1)


@pytest.mark.parametrize("era", ERAS)
def test_vcpu_created_after_vgic_init_is_ebusy(era: SemanticsName) -> None:
    vm, gic = v3_vm(era)
    gic.set_attr(CTRL, INIT)

    fails(errno.EBUSY, vm.create_vcpu, 1)

    assert len(vm.vcpus) == 1


def test_gicv2_vm_limits_vcpu_ids_to_eight() -> None:
    vm, _ = v2_vm()

    fails(errno.EINVAL, vm.create_vcpu, 8)
    assert vm.create_vcpu(7).vcpu_id == 7


def test_device_type_zero_is_enodev() -> None:
    vm = kvm.create_vm()

    fails(errno.ENODEV, vm.create_device, 0)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (kvm.KVM_DEV_TYPE_ARM_VGIC_V3, kvm.KVM_DEV_TYPE_ARM_VGIC_V3),
        (kvm.KVM_DEV_TYPE_ARM_VGIC_V2, kvm.KVM_DEV_TYPE_ARM_VGIC_V3),
        (kvm.KVM_DEV_TYPE_ARM_VGIC_V3, kvm.KVM_DEV_TYPE_ARM_VGIC_V2),
    ],
)
def test_second_vgic_is_eexist(first: int, second: int) -> None:
    vm = kvm.create_vm()
    vm.create_device(first)

    fails(errno.EEXIST, vm.create_device, second)


def test_gicv2_with_more_than_eight_vcpus_is_e2big() -> None:
    vm = kvm.create_vm()
    for vcpu_id in range(9):
        vm.create_vcpu(vcpu_id)

    fails(errno.E2BIG, vm.create_device, kvm.KVM_DEV_TYPE_ARM_VGIC_V2)
    assert vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3) is not None


def test_vgic_created_after_a_vcpu_ran_is_ebusy() -> None:
    vm = kvm.create_vm()
    vm.create_vcpu(0).run()

    fails(errno.EBUSY, vm.create_device, kvm.KVM_DEV_TYPE_ARM_VGIC_V3)


def test_vgic_created_after_a_configured_run_is_eexist() -> None:
    vm, _ = configured_v3()
    vm.vcpus[0].run()

    fails(errno.EEXIST, vm.create_device, kvm.KVM_DEV_TYPE_ARM_VGIC_V3)


def test_host_without_gicv2_emulation_answers_enodev_for_v2() -> None:
    vm = kvm.create_vm(host=kvm.HostCaps(gicv2_emulation=False))

    fails(errno.ENODEV, vm.create_device, kvm.KVM_DEV_TYPE_ARM_VGIC_V2, True)
    fails(errno.ENODEV, vm.create_device, kvm.KVM_DEV_TYPE_ARM_VGIC_V2)


def test_gicv2_host_has_no_v3_or_its() -> None:
    vm = kvm.create_vm(host=kvm.HostCaps(gic_version=2))

    fails(errno.ENODEV, vm.create_device, kvm.KVM_DEV_TYPE_ARM_VGIC_V3, True)
    fails(errno.ENODEV, vm.create_device, kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    assert vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V2, True) is None


def test_create_device_test_probes_without_creating() -> None:
    vm = kvm.create_vm()

    result = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3, test=True)

    assert result is None
    assert vm.devices == []
    assert vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3) is not None
    assert str(vm.calls[0]) == (
        "KVM_CREATE_DEVICE(vgic-v3, KVM_CREATE_DEVICE_TEST, 7) = 0"
    )


def test_its_can_be_created_without_a_vgic_and_several_times() -> None:
    vm = kvm.create_vm()

    labels = [vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS).label for _ in range(3)]

    assert labels == ["its", "its1", "its2"]
    assert not vm.has_its()


def test_mpidr_write_is_recorded_and_used_for_lookups() -> None:
    vm, gic = v3_vm()
    vcpu = vm.vcpus[0]

    vcpu.mpidr = 0x80000100

    assert vcpu.mpidr == 0x80000100
    assert vm.calls[-1].resource == "kvm.vcpu.mpidr"
    gic.set_attr(ADDR, DIST, 0x8000000)
    assert vm.calls[-1].ok


def test_reprs_name_the_semantics_the_vcpu_and_the_device() -> None:
    vm, gic = v3_vm("mainline", vcpus=2)
    its = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)

    assert repr(vm) == "<Vm v6.1 ipa_bits=40 vcpus=2>"
    assert repr(vm.vcpus[1]) == "<Vcpu 1 mpidr=0x80000001>"
    assert repr(gic) == "<VgicDevice 'vgic-v3'>"
    assert repr(its) == "<ItsDevice 'its'>"


def test_the_vcpu_count_limit_is_checked_before_the_duplicate_id() -> None:
    vm = kvm.create_vm()
    for vcpu_id in range(8):
        vm.create_vcpu(vcpu_id)
    vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V2)  # a GICv2 takes 8 vcpus at most

    error = fails(errno.EINVAL, vm.create_vcpu, 0)

    assert "maximum of 8 vcpus" in str(error)
    assert len(vm.vcpus) == 8


@pytest.mark.parametrize(("base", "size"), [(0x1000800, 0x1000), (0x1000000, 0x800)])
def test_unaligned_memory_region_is_einval_and_not_added(base: int, size: int) -> None:
    vm = kvm.create_vm()

    error = fails(errno.EINVAL, vm.set_user_memory_region, 0, base, size)

    assert "is not page aligned" in str(error)
    assert vm.memslots == {}


# KVM_SET_USER_MEMORY_REGION: each answer below was measured on the lab's
# real 6.1 kernel (``virtmodel lab kvm``); the comment names the check.


def test_a_memory_slot_past_the_ipa_space_is_efault_not_einval() -> None:
    # arm64's kvm_arch_prepare_memory_region: a new slot must end inside
    # the VM's IPA space, else EFAULT.
    vm = kvm.create_vm(ipa_bits=32)

    error = fails(errno.EFAULT, vm.set_user_memory_region, 2, 0xFFFFF000, 0x2000)
    vm.set_user_memory_region(2, 0xFFFFF000, 0x1000)  # ends exactly at 4 GiB

    assert "ends past the IPA space" in str(error)
    assert vm.memslots == {2: (0xFFFFF000, 0x1000, 0)}


def test_moving_a_memory_slot_past_the_ipa_space_is_efault() -> None:
    # The same arm64 check runs for a moved slot; the slot stays put.
    vm = kvm.create_vm(ipa_bits=32)
    vm.set_user_memory_region(2, 0xFFFFF000, 0x1000)

    fails(errno.EFAULT, vm.set_user_memory_region, 2, 0x100000000, 0x1000)

    assert vm.memslots == {2: (0xFFFFF000, 0x1000, 0)}


@pytest.mark.parametrize(
    ("slot", "base", "size", "why"),
    [
        (0x7FFF, 0, 0x1000, "slot id 32767 is not below 32767"),  # KVM_USER_MEM_SLOTS
        (0x10001, 0x1000, 0x1000, "address space 1 does not exist"),  # as_id
        (5, (1 << 64) - 0x1000, 0x2000, "wraps around"),  # base + size overflows
        (5, 0x40000000, 1 << 43, "pages exceed"),  # KVM_MEM_MAX_NR_PAGES
    ],
)
def test_generic_memory_slot_checks_are_einval(
    slot: int, base: int, size: int, why: str
) -> None:
    # __kvm_set_memory_region's sanity checks, before any slot is looked at.
    vm = kvm.create_vm()

    error = fails(errno.EINVAL, vm.set_user_memory_region, slot, base, size)

    assert why in str(error)
    assert vm.memslots == {}


def test_the_highest_user_slot_id_is_accepted() -> None:
    vm = kvm.create_vm()

    vm.set_user_memory_region(0x7FFE, 0, 0x1000)

    assert vm.memslots == {0x7FFE: (0, 0x1000, 0)}


def test_size_zero_deletes_a_slot_and_einval_when_there_is_none() -> None:
    # KVM_MR_DELETE needs an existing slot; its base does not matter.
    vm = kvm.create_vm()
    vm.set_user_memory_region(1, 0x40000000, 0x10000)

    vm.set_user_memory_region(1, 0, 0)
    error = fails(errno.EINVAL, vm.set_user_memory_region, 1, 0, 0)

    assert "nothing to delete" in str(error)
    assert vm.memslots == {}


def test_an_existing_slot_moves_keeps_its_place_or_refuses_a_new_size() -> None:
    # Modifying a slot: another size is EINVAL, the same base is a no-op,
    # another base is KVM_MR_MOVE (which may overlap the slot's old range).
    vm = kvm.create_vm()
    vm.set_user_memory_region(1, 0x40000000, 0x10000)

    vm.set_user_memory_region(1, 0x40000000, 0x10000)
    vm.set_user_memory_region(1, 0x40008000, 0x10000)
    error = fails(errno.EINVAL, vm.set_user_memory_region, 1, 0x40008000, 0x20000)

    assert "exists with size 0x10000" in str(error)
    assert vm.memslots == {1: (0x40008000, 0x10000, 0)}


def test_a_new_or_moved_slot_over_another_is_eexist_before_the_ipa_check() -> None:
    # kvm_check_memslot_overlap runs before arm64's IPA check (EFAULT).
    vm = kvm.create_vm(ipa_bits=32)
    vm.set_user_memory_region(1, 0x40000000, 0x10000)
    vm.set_user_memory_region(2, 0x50000000, 0x10000)

    error = fails(errno.EEXIST, vm.set_user_memory_region, 3, 0x40000000, 1 << 40)
    fails(errno.EEXIST, vm.set_user_memory_region, 2, 0x4000F000, 0x10000)

    assert "overlaps slot 1" in str(error)
    assert vm.memslots == {1: (0x40000000, 0x10000, 0), 2: (0x50000000, 0x10000, 0)}


@pytest.mark.parametrize("flags", [1 << 2, 1 << 31, 0x7])
def test_a_memory_flag_arm64_lacks_is_einval_even_for_a_deletion(flags: int) -> None:
    # check_memory_region_flags: arm64 takes LOG_DIRTY_PAGES and READONLY.
    vm = kvm.create_vm()
    vm.set_user_memory_region(1, 0x40000000, 0x10000)

    error = fails(errno.EINVAL, vm.set_user_memory_region, 2, 0x50000000, 0x1000, flags)
    fails(errno.EINVAL, vm.set_user_memory_region, 1, 0x40000000, 0, flags)

    assert f"flags 0x{flags:x}" in str(error)
    assert vm.memslots == {1: (0x40000000, 0x10000, 0)}


def test_the_flags_are_checked_after_the_slot_id_and_before_the_alignment() -> None:
    vm = kvm.create_vm()

    slot = fails(errno.EINVAL, vm.set_user_memory_region, 0x7FFF, 0x800, 0x1000, 4)
    flags = fails(errno.EINVAL, vm.set_user_memory_region, 0, 0x800, 0x1000, 4)

    assert "slot id" in str(slot)
    assert "flags 0x4" in str(flags)


def test_a_slot_may_change_its_log_flag_but_never_its_read_only_flag() -> None:
    vm = kvm.create_vm()
    vm.set_user_memory_region(0, 0, 0x4000000, KVM_MEM_READONLY)

    error = fails(errno.EINVAL, vm.set_user_memory_region, 0, 0, 0x4000000, 0)
    moved = fails(errno.EINVAL, vm.set_user_memory_region, 0, 0x8000000, 0x4000000)
    vm.set_user_memory_region(0, 0, 0x4000000, 3)  # flags only: logging on
    logged = dict(vm.memslots)
    vm.set_user_memory_region(0, 0x8000000, 0x4000000, 2)  # moved, logging off

    assert "read-only flag cannot change" in str(error)
    assert "read-only" in str(moved)
    assert logged == {0: (0, 0x4000000, 3)}
    assert vm.memslots == {0: (0x8000000, 0x4000000, 2)}
    assert str(vm.calls[-1]) == (
        "KVM_SET_USER_MEMORY_REGION(vm, 0x08000000, slot=0, flags=2, size=0x4000000) = 0"
    )


def test_memory_region_flags_must_fit_32_bits() -> None:
    vm = kvm.create_vm()

    with pytest.raises(ValueError, match="flags"):
        vm.set_user_memory_region(0, 0, 0x1000, 1 << 32)
    assert vm.calls == []


def test_memory_slots_decide_where_stolen_time_may_go() -> None:
    # kvm_arm_pvtime_set_attr wants the IPA inside a memory slot.
    vm = kvm.create_vm()
    vcpu = vm.create_vcpu(0)
    pvtime, ipa = u.KVM_ARM_VCPU_PVTIME_CTRL, u.KVM_ARM_VCPU_PVTIME_IPA

    fails(errno.EINVAL, vcpu.set_attr, pvtime, ipa, 0x90000000)
    vm.set_user_memory_region(7, 0x90000000, 0x10000)
    vcpu.set_attr(pvtime, ipa, 0x90000000)

    assert vcpu.get_attr(pvtime, ipa) == 0x90000000


# KVM_SET_GSI_ROUTING: a GSI may carry several entries only when all are
# irqchip entries on different irqchips (setup_routing_entry); arm64 has one.


@pytest.mark.parametrize(
    ("first", "second"),
    [("irqchip", "irqchip"), ("irqchip", "msi"), ("msi", "irqchip"), ("msi", "msi")],
)
def test_a_gsi_listed_twice_is_einval(first: str, second: str) -> None:
    vm = kvm.create_vm()
    routes = [Route(5, first, 0, 1), Route(5, second, 0, 2)]

    error = fails(errno.EINVAL, vm.set_gsi_routing, routes)

    assert "gsi 5 is routed twice" in str(error)
    assert vm.routes == ()


def test_one_pin_may_serve_two_gsis() -> None:
    vm = kvm.create_vm()
    routes = [Route(5, "irqchip", 0, 1), Route(6, "irqchip", 0, 1)]

    vm.set_gsi_routing(routes)

    assert vm.routes == tuple(routes)


def test_a_gsi_on_two_irqchips_fails_on_the_second_chip_not_the_repeat() -> None:
    vm = kvm.create_vm()
    routes = [Route(5, "irqchip", 0, 1), Route(5, "irqchip", 1, 1)]

    error = fails(errno.EINVAL, vm.set_gsi_routing, routes)

    assert "irqchip 1 does not exist" in str(error)
