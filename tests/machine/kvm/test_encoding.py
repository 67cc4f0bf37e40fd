from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from virtmodel.machine import kvm


def test_redist_region_attr_packs_count_base_flags_and_index() -> None:
    value = kvm.redist_region_attr(count=2, base=0x80A0000, flags=0, index=1)

    assert value == (2 << 52) | 0x80A0000 | 1


@given(
    count=st.integers(0, 0xFFF),
    base=st.integers(0, (1 << 36) - 1).map(lambda b: b << 16),
    flags=st.integers(0, 0xF),
    index=st.integers(0, 0xFFF),
)
def test_redist_region_attr_round_trips(
    count: int, base: int, flags: int, index: int
) -> None:
    value = kvm.redist_region_attr(count, base, flags, index)

    assert kvm.decode_redist_region(value) == kvm.RedistRegionAttr(
        count, base, flags, index
    )


def test_redist_region_base_below_64k_is_dropped_by_the_abi() -> None:
    assert (
        kvm.decode_redist_region(kvm.redist_region_attr(1, 0x201000)).base == 0x200000
    )


@pytest.mark.parametrize(
    ("args", "culprit"),
    [
        ((0x1000, 0), "count 4096"),
        ((1, 0, 16), "flags 16"),
        ((1, 0, 0, 0x1000), "index 4096"),
        ((1, 1 << 52), "base 0x10000000000000 does not fit in 52 bits"),
        ((1, -0x10000), "base -0x10000 does not fit"),
    ],
)
def test_redist_region_attr_rejects_fields_that_do_not_fit(
    args: tuple[int, ...], culprit: str
) -> None:
    with pytest.raises(ValueError, match=culprit):
        kvm.redist_region_attr(*args)


def test_reset_mpidr_spreads_the_vcpu_id_over_three_affinity_levels() -> None:
    assert kvm.reset_mpidr(0x1234) == 0x80000000 | (0x01 << 16) | (0x23 << 8) | 0x4


def test_register_attrs_put_the_target_above_the_offset() -> None:
    assert kvm.v2_reg_attr(3, 0xFC) == (3 << 32) | 0xFC
    assert kvm.v3_reg_attr(0x80000102, 8) == (0x102 << 32) | 8
    assert kvm.v3_reg_attr(0xAB_0000_0000, 8) == (0xAB00_0000 << 32) | 8
