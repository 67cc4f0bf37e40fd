"""The host backend's VM set-up calls, on the stand-in kernel (any machine)."""

from __future__ import annotations

import errno
import os

import pytest

from tests.machine.kvm.host.fakekernel import FakeKernel
from virtmodel.machine import kvm
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.host import create_host_vm
from virtmodel.machine.kvm.host.abi import ENABLE_CAP, IOEVENTFD
from virtmodel.machine.kvm.host.syscalls import Syscalls


def test_enable_cap_packs_struct_kvm_enable_cap_on_the_vm_fd() -> None:
    fake = FakeKernel()
    with create_host_vm(40, syscalls=fake, check_arch=False) as vm:
        vm.enable_cap(u.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 3)
        last = fake.calls[-1]
        assert (last.fd, last.request) == (vm.fd, u.KVM_ENABLE_CAP)
        assert isinstance(last.arg, bytes)
        assert ENABLE_CAP.unpack(last.arg) == (168, 0, 3, 0, 0, 0)
        assert str(vm.calls[-1]) == (
            "KVM_ENABLE_CAP(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, flags=0, args=0x3,0x0) = 0"
        )


def test_ioeventfd_uses_a_real_looking_eventfd_and_records_as_the_simulator() -> None:
    fake = FakeKernel()
    with create_host_vm(40, syscalls=fake, check_arch=False) as vm:
        fd = vm.eventfd()
        assert fd in fake.open_fds
        assert vm.plumbing[-1] == f"eventfd() = {fd}"
        vm.ioeventfd(fd, 0, 2, 3, 6)
        last = fake.calls[-1]
        assert (last.fd, last.request) == (vm.fd, u.KVM_IOEVENTFD)
        assert isinstance(last.arg, bytes)
        assert IOEVENTFD.unpack(last.arg) == (6, 0, 2, fd, 3)
        assert str(vm.calls[-1]) == (
            "KVM_IOEVENTFD(vm, addr=0x0, len=2, flags=0x3, datamatch=0x6) = 0"
        )
        vm.close_eventfd(fd)
        assert fd not in fake.open_fds
        with pytest.raises(ValueError, match="fd -1"):
            vm.ioeventfd(-1, 0, 2, 3)


def test_the_kernels_errno_is_the_records() -> None:
    fake = FakeKernel(fail={u.KVM_IOEVENTFD: errno.EEXIST})
    with create_host_vm(40, syscalls=fake, check_arch=False) as vm:
        with pytest.raises(kvm.KvmError) as caught:
            vm.ioeventfd(vm.eventfd(), 0, 2, 3)
        assert caught.value.errno == errno.EEXIST
        assert vm.calls[-1].errno == errno.EEXIST


def test_the_real_syscalls_open_a_real_eventfd() -> None:
    syscalls = Syscalls()
    fd = syscalls.eventfd()
    try:
        os.eventfd_write(fd, 5)
        assert os.eventfd_read(fd) == 5
    finally:
        syscalls.close(fd)
