"""Tests written to kill the mutants that ``bench/mutation.py`` left alive.

Each test pins an observable answer the other tests reached but did not
check exactly: a boundary value, an errno together with its ``reason`` and
recorded call, or a register field that only some layouts set. The comment
above each names the kind of mutant it catches.
"""

from __future__ import annotations

import errno

import pytest

from tests.machine.kvm.helpers import ADDR, DIST, fails, set_redist, v3_vm
from virtmodel.machine import kvm

REDIST_SIZE = kvm.KVM_VGIC_V3_REDIST_SIZE


# _wraps(): base + size == 2**64 exactly is a wrap, one frame lower is not
# (mutants: the 2**64 constant off by one, >= for >).
def test_legacy_redist_ending_exactly_at_2_to_the_64_wraps() -> None:
    _, gic = v3_vm("v6.1")
    base = (1 << 64) - REDIST_SIZE

    error = fails(
        errno.EINVAL, gic.set_attr, ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST, base
    )

    assert error.reason == (
        "[0xfffffffffffe0000, 0x10000000000000000) wraps around the address space"
    )
    assert error.call is not None
    assert error.call.errno == errno.EINVAL
    assert error.call.value == base
    assert error.call.attr == "VGIC_V3_ADDR_TYPE_REDIST"


def test_legacy_redist_just_below_the_wrap_is_beyond_the_ipa_instead() -> None:
    _, gic = v3_vm("v6.1")
    base = (1 << 64) - REDIST_SIZE - 0x10000

    error = fails(
        errno.E2BIG, gic.set_attr, ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST, base
    )

    assert error.reason == (
        "[0xfffffffffffd0000, 0xffffffffffff0000) is beyond the 40-bit IPA space"
    )


# add_redist_region(): the legacy region is checked against a distributor
# that is already placed (mutant: `!= VGIC_ADDR_UNDEF` turned into `==`).
def test_legacy_redist_over_a_placed_distributor_is_einval_at_set_time() -> None:
    _, gic = v3_vm("v6.1")
    gic.set_attr(ADDR, DIST, 0x8000000)

    error = fails(errno.EINVAL, set_redist, gic, 0x8000000)

    assert error.reason == "[0x08000000, 0x08020000) overlaps the distributor"
    assert gic.get_attr(ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST) == kvm.VGIC_ADDR_UNDEF


@pytest.mark.parametrize("era", ["v4.8", "v4.8-rc1"])
def test_old_eras_take_the_same_overlap_and_refuse_it_only_later(era: str) -> None:
    _, gic = v3_vm(era)
    gic.set_attr(ADDR, DIST, 0x8000000)

    set_redist(gic, 0x8000000)  # these trees check the layout at INIT

    assert gic.get_attr(ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST) == 0x8000000
