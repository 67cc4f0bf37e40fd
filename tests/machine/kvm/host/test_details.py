"""The host backend's less travelled paths, on the stand-in kernel and real fds."""

from __future__ import annotations

import errno
import mmap
import os
import struct
import termios
import threading

import pytest

from tests.machine.kvm.host.fakekernel import FakeKernel
from virtmodel.machine import kvm
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.host import (
    KvmUnavailable,
    Syscalls,
    check_available,
    create_host_vm,
    open_kvm,
)
from virtmodel.machine.kvm.host.abi import MEMORY_REGION, REG_MPIDR_EL1, x_reg
from virtmodel.machine.kvm.host.guest import choose_window, claimed_range
from virtmodel.machine.kvm.host.resources import Resources
from virtmodel.machine.kvm.host.syscalls import bounded_ioctl

GRP_ADDR = kvm.KVM_DEV_ARM_VGIC_GRP_ADDR


def host_vm(fake: FakeKernel):
    return create_host_vm(40, syscalls=fake, check_arch=False)


# -- the real system calls -------------------------------------------------------


def test_real_ioctl_updates_a_buffer_in_place_and_wraps_large_integers():
    reader, writer = os.pipe()
    try:
        os.write(writer, b"12345")
        buffer = bytearray(4)
        assert Syscalls().ioctl(reader, termios.FIONREAD, buffer) == 0
        assert struct.unpack("<i", buffer) == (5,)
        # A u32 above INT_MAX still reaches the kernel (as its low 32 bits).
        with pytest.raises(OSError, match="Inappropriate ioctl") as caught:
            Syscalls().ioctl(reader, termios.TIOCGWINSZ, 0xFFFF_FFF0)
        assert caught.value.errno == errno.ENOTTY
    finally:
        os.close(reader)
        os.close(writer)


def test_real_mappings_are_shared_file_maps_and_private_anonymous_memory():
    fd = os.open("/dev/zero", os.O_RDWR)
    try:
        shared = Syscalls().map_shared(fd, mmap.PAGESIZE)
        anonymous = Syscalls().map_anonymous(mmap.PAGESIZE)
        anonymous[:4] = b"kvm!"
        assert (len(shared), bytes(shared[:4]), bytes(anonymous[:4])) == (
            mmap.PAGESIZE, b"\0\0\0\0", b"kvm!",
        )  # fmt: skip
        shared.close()
        anonymous.close()
    finally:
        os.close(fd)


def test_a_bounded_run_needs_the_main_thread():
    caught: list[BaseException] = []

    def worker() -> None:
        try:
            bounded_ioctl(Syscalls(), 0, 0, 1.0)
        except RuntimeError as exc:
            caught.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert "main thread" in str(caught[0])


def test_a_directory_is_not_a_kvm_node(tmp_path):
    with pytest.raises(KvmUnavailable) as caught:
        open_kvm(Syscalls(), str(tmp_path))
    assert caught.value.errno == errno.EISDIR
    assert str(caught.value) == f"{tmp_path} cannot be opened: Is a directory"


def test_a_kvm_of_another_api_version_is_refused_and_closed():
    class OldKvm(FakeKernel):
        def ioctl(self, fd, request, arg=0):
            return (
                11
                if request == u.KVM_GET_API_VERSION
                else super().ioctl(fd, request, arg)
            )

    fake = OldKvm()
    with pytest.raises(KvmUnavailable, match="speaks KVM API 11, not 12"):
        create_host_vm(40, syscalls=fake, check_arch=False)
    assert fake.open_fds == set()


def test_check_available_opens_and_closes_dev_kvm(monkeypatch):
    fake = FakeKernel()
    monkeypatch.setattr("virtmodel.machine.kvm.host.check_host", lambda: None)
    check_available(syscalls=fake)
    assert fake.open_fds == set()
    assert [c.request for c in fake.calls] == [u.KVM_GET_API_VERSION]


# -- the API's other calls -----------------------------------------------------


def test_preferred_target_and_an_explicit_init_are_records_of_their_own():
    fake = FakeKernel()
    with host_vm(fake) as vm:
        target = vm.preferred_target()
        vcpu = vm.create_vcpu(0, init=False)
        vcpu.init(0, target)
        with pytest.raises(kvm.KvmError) as caught:
            vcpu.init(0, target + 1)
    assert [str(c) for c in vm.calls[:3]] == [
        "KVM_ARM_PREFERRED_TARGET(vm) = 5",
        "KVM_CREATE_VCPU(vcpu0, 0) = 0",
        "KVM_ARM_VCPU_INIT(vcpu0, features=0x0) = 0",
    ]
    assert caught.value.errno == errno.EINVAL


def test_mpidr_reads_the_register_and_a_refused_read_is_a_kvm_error():
    fake = FakeKernel()
    with host_vm(fake) as vm:
        vcpu = vm.create_vcpu(1)
        fake.regs[vcpu.fd, REG_MPIDR_EL1] = 0x80000001
        assert vcpu.mpidr == 0x80000001
        fake.fail[u.KVM_GET_ONE_REG] = errno.ENOEXEC
        with pytest.raises(kvm.KvmError) as caught:
            _ = vcpu.mpidr
    assert str(caught.value) == (
        "KVM_GET_ONE_REG(vcpu1, MPIDR_EL1) failed: ENOEXEC (host kernel: Exec format error)"
    )
    assert repr(vcpu).startswith("<HostVcpu 1 fd=")


def test_a_vcpu_attribute_read_comes_back_through_the_pointer():
    fake = FakeKernel()
    with host_vm(fake) as vm:
        vcpu = vm.create_vcpu(0)
        value = vcpu.get_attr(
            u.KVM_ARM_VCPU_TIMER_CTRL, u.KVM_ARM_VCPU_TIMER_IRQ_VTIMER
        )
    assert value == 1  # the stand-in answers stored (0) + 1
    assert str(vm.calls[-1]) == (
        "KVM_GET_DEVICE_ATTR(vcpu0, TIMER_CTRL, TIMER_IRQ_VTIMER, 0) = 1"
    )


def test_a_second_run_reuses_the_guest_and_a_non_mmio_exit_leaves_no_address():
    fake = FakeKernel()
    with host_vm(fake) as vm:
        vcpu = vm.create_vcpu(0)
        vcpu.run()
        fake.regs[vcpu.fd, x_reg(1)] = 0  # the stand-in reports X1 as the address
        fake.fail[u.KVM_RUN] = errno.EINTR
        with pytest.raises(kvm.KvmError):
            vcpu.run()
        del fake.fail[u.KVM_RUN]
        vcpu.mmio_address = None
        area = fake.run_maps[vcpu.fd]
        vcpu.run()
        struct.pack_into("<I", area, 8, u.KVM_EXIT_INTR)
        vcpu._read_exit(area)
    assert len(fake.slots) == 1
    assert [c.request for c in fake.calls].count(u.KVM_GET_VCPU_MMAP_SIZE) == 1
    assert vcpu.exit_reason == u.KVM_EXIT_INTR
    assert (
        str(vm.calls[-2])
        == "KVM_RUN(vcpu0) -> EINTR (host kernel: Interrupted system call)"
    )


def test_a_refused_guest_slot_fails_the_run_and_is_listed_in_plumbing():
    fake = FakeKernel(fail={u.KVM_SET_USER_MEMORY_REGION: errno.EEXIST})
    with host_vm(fake) as vm, pytest.raises(kvm.KvmError) as caught:
        vm.create_vcpu(0).run()
    assert caught.value.errno == errno.EEXIST
    assert str(vm.calls[-1]).startswith(
        "KVM_RUN(vcpu0) -> EEXIST (setting up the guest: host kernel: File exists)"
    )
    assert vm.plumbing[-1].endswith("-> EEXIST")


def test_user_memory_is_a_record_and_the_guest_keeps_clear_of_it():
    fake = FakeKernel()
    top = (1 << 40) - 0x100000
    with host_vm(fake) as vm:
        vm.set_user_memory_region(0, top, 0x100000)
        vm.create_vcpu(0).run()
    assert str(vm.calls[0]) == (
        f"KVM_SET_USER_MEMORY_REGION(vm, 0x{top:08x}, slot=0, flags=0, size=0x100000) = 0"
    )
    (slot0, base0, size0, _), (slot1, base1, size1, _) = fake.slots
    assert (slot0, base0, size0) == (0, top, 0x100000)
    assert slot1 == 1
    assert base1 + 2 * size1 <= top


def test_a_read_only_slot_passes_its_flags_and_a_deletion_frees_the_slot():
    fake = FakeKernel()
    with host_vm(fake) as vm:
        vm.set_user_memory_region(0, 0, 0x4000000, 2)
        vm.set_user_memory_region(0, 0, 0, 2)
        slots = dict(vm.memory.slots)
        vm.create_vcpu(0).run()  # the guest's page takes the freed slot 0
    sent = []
    for call in fake.calls:
        if call.request == u.KVM_SET_USER_MEMORY_REGION:
            assert isinstance(call.arg, bytes)
            sent.append(MEMORY_REGION.unpack(call.arg)[:4])
    assert sent[:2] == [(0, 2, 0, 0x4000000), (0, 2, 0, 0)]
    assert slots == {}
    assert sent[2][:2] == (0, 0)
    assert str(vm.calls[1]) == (
        "KVM_SET_USER_MEMORY_REGION(vm, 0x00000000, slot=0, flags=2, size=0x0) = 0"
    )
    with pytest.raises(ValueError, match="flags"):
        vm.set_user_memory_region(0, 0, 0x1000, 1 << 32)


def test_probes_devices_of_other_types_and_refusals():
    fake = FakeKernel(fail={(u.KVM_HAS_DEVICE_ATTR, GRP_ADDR, 9): errno.ENXIO})
    with host_vm(fake) as vm:
        assert vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3, test=True) is None
        gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
        assert gic.check_attr(GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST)
        assert not gic.check_attr(GRP_ADDR, 9)
        pv = vm.create_device(kvm.KVM_DEV_TYPE_ARM_PV_TIME)
        pv.set_attr(0, 0, 1)
        its = [vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS) for _ in range(2)]
        vfio = vm.create_device(kvm.KVM_DEV_TYPE_VFIO)
        vfio.set_attr(1, 1, 7)
        labels = [d.label for d in vm.devices]
        pv_call = str(vm.calls[-5])
        vfio_call = vm.calls[-1]
    assert labels == ["vgic-v3", "device-type-10", "its", "its1", "vfio"]
    assert vfio_call.resource == "kvm.vfio.group1"
    assert fake.calls[-4].arg == struct.pack(
        "<III", kvm.KVM_DEV_TYPE_ARM_VGIC_ITS, 0, 0
    )
    assert pv_call == "KVM_SET_DEVICE_ATTR(device-type-10, GRP_ADDR, 0, 0x00000001) = 0"
    assert [c.resource for c in vm.calls if c.ioctl == "KVM_CREATE_DEVICE"] == [
        "kvm.vgic.create", "kvm.vgic.create", "kvm.device.create",
        "kvm.its.create", "kvm.its.create", "kvm.device.create",
    ]  # fmt: skip
    assert repr(its[1]).startswith("<HostDevice 'its1' fd=")
    assert "closed" in repr(vm)


# -- helpers ---------------------------------------------------------------------------


def test_x_registers_stop_at_x30():
    assert x_reg(30) == x_reg(0) + 60
    with pytest.raises(ValueError, match="X31 is not a general-purpose register"):
        x_reg(31)


def test_the_guest_window_skips_below_every_claimed_range_or_says_there_is_none():
    claimed = [claimed_range(kvm.KVM_DEV_TYPE_ARM_VGIC_V3, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST,
                             (1 << 32) - 0x10000)]  # fmt: skip
    window = choose_window(1 << 32, 4096, claimed)
    assert window.code + 2 * 4096 <= (1 << 32) - 0x10000
    with pytest.raises(ValueError, match="no free 8192-byte window"):
        choose_window(1 << 32, 4096, [(0, 1 << 32)])


def test_resources_close_once_and_go_on_past_a_refused_close():
    class Stubborn(FakeKernel):
        def close(self, fd):
            super().close(fd)
            if fd == first:
                raise OSError(errno.EIO, "refused")

    fake = Stubborn()
    first, second = fake.open("a"), fake.open("b")
    resources = Resources(fake)
    resources.fd(first)
    resources.fd(second)
    assert resources.open_fds == [first, second]
    resources.close()
    resources.close()
    assert fake.open_fds == set()
    assert resources.open_fds == []


def test_a_failed_vcpu_creation_records_the_kernel_errno():
    fake = FakeKernel(fail={u.KVM_CREATE_VCPU: errno.EEXIST})
    with host_vm(fake) as vm, pytest.raises(kvm.KvmError) as caught:
        vm.create_vcpu(0)
    assert caught.value.errno == errno.EEXIST
    assert vm.vcpus == []


def test_a_null_address_the_kernel_accepted_claims_nothing():
    class Lenient(FakeKernel):
        def _attr(self, fd, request, group, attr, address):
            return (
                0 if address == 0 else super()._attr(fd, request, group, attr, address)
            )

    with host_vm(Lenient()) as vm:
        gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
        gic.set_attr(GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST, None)
        window = vm.guest_window()
    assert window.code == (1 << 40) - 0x10000  # the highest window: nothing claimed
