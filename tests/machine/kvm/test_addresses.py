from __future__ import annotations

import errno

import pytest

from tests.machine.kvm.helpers import (
    ADDR,
    CTRL,
    DIST,
    ERAS,
    INIT,
    IPA40,
    OLD_ERAS,
    REDIST,
    REGION,
    fails,
    set_redist,
    v2_vm,
    v3_vm,
)
from virtmodel.machine import kvm
from virtmodel.machine.kvm.eras import SemanticsName

V2_DIST = kvm.KVM_VGIC_V2_ADDR_TYPE_DIST
V2_CPU = kvm.KVM_VGIC_V2_ADDR_TYPE_CPU


@pytest.mark.parametrize("era", ERAS)
def test_distributor_set_twice_is_eexist(era: SemanticsName) -> None:
    _, gic = v3_vm(era)
    gic.set_attr(ADDR, DIST, 0x8000000)

    error = fails(errno.EEXIST, gic.set_attr, ADDR, DIST, 0x9000000)

    assert str(error) == (
        "KVM_SET_DEVICE_ATTR(vgic-v3, GRP_ADDR, VGIC_V3_ADDR_TYPE_DIST) failed:"
        " EEXIST (address already set)"
    )
    assert gic.get_attr(ADDR, DIST) == 0x8000000


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("make", "attr", "addr"),
    [("v3", DIST, 0x8001000), ("v3", REDIST, 0x8001000), ("v2", V2_DIST, 0x8000100)],
)
def test_misaligned_address_is_einval(
    era: SemanticsName, make: str, attr: int, addr: int
) -> None:
    _, gic = v3_vm(era) if make == "v3" else v2_vm(era)

    fails(errno.EINVAL, gic.set_attr, ADDR, attr, addr)


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("attr", [DIST, REDIST])
def test_base_at_the_ipa_size_is_e2big(era: SemanticsName, attr: int) -> None:
    _, gic = v3_vm(era)

    fails(errno.E2BIG, gic.set_attr, ADDR, attr, IPA40)


@pytest.mark.parametrize(
    ("era", "code"),
    [("mainline", errno.EEXIST), ("v4.8", errno.EINVAL), ("v4.8-rc1", errno.EINVAL)],
)
def test_already_set_and_misaligned_gives_the_eras_first_check(
    era: SemanticsName, code: int
) -> None:
    _, gic = v3_vm(era)
    gic.set_attr(ADDR, DIST, 0x8000000)

    fails(code, gic.set_attr, ADDR, DIST, 0x8001000)


@pytest.mark.parametrize(
    ("era", "code"), [("mainline", errno.EINVAL), ("v4.8", errno.E2BIG)]
)
def test_misaligned_and_beyond_ipa_gives_the_eras_first_check(
    era: SemanticsName, code: int
) -> None:
    _, gic = v3_vm(era)

    fails(code, gic.set_attr, ADDR, DIST, IPA40 + 0x1000)


def test_v2_cpu_interface_ending_beyond_the_ipa_is_e2big_on_mainline() -> None:
    _, gic = v2_vm("mainline")

    fails(errno.E2BIG, gic.set_attr, ADDR, V2_CPU, IPA40 - 0x1000)


@pytest.mark.parametrize("era", OLD_ERAS)
def test_2016_kernels_do_not_check_the_region_end(era: SemanticsName) -> None:
    _, gic = v2_vm(era)

    gic.set_attr(ADDR, V2_CPU, IPA40 - 0x1000)

    assert gic.get_attr(ADDR, V2_CPU) == IPA40 - 0x1000


def test_legacy_redist_ending_beyond_the_ipa_is_e2big_on_mainline() -> None:
    _, gic = v3_vm("mainline", vcpus=1)

    fails(errno.E2BIG, gic.set_attr, ADDR, REDIST, IPA40 - 0x10000)


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("make", "attr"),
    [
        ("v3", V2_DIST),
        ("v3", V2_CPU),
        ("v2", DIST),
        ("v2", REDIST),
        ("v3", 6),
        ("v3", 99),
    ],
)
def test_wrong_model_or_unknown_address_attr_is_enxio(
    era: SemanticsName, make: str, attr: int
) -> None:
    _, gic = v3_vm(era) if make == "v3" else v2_vm(era)

    fails(errno.ENXIO, gic.set_attr, ADDR, attr, 0x8000000)
    fails(errno.ENXIO, gic.get_attr, ADDR, attr)
    fails(errno.ENXIO, gic.has_attr, ADDR, attr)


@pytest.mark.parametrize("era", ERAS)
def test_null_pointer_is_efault_before_any_other_check(era: SemanticsName) -> None:
    _, gic = v3_vm(era)

    fails(errno.EFAULT, gic.set_attr, ADDR, DIST, None)
    fails(errno.EFAULT, gic.set_attr, ADDR, 99, None)


@pytest.mark.parametrize("era", ERAS)
def test_unset_addresses_read_as_all_ones(era: SemanticsName) -> None:
    _, gic = v3_vm(era)

    assert gic.get_attr(ADDR, DIST) == (1 << 64) - 1
    assert gic.get_attr(ADDR, REDIST) == (1 << 64) - 1


def test_legacy_redist_grows_with_vcpus_until_creation_fails() -> None:
    # Room for exactly three frames below the 40-bit IPA end.
    vm, gic = v3_vm("mainline", vcpus=1)
    gic.set_attr(ADDR, DIST, 0x8000000)
    gic.set_attr(ADDR, REDIST, IPA40 - 0x60000)

    for vcpu_id in (1, 2, 3):  # the check counts only vCPUs already online
        vm.create_vcpu(vcpu_id)

    fails(errno.EINVAL, vm.create_vcpu, 4)
    assert len(vm.vcpus) == 4
    gic.set_attr(CTRL, INIT)
    fails(errno.EINVAL, vm.vcpus[0].run)


@pytest.mark.parametrize("era", OLD_ERAS)
def test_2016_kernels_never_check_redist_at_vcpu_creation(era: SemanticsName) -> None:
    vm, gic = v3_vm(era, vcpus=1)
    gic.set_attr(ADDR, DIST, 0x8000000)
    gic.set_attr(ADDR, REDIST, 0x7FE0000)

    vm.create_vcpu(1)  # the legacy region now overlaps the distributor

    gic.set_attr(CTRL, INIT)
    fails(errno.EINVAL, vm.vcpus[0].run)


def test_legacy_redist_overlapping_the_distributor_is_einval_at_set_time() -> None:
    _, gic = v3_vm("mainline", vcpus=2)
    gic.set_attr(ADDR, DIST, 0x8000000)

    fails(errno.EINVAL, gic.set_attr, ADDR, REDIST, 0x7FF0000 - 0x10000)


@pytest.mark.parametrize("era", OLD_ERAS)
def test_2016_legacy_redist_overlapping_the_distributor_fails_at_first_run(
    era: SemanticsName,
) -> None:
    vm, gic = v3_vm(era, vcpus=2)
    gic.set_attr(ADDR, DIST, 0x8000000)
    gic.set_attr(ADDR, REDIST, 0x7FE0000)
    gic.set_attr(CTRL, INIT)

    fails(errno.EINVAL, vm.vcpus[0].run)


@pytest.mark.parametrize("era", ERAS)
def test_distributor_overlapping_redist_is_accepted_then_fails_at_first_run(
    era: SemanticsName,
) -> None:
    vm, gic = v3_vm(era, vcpus=2)
    gic.set_attr(ADDR, REDIST, 0x8000000)
    gic.set_attr(ADDR, DIST, 0x8020000)
    gic.set_attr(CTRL, INIT)

    error = fails(errno.EINVAL, vm.vcpus[0].run)

    assert "overlaps redistributor region 0" in str(error)


@pytest.mark.parametrize("era", ERAS)
def test_legacy_redist_set_twice_is_eexist(era: SemanticsName) -> None:
    _, gic = v3_vm(era)
    gic.set_attr(ADDR, REDIST, 0x80A0000)

    fails(errno.EEXIST, gic.set_attr, ADDR, REDIST, 0x90A0000)


def test_legacy_redist_after_a_region_is_einval() -> None:
    _, gic = v3_vm()
    set_redist(gic, 0x80A0000, count=1)

    fails(errno.EINVAL, gic.set_attr, ADDR, REDIST, 0x90A0000)


@pytest.mark.parametrize(("count", "flags", "index"), [(1, 1, 0), (0, 0, 0), (1, 0, 1)])
def test_region_with_flags_zero_count_or_first_index_not_zero_is_einval(
    count: int, flags: int, index: int
) -> None:
    _, gic = v3_vm()

    value = kvm.redist_region_attr(count, 0x80A0000, flags, index)

    fails(errno.EINVAL, gic.set_attr, ADDR, REGION, value)


def test_region_index_must_follow_the_last_one() -> None:
    _, gic = v3_vm()
    set_redist(gic, 0x100000, count=1, index=0)

    fails(
        errno.EINVAL,
        gic.set_attr,
        ADDR,
        REGION,
        kvm.redist_region_attr(1, 0x200000, 0, 2),
    )
    fails(
        errno.EINVAL,
        gic.set_attr,
        ADDR,
        REGION,
        kvm.redist_region_attr(1, 0x200000, 0, 0),
    )
    set_redist(gic, 0x200000, count=1, index=1)


def test_region_overlapping_another_region_is_einval() -> None:
    _, gic = v3_vm()
    set_redist(gic, 0x100000, count=2, index=0)

    fails(
        errno.EINVAL,
        gic.set_attr,
        ADDR,
        REGION,
        kvm.redist_region_attr(1, 0x120000, 0, 1),
    )


def test_region_base_or_end_beyond_the_ipa_is_e2big() -> None:
    _, gic = v3_vm()

    fails(
        errno.E2BIG, gic.set_attr, ADDR, REGION, kvm.redist_region_attr(1, IPA40, 0, 0)
    )
    fails(
        errno.E2BIG,
        gic.set_attr,
        ADDR,
        REGION,
        kvm.redist_region_attr(2, IPA40 - 0x30000, 0, 0),
    )


def test_region_base_below_64k_is_silently_truncated_by_the_encoding() -> None:
    _, gic = v3_vm()

    gic.set_attr(ADDR, REGION, kvm.redist_region_attr(1, 0x201000, 0, 0))

    assert gic.get_attr(ADDR, REGION, 0) == kvm.redist_region_attr(1, 0x200000, 0, 0)


def test_region_read_back_and_missing_index_is_enoent() -> None:
    _, gic = v3_vm()
    set_redist(gic, 0x100000, count=2, index=0)
    set_redist(gic, 0x200000, count=3, index=1)

    value = gic.get_attr(ADDR, REGION, 1)

    assert kvm.decode_redist_region(value) == kvm.RedistRegionAttr(3, 0x200000, 0, 1)
    fails(errno.ENOENT, gic.get_attr, ADDR, REGION, 2)
    assert gic.get_attr(ADDR, REDIST) == 0x100000


def test_region_index_zero_after_legacy_is_einval_but_index_one_passes() -> None:
    _, gic = v3_vm()
    gic.set_attr(ADDR, REDIST, 0x100000)

    fails(
        errno.EINVAL,
        gic.set_attr,
        ADDR,
        REGION,
        kvm.redist_region_attr(1, 0x400000, 0, 0),
    )
    gic.set_attr(ADDR, REGION, kvm.redist_region_attr(1, 0x400000, 0, 1))


def test_region_overlapping_the_distributor_is_einval_while_a_vcpu_lacks_a_frame() -> (
    None
):
    vm, gic = v3_vm(vcpus=1)
    gic.set_attr(ADDR, DIST, 0x8000000)

    fails(
        errno.EINVAL,
        gic.set_attr,
        ADDR,
        REGION,
        kvm.redist_region_attr(1, 0x8000000, 0, 0),
    )

    assert fails(errno.ENOENT, gic.get_attr, ADDR, REGION, 0).errno == errno.ENOENT
    assert vm.vcpus[0].state.rdreg is None


def test_region_overlapping_the_distributor_without_frameless_vcpus_fails_at_run() -> (
    None
):
    vm, gic = v3_vm(vcpus=1)
    set_redist(gic, 0x100000, count=1, index=0)
    gic.set_attr(ADDR, DIST, 0x8000000)

    set_redist(gic, 0x8000000, count=1, index=1)

    gic.set_attr(CTRL, INIT)
    fails(errno.EINVAL, vm.vcpus[0].run)


@pytest.mark.parametrize("era", OLD_ERAS)
def test_region_attribute_is_unknown_before_4_18(era: SemanticsName) -> None:
    _, gic = v3_vm(era)

    error = fails(
        errno.ENXIO, gic.set_attr, ADDR, REGION, kvm.redist_region_attr(1, 0x100000)
    )
    fails(errno.ENXIO, gic.has_attr, ADDR, REGION)
    fails(errno.ENXIO, gic.get_attr, ADDR, REGION)

    assert "v4.18" in str(error)


def test_mainline_has_attr_lists_the_address_attributes() -> None:
    _, v3 = v3_vm()
    _, v2 = v2_vm()

    for attr in (DIST, REDIST, REGION):
        v3.has_attr(ADDR, attr)
    for attr in (V2_DIST, V2_CPU):
        v2.has_attr(ADDR, attr)

    assert v3.check_attr(ADDR, V2_DIST) is False


@pytest.mark.parametrize(
    ("attr", "base"), [(DIST, 0xFFFF_FFFF_FFFF_0000), (REDIST, 0xFFFF_FFFF_FFFE_0000)]
)
def test_mainline_range_ending_at_2_to_the_64_wraps_and_is_einval(
    attr: int, base: int
) -> None:
    # Aligned, and the end is exactly 2**64: the wrap check comes before E2BIG.
    _, gic = v3_vm("mainline")

    error = fails(errno.EINVAL, gic.set_attr, ADDR, attr, base)

    assert "wraps around the address space" in str(error)
    assert gic.get_attr(ADDR, attr) == kvm.VGIC_ADDR_UNDEF


@pytest.mark.parametrize("era", OLD_ERAS)
def test_2016_kernels_see_a_wrapping_base_as_beyond_the_ipa(era: SemanticsName) -> None:
    _, gic = v3_vm(era)

    fails(errno.E2BIG, gic.set_attr, ADDR, DIST, 0xFFFF_FFFF_FFFF_0000)
