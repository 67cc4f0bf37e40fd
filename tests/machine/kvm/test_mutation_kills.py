"""Tests written to kill the mutants that ``bench/mutation.py`` left alive.

Each test pins an observable answer the other tests reached but did not
check exactly: a boundary value, an errno together with its ``reason`` and
recorded call, or a register field that only some layouts set. The comment
above each names the kind of mutant it catches.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
from collections.abc import Sequence

import pytest

from tests.machine.kvm.helpers import (
    ADDR,
    CTRL,
    DIST,
    NR_IRQS,
    configured_v3,
    fails,
    set_redist,
    v2_vm,
    v3_vm,
)
from virtmodel.machine import kvm
from virtmodel.machine.kvm import differential, uapi
from virtmodel.machine.kvm import gicv3_sysregs as sysregs
from virtmodel.machine.kvm.eras import SemanticsName
from virtmodel.machine.kvm.host.guest import choose_window
from virtmodel.machine.kvm.routing import Route
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
def test_old_eras_take_the_same_overlap_and_refuse_it_only_later(
    era: SemanticsName,
) -> None:
    _, gic = v3_vm(era)
    gic.set_attr(ADDR, DIST, 0x8000000)

    set_redist(gic, 0x8000000)  # these trees check the layout at INIT

    assert gic.get_attr(ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST) == 0x8000000


# The CI seed's corpus (docs/kvm.md: seed 2016, 1,000 sequences, 29,445 calls,
# every answer the real kernel's on the lab). Pinning the scripts catches a
# generator change that would silently make the lab run test other sequences
# (weights, value tables, probabilities in scriptgen); pinning the answers
# catches any change in what the model answers to them. If a change is meant,
# rerun the realkvm differential test (docs/kvm.md) before updating these.
CI_SEED_SCRIPTS_SHA256 = (
    "a694dcf0169f4abc83f0d1ced83bf4731f5ac9c7b4414792e61095a4e9bc3d94"
)
CI_SEED_ANSWERS_SHA256 = (
    "7f435427176a74c2ea5f4fd55b2be9520e0b3fc332f5099ab3ce9a9ad0190428"
)


def test_the_ci_seed_corpus_and_its_answers_are_the_ones_the_real_kernel_checked() -> (
    None
):
    scripts = ScriptGenerator(2016).scripts(1000)
    answers = [str(result) for text in scripts for result in run_script(text)]

    assert len(answers) == 29_445
    assert _sha256(scripts) == CI_SEED_SCRIPTS_SHA256
    assert _sha256(answers) == CI_SEED_ANSWERS_SHA256


def _sha256(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


# GICv2 distributor registers through one vCPU (registers._v2_access):
# GICD_CTLR keeps only the enable bit, GICD_TYPER counts lines and CPUs and
# ignores writes, and the vCPU id in the attribute is checked exactly.
V2_DIST_REGS = kvm.KVM_DEV_ARM_VGIC_GRP_DIST_REGS
DIST_REGS = kvm.KVM_DEV_ARM_VGIC_GRP_DIST_REGS
ITS_REGS = kvm.KVM_DEV_ARM_VGIC_GRP_ITS_REGS
V2_CPU_REGS = kvm.KVM_DEV_ARM_VGIC_GRP_CPU_REGS


def test_gicv2_gicd_ctlr_keeps_only_the_enable_bit() -> None:
    _, gic = v2_vm(vcpus=1)
    ctlr = kvm.v2_reg_attr(0, kvm.GICD_CTLR)

    assert gic.get_attr(V2_DIST_REGS, ctlr) == 0
    gic.set_attr(V2_DIST_REGS, ctlr, 1)
    assert gic.get_attr(V2_DIST_REGS, ctlr) == 1
    gic.set_attr(V2_DIST_REGS, ctlr, 2)  # bit 1 is not the enable bit
    assert gic.get_attr(V2_DIST_REGS, ctlr) == 0


def test_gicv2_gicd_typer_counts_lines_and_cpus_and_ignores_writes() -> None:
    _, gic = v2_vm(vcpus=3)
    gic.set_attr(NR_IRQS, 0, 128)

    # ITLinesNumber (128 / 32) - 1 = 3, CPUNumber 3 - 1 = 2 in bits [7:5].
    assert gic.get_attr(V2_DIST_REGS, kvm.v2_reg_attr(0, kvm.GICD_TYPER)) == 0x43
    gic.set_attr(V2_DIST_REGS, kvm.v2_reg_attr(0, kvm.GICD_TYPER), 0)
    assert gic.get_attr(V2_DIST_REGS, kvm.v2_reg_attr(2, kvm.GICD_TYPER)) == 0x43


def test_gicv2_register_vcpu_id_is_checked_at_the_last_vcpu_and_one_past() -> None:
    _, gic = v2_vm(vcpus=3)

    assert gic.get_attr(V2_CPU_REGS, kvm.v2_reg_attr(2, kvm.GICC_CTLR)) == 0
    error = fails(
        errno.EINVAL, gic.get_attr, V2_CPU_REGS, kvm.v2_reg_attr(3, kvm.GICC_CTLR)
    )
    assert error.reason == "no vcpu with id 3"


def test_gicv2_cpu_interface_registers_are_per_cpu_and_only_gicc_ctlr_exists() -> None:
    _, gic = v2_vm(vcpus=3)

    gic.set_attr(V2_CPU_REGS, kvm.v2_reg_attr(2, kvm.GICC_CTLR), 0x3)

    assert [
        gic.get_attr(V2_CPU_REGS, kvm.v2_reg_attr(i, kvm.GICC_CTLR)) for i in range(3)
    ] == [0, 0, 0x3]
    error = fails(errno.ENXIO, gic.get_attr, V2_CPU_REGS, kvm.v2_reg_attr(0, 0x4))
    assert error.reason == "register at offset 0x00000004 is not modelled"


# The ITS's GITS_BASER<n>: 0 is the device table, 1 the collection table,
# 2..7 read as zero (mutant: the `& 7` index mask).
def test_its_baser_registers_are_device_collection_then_zero() -> None:
    vm, _ = configured_v3("v6.1")
    its = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    its.set_attr(ADDR, kvm.KVM_VGIC_ITS_ADDR_TYPE, 0x8080000)
    regs = kvm.KVM_DEV_ARM_VGIC_GRP_ITS_REGS

    values = [its.get_attr(regs, offset) for offset in range(0x100, 0x140, 8)]

    assert values == [0x1907000000000600, 0x1C07000000000600] + [0] * 6
    fails(errno.ENXIO, its.has_attr, regs, 0x140)


# vCPU timer attributes: exactly VTIMER (0) and PTIMER (1) exist.
def test_vcpu_timer_attributes_are_the_two_timers_and_nothing_else() -> None:
    vm = kvm.create_vm(semantics="v6.1")
    vcpu = vm.create_vcpu(0)
    timer = uapi.KVM_ARM_VCPU_TIMER_CTRL

    vcpu.has_attr(timer, 0)
    vcpu.has_attr(timer, 1)
    error = fails(errno.ENXIO, vcpu.has_attr, timer, 2)
    assert error.reason == "no vcpu attribute 2 in group 1"


# differential.shrink(): when every single cut keeps the disagreement but the
# cuts together lose it, the first single cut is kept (mutant: cuts[1]).
def _fake_real(scripts: Sequence[str]) -> list[differential.Answers]:
    """A "kernel" refusing vCPU 0 whenever vCPU 1 or vCPU 2 is also created."""
    out: list[differential.Answers] = []
    for text in scripts:
        calls = text.splitlines()
        differs = "create_vcpu 1" in calls or "create_vcpu 2" in calls
        out.append(
            [
                (n, -1, errno.EINVAL, None)
                if differs and calls[n - 1] == "create_vcpu 0"
                else (n, r, e, v)
                for n, r, e, v in differential.simulate(text)
            ]
        )
    return out


def test_shrink_keeps_the_first_single_cut_when_the_combined_cut_loses_it() -> None:
    script = "create_vm 0\ncreate_vcpu 0\ncreate_vcpu 1\ncreate_vcpu 2\nend\n"

    found = differential.shrink(script, _fake_real)

    assert found is not None
    assert found.script == "create_vm 0\ncreate_vcpu 0\ncreate_vcpu 2\nend\n"
    assert (found.line, found.call) == (2, "create_vcpu 0")
    assert found.real == (-1, errno.EINVAL, None)
    assert found.simulated[1:] == (0, None)


def test_shrink_with_zero_rounds_returns_the_first_mismatch_unshrunk() -> None:
    script = "create_vm 0\ncreate_vcpu 0\ncreate_vcpu 1\ncreate_vcpu 2\nend\n"

    found = differential.shrink(script, _fake_real, rounds=0)

    assert found is not None
    assert found.script == script


def test_shrink_of_an_agreeing_script_is_none() -> None:
    assert differential.shrink("create_vm 0\ncreate_vcpu 0\nend\n", _fake_real) is None


# GICD_IS/ICENABLER and GICD_IS/ICACTIVER of SPIs 32..63: the set and clear
# views of one bit array, at their exact offsets (mutants: region bases).
@pytest.mark.parametrize(("setter", "clearer"), [(0x104, 0x184), (0x304, 0x384)])
def test_spi_set_and_clear_registers_are_two_views_of_one_bit_array(
    setter: int, clearer: int
) -> None:
    _, gic = configured_v3("v6.1", 2)
    regs = kvm.KVM_DEV_ARM_VGIC_GRP_DIST_REGS

    gic.set_attr(regs, setter, 0b1011)
    assert (gic.get_attr(regs, setter), gic.get_attr(regs, clearer)) == (0xB, 0xB)
    gic.set_attr(regs, clearer, 0b0010)
    assert (gic.get_attr(regs, setter), gic.get_attr(regs, clearer)) == (0x9, 0x9)
    # SGIs and PPIs (word 0) read as zero here; SPIs 64.. are another word.
    assert (gic.get_attr(regs, setter - 4), gic.get_attr(regs, setter + 4)) == (0, 0)


# KvmIts._get: ITS registers are readable from v4.12 on only, and no other
# group is readable (mutant: `and` for `or` in the group check).
@pytest.mark.parametrize(
    ("era", "group", "reason"),
    [
        ("v6.1", CTRL, "GRP_CTRL is not an ITS group in kernel v6.1"),
        ("v6.1", DIST_REGS, "GRP_DIST_REGS is not an ITS group in kernel v6.1"),
        ("v4.8", ITS_REGS, "GRP_ITS_REGS is not an ITS group in kernel v4.8"),
        ("v4.8", CTRL, "GRP_CTRL is not an ITS group in kernel v4.8"),
    ],
)
def test_its_get_attr_of_a_group_it_does_not_have_is_enxio(
    era: SemanticsName, group: int, reason: str
) -> None:
    vm, _ = configured_v3(era)
    its = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    its.set_attr(ADDR, kvm.KVM_VGIC_ITS_ADDR_TYPE, 0x8080000)

    assert fails(errno.ENXIO, its.get_attr, group, 0).reason == reason


def test_its_get_attr_of_its_registers_on_6_1_reads_gits_ctlr() -> None:
    vm, _ = configured_v3("v6.1")
    its = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    its.set_attr(ADDR, kvm.KVM_VGIC_ITS_ADDR_TYPE, 0x8080000)

    assert its.get_attr(ITS_REGS, 0) == 0x80000000


# GICR_TYPER: Aff3 is not in it (only Aff2.Aff1.Aff0), yet the attribute must
# name the full MPIDR; Processor_Number is the vCPU id; Last is set on the
# last used frame of a region that has frames to spare.
REDIST_REGS = kvm.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS


def test_gicr_typer_leaves_aff3_out_but_lookup_needs_it() -> None:
    vm, gic = v3_vm("v6.1", 1)
    vm.vcpus[0].mpidr = 0x80000000 | 0x5 << 32 | 0x030201
    gic.set_attr(ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST, 0x80A0000)
    gic.set_attr(CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT)
    mpidr = vm.vcpus[0].mpidr

    low = gic.get_attr(REDIST_REGS, kvm.v3_reg_attr(mpidr, kvm.GICR_TYPER))
    high = gic.get_attr(REDIST_REGS, kvm.v3_reg_attr(mpidr, kvm.GICR_TYPER_HI))

    assert (low, high) == (0x10, 0x030201)  # Last; Aff2.Aff1.Aff0 = 3.2.1
    error = fails(
        errno.EINVAL,
        gic.get_attr,
        REDIST_REGS,
        kvm.v3_reg_attr(0x030201, kvm.GICR_TYPER),
    )
    assert error.reason == "no vcpu with mpidr 0x00030201"


def test_gicr_typer_of_vcpu_300_alone_in_a_four_frame_region() -> None:
    vm = kvm.create_vm(semantics="v6.1")
    vm.create_vcpu(300)
    gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
    set_redist(gic, 0x100000, count=4, index=0)
    gic.set_attr(CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT)
    mpidr = vm.vcpus[0].mpidr

    assert mpidr == 0x8000120C  # Aff1 = 300 // 16, Aff0 = 300 % 16
    low = gic.get_attr(REDIST_REGS, kvm.v3_reg_attr(mpidr, kvm.GICR_TYPER))
    high = gic.get_attr(REDIST_REGS, kvm.v3_reg_attr(mpidr, kvm.GICR_TYPER_HI))
    assert (low, high) == (0x12C10, 0x120C)  # Processor_Number 300, Last


# Stolen time: KVM_ARM_VCPU_PVTIME_IPA exists only when the host has it, and
# is the only attribute of its group (mutant: `or` for `and`).
@pytest.mark.parametrize(
    ("pvtime", "attr", "reason"),
    [
        (True, 1, "no vcpu attribute 1 in group 2"),
        (False, 0, "no vcpu attribute 0 in group 2"),
        (False, 1, "no vcpu attribute 1 in group 2"),
    ],
)
def test_pvtime_attribute_needs_the_host_feature_and_the_right_id(
    pvtime: bool, attr: int, reason: str
) -> None:
    vm = kvm.create_vm(
        semantics="v6.1", host=dataclasses.replace(kvm.LAB_HOST, pvtime=pvtime)
    )
    vcpu = vm.create_vcpu(0)

    error = fails(errno.ENXIO, vcpu.has_attr, uapi.KVM_ARM_VCPU_PVTIME_CTRL, attr)
    assert error.reason == reason


def test_pvtime_ipa_exists_on_a_host_with_stolen_time() -> None:
    vm = kvm.create_vm(semantics="v6.1", host=kvm.LAB_HOST)
    vcpu = vm.create_vcpu(0)

    vcpu.has_attr(uapi.KVM_ARM_VCPU_PVTIME_CTRL, uapi.KVM_ARM_VCPU_PVTIME_IPA)
    assert kvm.LAB_HOST.pvtime


# GICR_PROPBASER / GICR_PENDBASER as userspace writes them, 32 bits at a time:
# RES0 fields read as zero, outer shareable becomes inner shareable,
# non-cacheable inner becomes read-allocate write-back, outer cacheability
# other than 0/1 is dropped (mutants: the RES0 masks, the sanitiser's cases).
def _redist_reg64(gic: kvm.KvmDevice, mpidr: int, offset: int, value: int) -> int:
    for half in (0, 4):
        attr = kvm.v3_reg_attr(mpidr, offset + half)
        gic.set_attr(REDIST_REGS, attr, value >> (8 * half) & 0xFFFFFFFF)
    return sum(
        gic.get_attr(REDIST_REGS, kvm.v3_reg_attr(mpidr, offset + half)) << (8 * half)
        for half in (0, 4)
    )


@pytest.mark.parametrize(
    ("offset", "written", "read"),
    [
        (0x70, 0xFFFFFFFFFFFFFFFF, 0x000FFFFFFFFFFF9F),  # PROPBASER
        (0x70, 0, 0x180),
        (0x70, 2 << 10 | 1 << 7 | 2 << 56 | 0x1000, 0x1580),
        (0x78, 0xFFFFFFFFFFFFFFFF, 0x000FFFFFFFFF0F80),  # PENDBASER
        (0x78, 0, 0x180),
        (0x78, 2 << 10 | 1 << 7 | 2 << 56 | 0x1000, 0x580),
    ],
)
def test_propbaser_and_pendbaser_are_sanitised_like_the_kernel(
    offset: int, written: int, read: int
) -> None:
    vm, gic = configured_v3("v6.1", 1)

    assert _redist_reg64(gic, vm.vcpus[0].mpidr, offset, written) == read


# The GIC CPU interface system registers: their architectural encodings
# (op0 << 14 | op1 << 11 | CRn << 7 | CRm << 3 | op2).
def test_icc_sysreg_encodings() -> None:
    assert {
        "PMR": sysregs.ICC_PMR_EL1,
        "BPR0": sysregs.ICC_BPR0_EL1,
        "BPR1": sysregs.ICC_BPR1_EL1,
        "CTLR": sysregs.ICC_CTLR_EL1,
        "SRE": sysregs.ICC_SRE_EL1,
        "IGRPEN0": sysregs.ICC_IGRPEN0_EL1,
        "IGRPEN1": sysregs.ICC_IGRPEN1_EL1,
    } == {
        "PMR": 0xC230,
        "BPR0": 0xC643,
        "BPR1": 0xC663,
        "CTLR": 0xC664,
        "SRE": 0xC665,
        "IGRPEN0": 0xC666,
        "IGRPEN1": 0xC667,
    }
    assert sysregs.ICC_AP0R_EL1 == (0xC644, 0xC645, 0xC646, 0xC647)
    assert sysregs.ICC_AP1R_EL1 == (0xC648, 0xC649, 0xC64A, 0xC64B)


# KVM_CREATE_DEVICE's type is a u32: the largest is a kernel answer (ENODEV),
# one more is a programming error (mutant: the bit width).
def test_create_device_type_is_checked_as_a_u32_at_the_boundary() -> None:
    vm = kvm.create_vm()

    error = fails(errno.ENODEV, vm.create_device, (1 << 32) - 1)
    assert error.reason == "device type 4294967295 is not available on this host"
    with pytest.raises(ValueError, match=r"^type 4294967296 is not a 32-bit unsigned"):
        vm.create_device(1 << 32)


# ICC_CTLR_EL1 writes: SEIS (bit 14) and A3V (bit 15) must match the host's
# (the lab host: SEIS 0, A3V 1); CBPR and EOImode are kept.
@pytest.mark.parametrize("value", [0x0C00, 0xCC00])
def test_icc_ctlr_write_must_keep_the_hosts_seis_and_a3v(value: int) -> None:
    _, gic = v3_vm("v6.1")
    gic.set_attr(CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT)
    group = kvm.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS

    error = fails(errno.EINVAL, gic.set_attr, group, sysregs.ICC_CTLR_EL1, value)
    assert error.reason == "SEIS and A3V must match the host's"
    for kept in (0x8C03, 0x8C02, 0x8C01, 0x8C00):  # EOImode, CBPR
        gic.set_attr(group, sysregs.ICC_CTLR_EL1, kept)
        assert gic.get_attr(group, sysregs.ICC_CTLR_EL1) == kept


# GITS_BASER<n>'s Type (bits 58:56) and Entry_Size (52:48) are read-only: a
# write of all ones keeps type 1 (devices) / 4 (collections) and 8-byte
# entries (mutant: the read-only mask's Type field).
def test_its_baser_type_and_entry_size_ignore_what_is_written() -> None:
    vm, _ = configured_v3("v6.1")
    its = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    its.set_attr(ADDR, kvm.KVM_VGIC_ITS_ADDR_TYPE, 0x8080000)
    regs = kvm.KVM_DEV_ARM_VGIC_GRP_ITS_REGS
    read = []

    for offset in (0x100, 0x108):
        its.set_attr(regs, offset, (1 << 64) - 1)
        read.append(its.get_attr(regs, offset))

    assert [(value >> 56 & 7, value >> 48 & 0x1F) for value in read] == [(1, 7), (4, 7)]
    assert read == [0xF907FFFFFFFFFEFF, 0xBC07FFFFFFFFFEFF]


# GICD_IPRIORITYR: the first 32 bytes (SGIs and PPIs) are the redistributors'
# and read as zero from the distributor; SPI 32's byte is the first real one
# (mutant: the size of the private part).
def test_distributor_private_priorities_are_raz_wi_and_spis_start_at_0x420() -> None:
    _, gic = v3_vm("v6.1")
    gic.set_attr(NR_IRQS, 0, 64)
    gic.set_attr(CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT)
    dist = kvm.KVM_DEV_ARM_VGIC_GRP_DIST_REGS

    for offset in (0x41C, 0x420):
        gic.set_attr(dist, offset, 0xFFFFFFFF)

    assert gic.get_attr(dist, 0x41C) == 0
    assert gic.get_attr(dist, 0x420) == 0xF8F8F8F8  # 5 priority bits


# GICR_STATUSR (0x10) is missed by the kernel's binary search; 0x14 is RAZ and
# 0x18 is no register at all (mutant: the RAZ word's length).
def test_redistributor_word_after_0x14_is_not_a_register() -> None:
    vm, gic = v3_vm("v6.1")
    redist = kvm.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS
    mpidr = vm.vcpus[0].mpidr

    gic.has_attr(redist, kvm.v3_reg_attr(mpidr, 0x14))
    for offset in (0x10, 0x18):
        fails(errno.ENXIO, gic.has_attr, redist, kvm.v3_reg_attr(mpidr, offset))


# LEVEL_INFO's info field is bits 31:10; only 0 (line level) exists, so info
# 4 (bit 12) is refused like info 1 (mutant: the mask shifted the wrong way).
@pytest.mark.parametrize("info_bit", [10, 12, 31])
def test_level_info_refuses_every_nonzero_info_field(info_bit: int) -> None:
    _, gic = v3_vm("v6.1")
    gic.set_attr(CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT)
    level = kvm.KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO

    error = fails(errno.EINVAL, gic.get_attr, level, 1 << info_bit | 32)

    assert error.reason == "unknown LEVEL_INFO info field"


# An ITS names its register group kvm.its.regs and a group it does not have by
# number (mutant: the ITS_REGS test negated).
def test_its_register_and_unknown_group_calls_name_their_resources() -> None:
    vm, _ = configured_v3("v6.1")
    its = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)

    its.check_attr(kvm.KVM_DEV_ARM_VGIC_GRP_ITS_REGS, 0)
    its.check_attr(kvm.KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0)

    assert [call.resource for call in vm.calls[-2:]] == [
        "kvm.its.regs",
        f"kvm.its.group{kvm.KVM_DEV_ARM_VGIC_GRP_NR_IRQS}",
    ]
    assert vm.calls[-2].resource in kvm.RESOURCES
    assert vm.calls[-1].resource not in kvm.RESOURCES
    assert [call.attr for call in vm.calls[-2:]] == ["0x0000", "0"]


# A device attribute's value is a u64 unless the device says otherwise: 2**64
# is a programming error (mutant: the default width).
def test_its_register_values_are_checked_as_u64() -> None:
    vm, _ = configured_v3("v6.1")
    its = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    regs = kvm.KVM_DEV_ARM_VGIC_GRP_ITS_REGS

    with pytest.raises(
        ValueError, match=r"^value for GRP_ITS_REGS 18446744073709551616 "
    ):
        its.set_attr(regs, 0x80, 1 << 64)
    assert its.value_bytes(regs) == 8


# Every vCPU attribute is named in the record by its UAPI name (mutant: a key
# of the name table).
def test_vcpu_attribute_calls_carry_their_uapi_names() -> None:
    vm = kvm.create_vm(semantics="v6.1")
    vcpu = vm.create_vcpu(0)
    names = {
        (0, 0): "PMU_V3_IRQ",
        (0, 1): "PMU_V3_INIT",
        (0, 2): "PMU_V3_FILTER",
        (0, 3): "PMU_V3_SET_PMU",
        (1, 0): "TIMER_IRQ_VTIMER",
        (1, 1): "TIMER_IRQ_PTIMER",
        (2, 0): "PVTIME_IPA",
    }

    for group, attr in names:
        with contextlib.suppress(kvm.KvmError):  # the record names it either way
            vcpu.has_attr(group, attr)

    assert [(c.group, c.attr) for c in vm.calls[1:]] == [
        (("PMU_V3_CTRL", "TIMER_CTRL", "PVTIME_CTRL")[g], name)
        for (g, _), name in names.items()
    ]


# A real side that answers fewer scripts than it was given is a broken
# runner, not fewer candidates (mutant: zip's strict=).
def test_shrink_refuses_a_runner_that_drops_answers() -> None:
    script = "create_vm 0\ncreate_vcpu 0\ncreate_vcpu 1\ncreate_vcpu 2\nend\n"

    def dropping(scripts: Sequence[str]) -> list[differential.Answers]:
        return _fake_real(scripts)[:-1] if len(scripts) > 1 else _fake_real(scripts)

    with pytest.raises(ValueError, match="zip"):
        differential.shrink(script, dropping)


# vCPU attribute values are u32 except PMU_V3_FILTER's struct and PVTIME_IPA
# (mutant: `and` for `or` in the width rule).
@pytest.mark.parametrize(
    ("group", "attr", "nbytes"),
    [
        (uapi.KVM_ARM_VCPU_PMU_V3_CTRL, uapi.KVM_ARM_VCPU_PMU_V3_IRQ, 4),
        (uapi.KVM_ARM_VCPU_PMU_V3_CTRL, uapi.KVM_ARM_VCPU_PMU_V3_FILTER, 8),
        (uapi.KVM_ARM_VCPU_TIMER_CTRL, 2, 4),
        (uapi.KVM_ARM_VCPU_PVTIME_CTRL, uapi.KVM_ARM_VCPU_PVTIME_IPA, 8),
    ],
)
def test_vcpu_attribute_values_are_checked_at_their_width(
    group: int, attr: int, nbytes: int
) -> None:
    vcpu = kvm.create_vm(semantics="v6.1").create_vcpu(0)

    with pytest.raises(ValueError, match=f"is not a {8 * nbytes}-bit unsigned"):
        vcpu.set_attr(group, attr, 1 << 8 * nbytes)


# GITS_BASER: outer shareable (2 in bits 11:10) is stored as inner shareable
# (mutant: the field's shift); page size always reads 64 KiB.
def test_its_baser_outer_shareable_becomes_inner_shareable() -> None:
    vm, _ = configured_v3("v6.1")
    its = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    its.set_attr(ADDR, kvm.KVM_VGIC_ITS_ADDR_TYPE, 0x8080000)
    regs = kvm.KVM_DEV_ARM_VGIC_GRP_ITS_REGS

    its.set_attr(regs, 0x100, 2 << 10)

    assert its.get_attr(regs, 0x100) == 0x1907000000000600


# The SGI frame's GICR_IPRIORITYR0 is at 0x10400 (mutant: its offset).
def test_redistributor_sgi_priorities_start_at_0x10400() -> None:
    vm, gic = configured_v3("v6.1")
    redist = kvm.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS
    attr = kvm.v3_reg_attr(vm.vcpus[0].mpidr, 0x10400)

    gic.set_attr(redist, attr, 0xFFFFFFFF)

    assert gic.get_attr(redist, attr) == 0xF8F8F8F8


# A KVM_RUN loads the CPU interface: binary points below the minimum read back
# raised, group 0 to 7 - preemption bits, group 1 to one more (mutant: + 1).
def test_first_run_raises_both_binary_points_to_their_minimum() -> None:
    vm, gic = configured_v3("v6.1")
    group = kvm.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS
    target = kvm.v3_reg_attr(vm.vcpus[0].mpidr, 0) & ~0xFFFF
    bpr = [target | sysregs.ICC_BPR0_EL1, target | sysregs.ICC_BPR1_EL1]
    for attr in bpr:
        gic.set_attr(group, attr, 0)

    vm.vcpus[0].run()

    assert [gic.get_attr(group, attr) for attr in bpr] == [2, 3]


# A route names irqchip 0 unless told otherwise (mutant: Route.chip's default).
def test_a_route_defaults_to_irqchip_0() -> None:
    vm = kvm.create_vm(semantics="v6.1")

    vm.set_gsi_routing([Route(5, pin=3)])

    assert vm.calls[-1].attr == "1 entries: gsi 5 irqchip 0 pin 3"
    assert vm.routes[0].chip == 0


# The host backend's guest needs two pages: a claim starting right after them
# does not move it (mutant: three pages checked).
def test_guest_window_may_end_where_a_claimed_range_starts() -> None:
    top = choose_window(1 << 32, 0x1000, [])

    beside = choose_window(1 << 32, 0x1000, [(top.code + 0x2000, top.code + 0x3000)])

    assert beside == top
    assert top.code == (1 << 32) - 0x10000


# Reading a vGIC's control group is refused with its own reason (mutant: the
# GRP_CTRL test negated, which falls through to "unknown group").
def test_vgic_control_attributes_cannot_be_read() -> None:
    _, gic = v3_vm("v6.1")

    error = fails(errno.ENXIO, gic.get_attr, CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT)

    assert error.reason == "control attributes cannot be read"


# Register attrs are named by register and target: an MPIDR on a GICv3, a
# vCPU index on a GICv2 (mutants: the v3 test negated, the offset mask).
def test_register_attrs_are_named_with_their_target() -> None:
    vm, gic = v3_vm("v6.1")
    vm2, gic2 = v2_vm("v6.1", vcpus=2)

    gic.has_attr(kvm.KVM_DEV_ARM_VGIC_GRP_DIST_REGS, kvm.GICD_CTLR)
    with contextlib.suppress(kvm.KvmError):  # named whether or not it exists
        gic.has_attr(
            kvm.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, kvm.v3_reg_attr(0x100, kvm.GICR_TYPER)
        )
    with contextlib.suppress(kvm.KvmError):
        gic2.has_attr(
            kvm.KVM_DEV_ARM_VGIC_GRP_CPU_REGS, kvm.v2_reg_attr(1, kvm.GICC_CTLR)
        )

    assert [c.attr for c in vm.calls[-2:]] == [
        "GICD_CTLR(mpidr=0x00000000)",
        "GICR_TYPER(mpidr=0x00000100)",
    ]
    assert vm2.calls[-1].attr == "GICC_CTLR(vcpu=1)"


# A timer interrupt is a C int: 0xffffffff is -1, not 4294967295 (mutant:
# the sign conversion).
def test_timer_interrupt_is_read_as_a_signed_int() -> None:
    vm, _ = v3_vm("v6.1")
    timer = uapi.KVM_ARM_VCPU_TIMER_CTRL

    error = fails(errno.EINVAL, vm.vcpus[0].set_attr, timer, 0, 0xFFFFFFFF)

    assert error.reason == "timer interrupt -1 is not a PPI"


# Guest memory may end exactly at the IPA limit (mutant: >= for >).
def test_guest_memory_may_end_at_the_ipa_limit() -> None:
    vm = kvm.create_vm(40, semantics="v6.1")

    vm.set_user_memory_region(0, (1 << 40) - 0x1000, 0x1000)

    assert vm.in_memslot((1 << 40) - 1)
    beyond = kvm.create_vm(40, semantics="v6.1")
    with pytest.raises(kvm.KvmError):  # one page past the end
        beyond.set_user_memory_region(0, (1 << 40) - 0x1000, 0x2000)


# Device types are named in refusals (mutant: a key of the name table).
def test_unavailable_device_types_are_refused_by_name() -> None:
    vm = kvm.create_vm(semantics="v6.1")

    reasons = [
        fails(errno.ENODEV, vm.create_device, type_id).reason
        for type_id in sorted(kvm.DEVICE_TYPE_NAMES)
        if type_id not in (4, 5, 7, 8)  # VFIO and the GIC types exist here
    ]

    assert reasons == [
        f"{kvm.DEVICE_TYPE_NAMES[t]} is not available on this host"
        for t in sorted(kvm.DEVICE_TYPE_NAMES)
        if t not in (4, 5, 7, 8)
    ]
    assert kvm.DEVICE_TYPE_NAMES[11] == "KVM_DEV_TYPE_RISCV_AIA"


# A vCPU set_attr without a value passes a pointer to 0 (mutant: the default
# value): as a timer interrupt, 0 is an SGI and refused by that number.
def test_vcpu_set_attr_without_a_value_passes_zero() -> None:
    vm, _ = v3_vm("v6.1")
    timer = uapi.KVM_ARM_VCPU_TIMER_CTRL

    error = fails(errno.EINVAL, vm.vcpus[0].set_attr, timer, 0)

    assert error.reason == "timer interrupt 0 is not a PPI"
    assert vm.calls[-1].value == 0


# GICR_TYPER.Last is set on the last vCPU of a region, not on every vCPU of
# one (mutant: `or` for `and`).
def test_only_the_last_vcpu_of_a_region_has_gicr_typer_last() -> None:
    vm, gic = v3_vm("v6.1", vcpus=2)
    gic.set_attr(ADDR, DIST, 0x8000000)
    region = kvm.redist_region_attr(2, 0x80A0000, 0, 0)
    gic.set_attr(ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION, region)
    gic.set_attr(CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT)
    redist = kvm.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS

    typers = [
        gic.get_attr(redist, kvm.v3_reg_attr(vcpu.mpidr, kvm.GICR_TYPER))
        for vcpu in vm.vcpus
    ]

    assert [typer & kvm.GICR_TYPER_LAST for typer in typers] == [0, kvm.GICR_TYPER_LAST]


# ICC_AP0R<n> and ICC_AP1R<n> are separate registers (mutant: the group test).
def test_group_0_and_group_1_active_priorities_are_separate() -> None:
    vm, gic = configured_v3("v6.1")
    group = kvm.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS
    target = kvm.v3_reg_attr(vm.vcpus[0].mpidr, 0) & ~0xFFFF
    ap0, ap1 = target | sysregs.ICC_AP0R_EL1[0], target | sysregs.ICC_AP1R_EL1[0]

    gic.set_attr(group, ap0, 0x11)
    gic.set_attr(group, ap1, 0x22)

    assert (gic.get_attr(group, ap0), gic.get_attr(group, ap1)) == (0x11, 0x22)


# GICD_ITARGETSR<n> (0x800) is RAZ/WI on a GICv3 from its first word (mutant:
# the region's offset).
def test_gicv3_distributor_targets_read_as_zero_from_0x800() -> None:
    _, gic = configured_v3("v6.1")
    dist = kvm.KVM_DEV_ARM_VGIC_GRP_DIST_REGS

    gic.set_attr(dist, 0x800, 0xFFFFFFFF)

    assert (gic.get_attr(dist, 0x800), gic.get_attr(dist, 0x820)) == (0, 0)
    gic.has_attr(dist, 0x800)  # a register: a read of no register is also 0


# A host's IPA limit may be as small as 32 bits (mutant: < for <=).
def test_host_ipa_limit_range_includes_32_and_52() -> None:
    assert kvm.HostCaps(ipa_limit=32).ipa_limit == 32
    assert kvm.HostCaps(ipa_limit=52).ipa_limit == 52
    with pytest.raises(ValueError, match=r"^host ipa_limit 31 must be in 32\.\.52$"):
        kvm.HostCaps(ipa_limit=31)


# A GICv2 host has neither GICv3 nor ITS, and says so by name (mutant: a key
# of the device-type name table).
def test_gicv2_host_refuses_gicv3_and_its_by_name() -> None:
    vm = kvm.create_vm(semantics="v6.1", host=kvm.HostCaps(gic_version=2))

    reasons = [
        fails(errno.ENODEV, vm.create_device, type_id).reason
        for type_id in (kvm.KVM_DEV_TYPE_ARM_VGIC_V3, kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    ]

    assert reasons == [
        "KVM_DEV_TYPE_ARM_VGIC_V3 is not available on this host",
        "KVM_DEV_TYPE_ARM_VGIC_ITS is not available on this host",
    ]


# File descriptor 0 is a descriptor like any other (mutant: fd < 1).
def test_vfio_takes_descriptor_0_as_an_open_file() -> None:
    vm = kvm.create_vm(semantics="v6.1")
    vm.open_file = lambda fd: fd == 0
    vfio = vm.create_device(kvm.KVM_DEV_TYPE_VFIO)

    error = fails(errno.EINVAL, vfio.set_attr, 1, 1, 0)

    assert error.reason == "descriptor 0 is not a VFIO group"


# 6.1 keeps 8 bits of REDIST_REGION's index: index 256 is the first region
# (mutant: the mask computed with >>).
def test_redist_region_index_256_is_index_0_on_6_1() -> None:
    vm, gic = v3_vm("v6.1")
    region = kvm.redist_region_attr(1, 0x80A0000, 0, 256)

    gic.set_attr(ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION, region)

    assert [r.index for r in vm.vgic.regions] == [0]


# The ITS's ID registers, GITS_PIDR4 (0xffd0) to GITS_CIDR3 (0xfffc), as 6.1
# reports them (mutant: a key of the table).
def test_its_id_registers() -> None:
    vm, _ = configured_v3("v6.1")
    its = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    its.set_attr(ADDR, kvm.KVM_VGIC_ITS_ADDR_TYPE, 0x8080000)
    regs = kvm.KVM_DEV_ARM_VGIC_GRP_ITS_REGS

    values = [its.get_attr(regs, offset) for offset in range(0xFFD0, 0x10000, 4)]

    assert values == [0x40, 0, 0, 0, 0x92, 0xB4, 0x3B, 0, 0x0D, 0xF0, 0x05, 0xB1]


# ICC_CTLR_EL1 reports the host's SEIS in bit 14 (mutant: >> for <<).
def test_icc_ctlr_reports_the_hosts_seis() -> None:
    vm = kvm.create_vm(semantics="v6.1", host=kvm.HostCaps(ich_seis=1))
    vcpu = vm.create_vcpu(0)
    gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
    gic.set_attr(CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT)
    target = kvm.v3_reg_attr(vcpu.mpidr, 0) & ~0xFFFF
    group = kvm.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS

    ctlr = gic.get_attr(group, target | sysregs.ICC_CTLR_EL1)

    assert ctlr == 0xCC00  # A3V, SEIS, 1 ID-bits field, 5 priority bits
