"""Tests written to kill the mutants that ``bench/mutation.py`` left alive.

Each test pins an observable answer the other tests reached but did not
check exactly: a boundary value, an errno together with its ``reason`` and
recorded call, or a register field that only some layouts set. The comment
above each names the kind of mutant it catches.
"""

from __future__ import annotations

import errno
import hashlib

import pytest

from tests.machine.kvm.helpers import ADDR, DIST, fails, set_redist, v3_vm
from virtmodel.machine import kvm
from virtmodel.machine.kvm.script import run_script
from virtmodel.machine.kvm.scriptgen import ScriptGenerator

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


# The CI seed's corpus (docs/kvm.md: seed 2016, 1,000 sequences, 29,551 calls,
# every answer the real kernel's on the lab). Pinning the scripts catches a
# generator change that would silently make the lab run test other sequences
# (weights, value tables, probabilities in scriptgen); pinning the answers
# catches any change in what the model answers to them. If a change is meant,
# rerun the realkvm differential test (docs/kvm.md) before updating these.
CI_SEED_SCRIPTS_SHA256 = (
    "c4813d89e93b623dd3451120e3b43e64bb5a29b0d16ade330d28759f635387e4"
)
CI_SEED_ANSWERS_SHA256 = (
    "f2453f87856e99e3ff6c59bbd56fdd1aca2387800110458b3c9373654a690f3f"
)


def test_the_ci_seed_corpus_and_its_answers_are_the_ones_the_real_kernel_checked() -> (
    None
):
    scripts = ScriptGenerator(2016).scripts(1000)
    answers = [str(result) for text in scripts for result in run_script(text)]

    assert len(answers) == 29_551
    assert _sha256(scripts) == CI_SEED_SCRIPTS_SHA256
    assert _sha256(answers) == CI_SEED_ANSWERS_SHA256


def _sha256(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
