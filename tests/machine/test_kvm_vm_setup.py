"""QEMU's VM set-up after KVM_CREATE_VM, as the KVM accelerator makes it."""

from __future__ import annotations

import errno

from virtmodel.machine import kvm
from virtmodel.machine.accel import KvmAccel, qemu_vm_setup
from virtmodel.machine.boards.virt.board import boot_virt, create_virt
from virtmodel.machine.boards.virt.config import config_from_options


def _heads(calls: list[kvm.KvmCall]) -> list[str]:
    return [str(call) for call in calls]


def test_6_1_enables_both_capabilities_then_probes_seven_ioeventfds() -> None:
    vm = kvm.create_vm()
    qemu_vm_setup(vm)
    lines = _heads(vm.calls)
    assert lines[:2] == [
        "KVM_ENABLE_CAP(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, flags=0, args=0x3,0x0) = 0",
        "KVM_ENABLE_CAP(vm, KVM_CAP_ARM_NISV_TO_USER, flags=0, args=0x0,0x0) = 0",
    ]
    assigns = [f"flags=0x3, datamatch=0x{n:x}" for n in range(7)]
    deassigns = [f"flags=0x7, datamatch=0x{n:x}" for n in reversed(range(7))]
    assert [line.split("len=2, ")[1].removesuffix(") = 0") for line in lines[2:]] == [
        *assigns,
        *deassigns,
    ]
    assert vm.ioeventfds == []
    assert vm.eventfds == set()  # every eventfd closed again


def test_2016_kernels_enable_nothing_but_still_probe_the_bus() -> None:
    vm = kvm.create_vm(semantics="v4.8")
    qemu_vm_setup(vm)
    assert {call.ioctl for call in vm.calls} == {"KVM_IOEVENTFD"}
    assert len(vm.calls) == 14


def test_a_refused_ioeventfd_ends_the_probe_and_undoes_the_rest() -> None:
    vm = kvm.create_vm(semantics="v4.8")
    # Port 0 already signals another eventfd on value 3: the fourth assign
    # collides (EEXIST), so the probe stops there and deassigns 2, 1, 0.
    other = vm.eventfd()
    vm.ioeventfd(other, 0, 2, 3, 3)
    before = len(vm.calls)
    qemu_vm_setup(vm)
    probe = vm.calls[before:]
    assert [call.errno for call in probe] == [None] * 3 + [errno.EEXIST] + [None] * 3
    assert [call.args for call in probe][4:] == [
        f"addr=0x0, len=2, flags=0x7, datamatch=0x{n}" for n in (2, 1, 0)
    ]
    assert vm.eventfds == {other}
    assert len(vm.ioeventfds) == 1


def test_the_kvm_accelerator_makes_the_set_up_right_after_creating_the_vm() -> None:
    machine = boot_virt(create_virt(config_from_options(accel="kvm", cpu="host")))
    accel = machine.accel
    assert isinstance(accel, KvmAccel)
    assert accel.vm is not None
    ioctls = [call.ioctl for call in accel.vm.calls[:17]]
    assert ioctls == ["KVM_CREATE_VM", *["KVM_ENABLE_CAP"] * 2, *["KVM_IOEVENTFD"] * 14]
