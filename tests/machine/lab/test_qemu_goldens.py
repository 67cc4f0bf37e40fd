"""virtmodel's KVM device calls against real QEMU 7.2's, call for call.

Each golden in ``tests/golden/qemu-kvm/`` is what real QEMU did under real
KVM 6.1 (captured by ``python -m tests.golden.capture_kvm``). Here virtmodel
boots the same machine options with ``-accel kvm --notifiers qemu-lifo
--kernel-semantics v6.1`` and must make the same device calls, in the same
order, with the same results. No lab is needed: this runs everywhere. The
live re-check of the goldens is in ``test_realkvm.py`` (one guest boot).
"""

from __future__ import annotations

import pytest

from tests.golden.capture_kvm import (
    GOLDEN_DIR,
    MATRIX,
    golden_path,
    qemu_args,
    read_golden,
)
from virtmodel.machine.cli.main import main
from virtmodel.machine.lab.devicecalls import (
    DEVICE_IOCTLS,
    from_kvm_calls,
    from_traced_calls,
    line_diff,
    virtmodel_device_calls,
)
from virtmodel.machine.lab.tracelog import parse_trace_log

#: Diff lines shown on a failure: enough to see where and how it went wrong.
SHOWN = 60


def assert_same_calls(expected: list[str], actual: list[str], what: str) -> None:
    """Fail with a readable, numbered diff when the two call lists differ."""
    if expected == actual:
        return
    first = next(
        (i for i, (e, a) in enumerate(zip(expected, actual, strict=False)) if e != a),
        min(len(expected), len(actual)),
    )
    diff = line_diff(expected, actual).splitlines()
    shown = "\n".join(diff[:SHOWN]) + ("\n..." if len(diff) > SHOWN else "")
    pytest.fail(
        f"{what}: virtmodel's device calls differ from real QEMU's at call "
        f"{first + 1} ({len(expected)} real, {len(actual)} virtmodel)\n{shown}",
        pytrace=False,
    )


def test_the_matrix_covers_what_the_issue_asks() -> None:
    its = {"its=on" in args[1] for args in MATRIX.values()}
    cpus = {int(args[3]) for args in MATRIX.values()}
    highmem_off = {"highmem=off" in args[1] for args in MATRIX.values()}

    assert len(MATRIX) >= 8
    assert its == {True, False}
    assert {1, 8} <= cpus
    assert highmem_off == {True, False}
    assert any(args[5] in ("5G", "6G", "4097M") for args in MATRIX.values())


def test_every_configuration_has_a_golden_and_no_golden_is_stale() -> None:
    on_disk = {p.stem for p in GOLDEN_DIR.glob("*.txt")}

    assert on_disk == set(MATRIX)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_golden_records_the_configuration_it_names(name: str) -> None:
    args, calls = read_golden(golden_path(name))

    assert args == qemu_args(name)
    assert calls[0].startswith("KVM_CREATE_VM(vm, type=")
    assert {call.split("(")[0] for call in calls} <= DEVICE_IOCTLS


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_virtmodel_makes_real_qemus_device_calls(name: str) -> None:
    args, expected = read_golden(golden_path(name))

    actual = virtmodel_device_calls(args)

    assert_same_calls(expected, actual, name)


def test_a_changed_call_fails_with_a_diff_naming_it() -> None:
    args, expected = read_golden(golden_path("its-on_smp2_256M"))
    altered = [
        line.replace("PMU_V3_IRQ, 0x17", "PMU_V3_IRQ, 0x18") for line in expected
    ]

    with pytest.raises(pytest.fail.Exception) as failure:
        assert_same_calls(altered, virtmodel_device_calls(args), "altered")

    text = str(failure.value)
    assert "PMU_V3_IRQ, 0x18" in text
    assert "PMU_V3_IRQ, 0x17" in text
    assert "at call" in text


def test_virtmodel_run_makes_as_many_device_calls_as_the_golden(capsys) -> None:
    """``virtmodel run`` (the CLI the issue names) prints the golden's device calls."""
    args, expected = read_golden(golden_path("its-off_smp2_256M"))

    status = main(["run", "--full", "-accel", "kvm", "--notifiers", "qemu-lifo",
                   "--kernel-semantics", "v6.1", *args])  # fmt: skip

    printed = [line.split(maxsplit=1)[1] for line in capsys.readouterr().out.splitlines()
               if line[:1] == " " and line.split(maxsplit=1)[1:]]  # fmt: skip
    device = [line for line in printed if line.split("(")[0].strip() in DEVICE_IOCTLS]
    assert status == 0
    assert len(device) == len(expected)
    assert device[-1].startswith("KVM_SET_DEVICE_ATTR(vgic-v3, GRP_CPU_SYSREGS, 0xc648")


def test_the_2016_kernels_still_bring_the_its_machine_up() -> None:
    calls = virtmodel_device_calls(qemu_args("its-on_smp2_256M"), kernel="v4.8")
    text = "\n".join(calls)

    assert "KVM_CREATE_VM(vm, type=40) = 0" in calls
    assert "KVM_HAS_DEVICE_ATTR(its, GRP_CTRL, ITS_CTRL_RESET) -> ENXIO" in calls
    assert "GRP_CPU_SYSREGS" not in text  # no register state without save/restore
    assert not any(c.startswith("KVM_SET_DEVICE_ATTR") and "->" in c for c in calls)


def test_kvm_calls_become_lines_without_the_get_input() -> None:
    from virtmodel.machine import kvm

    vm = kvm.create_vm(semantics="v6.1", host=kvm.LAB_HOST)
    vm.record_creation()
    vm.create_vcpu(0)
    gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
    gic.get_attr(kvm.KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, 0xAAAA)

    assert from_kvm_calls(vm.calls) == [
        "KVM_CREATE_VM(vm, type=40) = 0",
        "KVM_CREATE_VCPU(vcpu0) = 0",
        "KVM_CREATE_DEVICE(vgic-v3) = 0",
        "KVM_GET_DEVICE_ATTR(vgic-v3, GRP_NR_IRQS, 0) = 0x20",
    ]


def test_tracer_lines_become_the_same_spelling() -> None:
    log = [
        "sys KVM_CREATE_VM type=0x28 ret=9 errno=0",
        "vm0 KVM_CREATE_DEVICE type=5 flags=1 ret=-1 errno=19",
        "sys KVM_CREATE_VM type=0x30 ret=11 errno=0",  # a -cpu host scratch VM
        "vm1 KVM_CREATE_VCPU arg=0 ret=12 errno=0",
        "vm0 KVM_CREATE_VCPU arg=0 ret=10 errno=0",
        "vm0.vcpu0 KVM_ARM_VCPU_INIT target=5 features=0x7c ret=0 errno=0",
        "vm0.vcpu0 ONE_REG dir=set count=1 failed=0",
        "vm0.vcpu0 KVM_ARM_VCPU_FINALIZE what=4 ret=0 errno=0",
        "vm0 KVM_CREATE_DEVICE type=7 flags=0 fd=12 ret=0 errno=0",
        "vm0 KVM_SET_GSI_ROUTING nr=2 flags=0 entries=0:irqchip:0:0,1:irqchip:0:1"
        " ret=0 errno=0",
        "vm0.vgic-v3 KVM_SET_DEVICE_ATTR flags=0 group=4 attr=0x0 addr=NULL ret=0 errno=0",
        "vm0.vgic-v3 KVM_GET_DEVICE_ATTR flags=0 group=1 attr=0x4 value=0xaaaa"
        " read=0x7a0008 ret=0 errno=0",
        "vm0.vcpu0 KVM_SET_DEVICE_ATTR flags=0 group=0 attr=0x0 value=0x17 ret=0 errno=0",
    ]
    calls = [c for c in parse_trace_log(log) if c.vm == 0]

    assert from_traced_calls(calls) == [
        "KVM_CREATE_VM(vm, type=40) = 0",
        "KVM_CREATE_DEVICE(vgic-v2, TEST) -> ENODEV",
        "KVM_CREATE_VCPU(vcpu0) = 0",
        "KVM_ARM_VCPU_INIT(vcpu0, features=0x7c) = 0",
        "KVM_ARM_VCPU_FINALIZE(vcpu0, what=4) = 0",
        "KVM_CREATE_DEVICE(vgic-v3) = 0",
        "KVM_SET_GSI_ROUTING(vm, 2 entries: gsi 0-1 irqchip 0 pin 0-1) = 0",
        "KVM_SET_DEVICE_ATTR(vgic-v3, GRP_CTRL, CTRL_INIT, NULL) = 0",
        "KVM_GET_DEVICE_ATTR(vgic-v3, GRP_DIST_REGS, GICD_TYPER(mpidr=0x00000000))"
        " = 0x7a0008",
        "KVM_SET_DEVICE_ATTR(vcpu0, PMU_V3_CTRL, PMU_V3_IRQ, 0x17) = 0",
    ]


def test_a_memory_slot_reads_the_same_from_the_tracer_and_the_simulator() -> None:
    from virtmodel.machine import kvm

    log = [
        "sys KVM_CREATE_VM type=0x28 ret=9 errno=0",
        "vm0 KVM_SET_USER_MEMORY_REGION slot=1 flags=2 gpa=0x4000000 size=0x4000000"
        " ret=0 errno=0",
        "vm0 KVM_SET_USER_MEMORY_REGION slot=2 flags=4 gpa=0x40000000"
        " size=0x10000000 ret=-1 errno=22",
    ]
    vm = kvm.create_vm(semantics="v6.1", host=kvm.LAB_HOST)
    vm.set_user_memory_region(1, 0x4000000, 0x4000000, 2)
    with pytest.raises(kvm.KvmError):
        vm.set_user_memory_region(2, 0x40000000, 0x10000000, 4)

    traced = from_traced_calls(parse_trace_log(log))[1:]

    assert (
        traced
        == from_kvm_calls(vm.calls)
        == [
            "KVM_SET_USER_MEMORY_REGION(vm, 0x4000000, slot=1, flags=2, size=0x4000000)"
            " = 0",
            "KVM_SET_USER_MEMORY_REGION(vm, 0x40000000, slot=2, flags=4,"
            " size=0x10000000) -> EINVAL",
        ]
    )


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_every_golden_has_real_qemus_memory_slots(name: str) -> None:
    """The goldens keep the slots: flash read-only, then RAM, then stolen time."""
    _, calls = read_golden(golden_path(name))
    slots = [c for c in calls if c.startswith("KVM_SET_USER_MEMORY_REGION")]

    assert slots[:2] == [
        "KVM_SET_USER_MEMORY_REGION(vm, 0x0, slot=0, flags=2, size=0x4000000) = 0",
        "KVM_SET_USER_MEMORY_REGION(vm, 0x4000000, slot=1, flags=2, size=0x4000000)"
        " = 0",
    ]
    assert slots[2].startswith("KVM_SET_USER_MEMORY_REGION(vm, 0x40000000, slot=2,")
    assert calls.index(slots[1]) < calls.index("KVM_CREATE_VCPU(vcpu0) = 0")


@pytest.mark.parametrize(("pri_bits", "per_group"), [(5, 1), (6, 2), (7, 4)])
def test_the_put_writes_one_active_priority_register_per_32_levels(
    pri_bits: int, per_group: int
) -> None:
    from virtmodel.devices.gicv3_kvm import ICC_CTLR_EL1, put_writes
    from virtmodel.machine import kvm

    ctlr = (pri_bits - 1) << 8
    writes = list(put_writes([0], 64, {0: ctlr}, lpis=False))
    sysregs = [w for w in writes if w.group == kvm.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS]

    assert len(sysregs) == 7 + 2 * per_group
    assert sysregs[1].attr & 0xFFFF == ICC_CTLR_EL1
    assert sysregs[1].value == ctlr


def test_the_figures_in_readme_and_docs_count_the_goldens() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    calls = sum(len(read_golden(golden_path(name))[1]) for name in MATRIX)
    for doc in ("README.md", "docs/kvm.md"):
        text = " ".join((root / doc).read_text().split())
        found = re.search(
            r"(\d+) of (\d+) configurations reproduced call for call, ([\d,]+) calls",
            text,
        )
        assert found is not None, doc
        assert found.groups() == (
            str(len(MATRIX)), str(len(MATRIX)), f"{calls:,}"
        ), doc  # fmt: skip
