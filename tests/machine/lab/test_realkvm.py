"""The lab against the real thing: Debian's arm64 6.1 KVM and QEMU 7.2.

Everything here shares ONE guest boot (the session fixture ``lab_batch``):
the KVM scripts and the QEMU configurations all run in it. What is asserted
are facts of the real kernel and of real QEMU that the lab must reproduce;
a lab that ran nothing, or garbled the answers, fails them.
"""

from __future__ import annotations

import dataclasses
import errno

import pytest

from tests.golden.capture_kvm import golden_path, qemu_args, read_golden
from tests.machine.lab.conftest import guest_timeout, real_lab
from tests.machine.lab.test_qemu_goldens import assert_same_calls
from virtmodel.machine.kvm import uapi
from virtmodel.machine.lab.batch import LabBatch, run_lab_batch
from virtmodel.machine.lab.devicecalls import (
    boot_virtmodel,
    from_kvm_calls,
    from_traced_calls,
    virtmodel_device_calls,
)
from virtmodel.machine.lab.qemu import QemuTrace

pytestmark = pytest.mark.realkvm

SCRIPTS = {
    # IPA sizes: 32..48 on this host, anything else EINVAL.
    "ipa": "create_vm 48\ncreate_vm 49\ncreate_vm 31\ncreate_vm 32\n",
    # A whole vGICv3 + ITS bring-up and a first run.
    "bringup": """\
create_vm 0
create_vcpu 0
vcpu_init 0 0
create_device 5 1        # no GICv2 emulation on this host
create_device 7 1        # TEST: no handle
create_device 7 0        # d0
set_attr d0 0 2 0x08000001   # misaligned DIST
set_attr d0 0 2 0x08000000
set_attr d0 0 2 0x08010000   # DIST is set once
get_attr d0 0 2 0xffffffffffffffff
get_attr d0 0 2 NULL
set_attr d0 0 3 0x080a0000
set_attr d0 3 0 64
create_device 8 0        # d1: the ITS
set_attr d1 0 4 0x08080000
set_attr d0 4 0 NULL
set_attr d1 4 0 NULL
has_attr d1 4 4
run 0
run 0
get_attr d7 0 2 0        # no such handle
vcpu_has_attr 0 0 0      # PMU IRQ: the vCPU was not given the PMU feature
end
create_vm 0
create_vcpu 0
run 0                    # before KVM_ARM_VCPU_INIT
""",
    # After a failed first run the VM answers EIO.
    "eio": """\
create_vm 0
create_vcpu 0
vcpu_init 0 0
create_device 7 0
set_attr d0 0 2 0x08000000
run 0
vcpu_init 0 0
""",
    # A vCPU initialized powered off sleeps in KVM_RUN until the timer.
    "poweroff": "create_vm 0\ncreate_vcpu 0\nvcpu_init 0 1\nrun 0\n",
}
REPEATS = 300
REPEATED = (
    "create_vm 0\ncreate_vcpu 0\ncreate_vcpu 0\ncreate_device 7 0\nget_attr d0 3 0 0\n"
)
CONFIGS = [
    ("-M", "virt,gic-version=3,its=on", "-smp", "2", "-m", "256M", "-cpu", "host"),
    # More RAM than the 2G guest has: fine under -S (the job allows overcommit).
    ("-M", "virt,gic-version=3,its=off", "-smp", "1", "-m", "5G", "-cpu", "host"),
    ("-M", "virt", "-smp", "600", "-cpu", "host"),  # beyond virt's 512
]
#: Goldens re-captured live: real QEMU must still make exactly these calls.
RECHECKED = ("its-on_smp2_256M", "its-off_smp8_highmem-off_3G")
#: Configurations outside the golden matrix: virtmodel must match them too.
OUTSIDE: list[tuple[str, ...]] = [
    ("-M", "virt,gic-version=3,its=on", "-smp", "6", "-m", "768M", "-cpu", "host"),
    (
        "-M",
        "virt,gic-version=3,its=off,highmem=off",
        "-smp",
        "1",
        "-m",
        "1G",
        "-cpu",
        "host",
    ),
]
_FIRST_GOLDEN = len(CONFIGS)
CONFIGS += [qemu_args(name) for name in RECHECKED] + OUTSIDE


@pytest.fixture(scope="session")
def lab_batch() -> LabBatch:
    """The session's one guest boot."""
    paths = real_lab()
    return run_lab_batch(
        [*SCRIPTS.values(), *[REPEATED] * REPEATS],
        CONFIGS,
        timeout=guest_timeout(),
        paths=paths,
        reset=True,
    )


def answers(batch: LabBatch, name: str) -> list[tuple[int, int, int | None]]:
    index = list(SCRIPTS).index(name)
    return [(r.ret >= 0, r.errno, r.value) for r in batch.kvm[index]]


def test_ipa_sizes_32_to_48_are_accepted(lab_batch):
    assert answers(lab_batch, "ipa") == [
        (True, 0, None), (False, errno.EINVAL, None), (False, errno.EINVAL, None), (True, 0, None),
    ]  # fmt: skip


def test_a_vgic_v3_its_bringup_and_first_run(lab_batch):
    got = answers(lab_batch, "bringup")
    ok = (True, 0, None)
    assert got == [
        ok, ok, ok,
        (False, errno.ENODEV, None),
        ok, ok,
        (False, errno.EINVAL, None),
        ok,
        (False, errno.EEXIST, None),
        (True, 0, 0x08000000),
        (False, errno.EFAULT, None),
        ok, ok, ok, ok, ok, ok, ok,
        ok,                            # first run: the guest's MMIO store exits
        (False, errno.EINTR, None),    # then it spins until the alarm
        (False, errno.EBADF, None),
        (False, errno.ENXIO, None),
        ok, ok,
        (False, errno.ENOEXEC, None),
    ]  # fmt: skip
    lines = [r.line for r in lab_batch.kvm[1]]
    assert lines[:3] == [1, 2, 3]
    assert lines[-1] == 26


def test_after_a_failed_first_run_the_vm_answers_eio(lab_batch):
    got = answers(lab_batch, "eio")
    assert got[-2:] == [(False, errno.ENXIO, None), (False, errno.EIO, None)]


def test_a_powered_off_vcpu_run_ends_in_eintr(lab_batch):
    assert answers(lab_batch, "poweroff")[-1] == (False, errno.EINTR, None)


def test_hundreds_of_scripts_in_one_boot_answer_alike(lab_batch):
    repeated = lab_batch.kvm[len(SCRIPTS) :]
    assert len(repeated) == REPEATS
    assert all(r == repeated[0] for r in repeated)
    assert [(r.ret >= 0, r.errno, r.value) for r in repeated[0]] == [
        (True, 0, None), (True, 0, None), (False, errno.EEXIST, None), (True, 0, None),
        (True, 0, 32),  # no SPIs before NR_IRQS or init: just the 32 private IRQs
    ]  # fmt: skip


def test_real_qemu_its_machine_calls(lab_batch):
    trace = lab_batch.traces[0]
    assert trace.ok, trace.output
    text = [str(call) for call in trace.machine_calls()]
    for expected in (
        "KVM_CREATE_DEVICE(vgic-v3, KVM_CREATE_DEVICE_TEST, 7) = 0",
        "KVM_CREATE_DEVICE(vgic-v2, KVM_CREATE_DEVICE_TEST, 5) -> ENODEV",
        "KVM_CREATE_VCPU(vcpu0, 0) = 0",
        "KVM_CREATE_VCPU(vcpu1, 1) = 0",
        "KVM_CREATE_DEVICE(vgic-v3, 7) = 0",
        "KVM_SET_DEVICE_ATTR(vgic-v3, GRP_NR_IRQS, 0, 288) = 0",
        "KVM_SET_DEVICE_ATTR(vgic-v3, GRP_CTRL, CTRL_INIT, NULL) = 0",
        "KVM_CREATE_DEVICE(its, 8) = 0",
        "KVM_SET_DEVICE_ATTR(its, GRP_ADDR, VGIC_ITS_ADDR_TYPE, 0x08080000) = 0",
        "KVM_SET_DEVICE_ATTR(vgic-v3, GRP_ADDR, VGIC_V3_ADDR_TYPE_DIST, 0x08000000) = 0",
        "KVM_SET_DEVICE_ATTR(its, GRP_CTRL, ITS_CTRL_RESET, NULL) = 0",
    ):
        assert expected in text
    # The addresses come after CTRL_INIT (machine-init-done), the ITS reset
    # after the addresses (the system reset).
    assert (
        text.index("KVM_SET_DEVICE_ATTR(vgic-v3, GRP_CTRL, CTRL_INIT, NULL) = 0")
        < text.index(
            "KVM_SET_DEVICE_ATTR(vgic-v3, GRP_ADDR, VGIC_V3_ADDR_TYPE_DIST, 0x08000000) = 0"
        )
        < text.index("KVM_SET_DEVICE_ATTR(its, GRP_CTRL, ITS_CTRL_RESET, NULL) = 0")
    )
    inits = [c for c in trace.machine_calls() if c.ioctl == "KVM_ARM_VCPU_INIT"]
    assert {c.device for c in inits} == {"vcpu0", "vcpu1"}
    regs = [c for c in trace.machine_calls() if c.ioctl == "KVM_SET_ONE_REG"]
    assert sum(c.count for c in regs) > 100  # the per-register flood, counted
    # -cpu host probes the host CPU in scratch VMs of its own.
    vms = {c.vm for c in trace.calls if c.ioctl == "KVM_CREATE_VM"}
    assert len(vms) >= 2
    # Every capability real QEMU asks about prints by name, never as a bare
    # number (the table is checked against the 6.1 header elsewhere).
    asked = {c.value for c in trace.calls if c.ioctl == "KVM_CHECK_EXTENSION"}
    assert len(asked) > 30
    assert asked <= set(uapi.CAPABILITY_NAMES)


def test_real_qemu_without_its_one_vcpu_and_5g(lab_batch):
    trace = lab_batch.traces[1]
    assert trace.ok, trace.output
    calls = trace.machine_calls()
    text = [str(c) for c in calls]
    assert not [c for c in calls if c.device.startswith("its")]
    assert {c.device for c in calls if c.ioctl == "KVM_CREATE_VCPU"} == {"vcpu0"}
    ram = "KVM_SET_USER_MEMORY_REGION(vm, 0x40000000, slot=2, flags=0, size=0x140000000) = 0"
    assert ram in text


def test_a_qemu_that_cannot_start_is_reported_not_hung(lab_batch):
    trace = lab_batch.traces[2]
    assert not trace.ok
    assert trace.status == 1
    assert any("Invalid SMP CPUs 600" in line for line in trace.output)


def test_a_monitor_system_reset_resets_the_its_again(lab_batch):
    trace = lab_batch.traces[0]
    assert trace.reset_at is not None
    before = [str(c) for c in trace.calls[: trace.reset_at]]
    after = [str(c) for c in trace.calls[trace.reset_at :]]
    reset = "KVM_SET_DEVICE_ATTR(its, GRP_CTRL, ITS_CTRL_RESET, NULL) = 0"
    assert reset in before  # QEMU's own reset at start-up
    assert reset in after  # and again for system_reset
    assert not [line for line in after if "KVM_CREATE" in line]  # nothing rebuilt


def before_reset(trace: QemuTrace) -> list[str]:
    """The machine VM's device calls up to the monitor's ``system_reset``."""
    start = dataclasses.replace(trace, calls=trace.calls[: trace.reset_at])
    return from_traced_calls(start.machine_calls())


@pytest.mark.parametrize("index", range(len(RECHECKED)))
def test_the_goldens_are_still_what_real_qemu_does(lab_batch, index):
    name = RECHECKED[index]
    trace = lab_batch.traces[_FIRST_GOLDEN + index]
    assert trace.ok, trace.output
    _, golden = read_golden(golden_path(name))

    assert_same_calls(golden, before_reset(trace), name)


@pytest.mark.parametrize("index", range(len(OUTSIDE)))
def test_virtmodel_matches_real_qemu_outside_the_matrix(lab_batch, index):
    trace = lab_batch.traces[_FIRST_GOLDEN + len(RECHECKED) + index]
    assert trace.ok, trace.output

    assert_same_calls(
        before_reset(trace),
        virtmodel_device_calls(OUTSIDE[index]),
        " ".join(OUTSIDE[index]),
    )


def test_a_second_reset_makes_real_qemus_calls_again(lab_batch):
    trace = lab_batch.traces[_FIRST_GOLDEN]
    vm = trace.machine_calls()[0].vm
    real = from_traced_calls(c for c in trace.calls[trace.reset_at :] if c.vm == vm)
    machine = boot_virtmodel(qemu_args(RECHECKED[0]))
    done = len(machine.accel.vm.calls)  # type: ignore[attr-defined]

    machine.reset()

    again = from_kvm_calls(machine.accel.vm.calls[done:])  # type: ignore[attr-defined]
    assert_same_calls(real, again, "system_reset")
