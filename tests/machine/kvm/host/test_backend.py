"""The host backend's bookkeeping, on a stand-in kernel (any machine).

The real kernel's answers are checked by the ``realkvm`` tests in the lab;
here the stand-in answers plainly and records what it was sent, so these
tests check what the backend packs, which request it issues on which fd,
what it records, and that every fd and mapping is released.
"""

from __future__ import annotations

import dataclasses
import errno
import gc
import struct

import pytest

from tests.machine.kvm.host.fakekernel import TARGET, FakeKernel
from virtmodel.machine import kvm
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.host import HostVm, create_host_vm
from virtmodel.machine.kvm.host.abi import (
    DEVICE_ATTR,
    GUEST_CODE,
    GUEST_MARK,
    REG_PC,
    REG_X1,
    REG_X2,
    VCPU_INIT,
)

GRP_ADDR = kvm.KVM_DEV_ARM_VGIC_GRP_ADDR


def host_vm(fake: FakeKernel, ipa_bits: int = 40) -> HostVm:
    return create_host_vm(ipa_bits, syscalls=fake, check_arch=False)


def bring_up(vm: object) -> None:
    """The calls QEMU makes for a 2-vCPU GICv3 + ITS virt board."""
    vcpus = [vm.create_vcpu(i) for i in range(2)]  # type: ignore[attr-defined]
    gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)  # type: ignore[attr-defined]
    gic.check_attr(GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION)
    gic.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, 288)
    gic.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT, 0)
    its = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)  # type: ignore[attr-defined]
    its.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT, 0)
    gic.set_attr(GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST, 0x08000000)
    gic.set_attr(GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION,
                 kvm.redist_region_attr(2, 0x080A0000))  # fmt: skip
    its.set_attr(GRP_ADDR, kvm.KVM_VGIC_ITS_ADDR_TYPE, 0x08080000)
    for vcpu in vcpus:
        vcpu.run()


def packed(call) -> bytes:
    assert isinstance(call.arg, bytes)
    return call.arg


def without_reason(calls: list[kvm.KvmCall]) -> list[kvm.KvmCall]:
    return [dataclasses.replace(call, reason=None) for call in calls]


def test_create_vm_passes_the_ipa_size_as_the_vm_type():
    fake = FakeKernel()
    with host_vm(fake, 44):
        pass
    requests = [(c.request, c.arg) for c in fake.calls]
    assert requests == [(u.KVM_GET_API_VERSION, 0), (u.KVM_CREATE_VM, 44)]


def test_a_bring_up_records_the_same_calls_as_the_simulator():
    fake = FakeKernel()
    with host_vm(fake) as vm:
        bring_up(vm)
        host_calls = vm.calls
    sim = kvm.create_vm(40, semantics="v6.1", host=kvm.semantics.LAB_HOST)
    bring_up(sim)
    assert without_reason(host_calls) == without_reason(sim.calls)
    assert [str(c) for c in host_calls][-1] == "KVM_RUN(vcpu1) = 0"


def test_attribute_calls_pack_struct_kvm_device_attr_on_the_device_fd():
    fake = FakeKernel()
    with host_vm(fake) as vm:
        gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
        gic.set_attr(GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST, 0x08000000)
        read = gic.get_attr(GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST)
        create, set_call, get_call = fake.calls[-3:]
    assert create.request == u.KVM_CREATE_DEVICE
    assert create.arg == struct.pack("<III", kvm.KVM_DEV_TYPE_ARM_VGIC_V3, 0, 0)
    assert (set_call.fd, set_call.request) == (gic.fd, u.KVM_SET_DEVICE_ATTR)
    flags, group, attr, address = DEVICE_ATTR.unpack(packed(set_call))
    assert (flags, group, attr) == (0, GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST)
    assert address != 0
    # The stand-in answers a read with the stored value + 1, through the pointer.
    assert get_call.request == u.KVM_GET_DEVICE_ATTR
    assert read == 0x08000001


def test_a_null_value_is_a_null_pointer_and_has_attr_passes_none():
    fake = FakeKernel()
    with host_vm(fake) as vm:
        gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
        with pytest.raises(kvm.KvmError) as caught:
            gic.set_attr(GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST, None)
        gic.has_attr(GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST)
    assert caught.value.errno == errno.EFAULT
    assert DEVICE_ATTR.unpack(packed(fake.calls[-2]))[3] == 0
    assert DEVICE_ATTR.unpack(packed(fake.calls[-1]))[3] == 0


def test_the_kernel_errno_lands_in_the_record_and_the_error():
    fake = FakeKernel(fail={u.KVM_RUN: errno.ENXIO})
    with host_vm(fake) as vm:
        vcpu = vm.create_vcpu(0)
        vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
        with pytest.raises(kvm.KvmError) as caught:
            vcpu.run()
    assert caught.value.errno == errno.ENXIO
    assert caught.value.call is vm.calls[-1]
    assert str(vm.calls[-1]) == (
        "KVM_RUN(vcpu0) -> ENXIO (host kernel: No such device or address)"
    )
    assert str(caught.value).startswith("KVM_RUN(vcpu0) failed: ENXIO")


def test_vcpu_creation_inits_with_the_preferred_target_and_no_features():
    fake = FakeKernel()
    with host_vm(fake) as vm:
        vcpu = vm.create_vcpu(3)
    create, target, init = fake.calls[-3:]
    assert (create.request, create.arg) == (u.KVM_CREATE_VCPU, 3)
    assert target.request == u.KVM_ARM_PREFERRED_TARGET
    assert (init.fd, init.request) == (vcpu.fd, u.KVM_ARM_VCPU_INIT)
    assert init.arg == VCPU_INIT.pack(TARGET, 0, 0, 0, 0, 0, 0, 0)
    assert len(vm.calls) == 1  # one record, as the simulator's


def test_a_failed_init_is_the_creation_record_s_errno():
    fake = FakeKernel(fail={u.KVM_ARM_VCPU_INIT: errno.EINVAL})
    with host_vm(fake) as vm, pytest.raises(kvm.KvmError) as caught:
        vm.create_vcpu(0)
    assert caught.value.errno == errno.EINVAL
    assert "KVM_ARM_VCPU_INIT" in str(vm.calls[0])


def test_the_first_run_loads_the_guest_clear_of_the_gic_and_exits_on_mmio():
    fake = FakeKernel()
    with host_vm(fake) as vm:
        bring_up(vm)
        ((slot, base, size, address),) = fake.slots
        pcs = {fake.regs[v.fd, REG_PC] for v in vm.vcpus}
        x1 = {fake.regs[v.fd, REG_X1] for v in vm.vcpus}
        x2 = {fake.regs[v.fd, REG_X2] for v in vm.vcpus}
        code = bytes(fake.maps[0][: len(GUEST_CODE)])
        exits = [(v.exit_reason, v.mmio_address) for v in vm.vcpus]
        plumbing = list(vm.plumbing)
    assert pcs == {base}
    assert x1 == {base + size}
    assert x2 == {GUEST_MARK}
    assert code == GUEST_CODE
    assert address != 0
    assert slot == 0
    assert base + 2 * size <= 1 << 40
    for start, length in ((0x08000000, 0x10000), (0x080A0000, 0x40000),
                          (0x08080000, 0x20000)):  # fmt: skip
        assert base + 2 * size <= start or start + length <= base
    assert exits == [(u.KVM_EXIT_MMIO, base + size)] * 2
    assert plumbing[0].startswith("KVM_SET_USER_MEMORY_REGION(vm, slot 0, ")


def test_the_guest_avoids_a_gic_placed_at_the_top_of_the_ipa_space():
    fake = FakeKernel()
    top = (1 << 32) - 0x10000
    with host_vm(fake, 32) as vm:
        gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
        gic.set_attr(GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST, top)
        vm.create_vcpu(0).run()
    ((_slot, base, size, _address),) = fake.slots
    assert base + 2 * size <= top


def test_every_fd_and_mapping_is_released_on_close():
    fake = FakeKernel()
    vm = host_vm(fake)
    bring_up(vm)
    assert len(fake.open_fds) == 6  # /dev/kvm, VM, 2 vCPUs, GIC, ITS
    assert sorted(vm.open_fds) == sorted(fake.open_fds)
    vm.close()
    vm.close()  # idempotent
    assert fake.open_fds == set()
    assert vm.open_fds == []
    assert all(area.closed for area in fake.maps)
    assert vm.closed


def test_a_failure_inside_the_with_block_still_releases_everything():
    fake = FakeKernel(fail={u.KVM_CREATE_DEVICE: errno.ENODEV})
    with host_vm(fake) as vm:
        vm.create_vcpu(0).run()
        with pytest.raises(kvm.KvmError):
            vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V2)
        raise_inside = pytest.raises(ZeroDivisionError)
    with raise_inside, host_vm(fake) as second:
        second.create_vcpu(0).run()
        _ = 1 // 0
    assert fake.open_fds == set()
    assert all(area.closed for area in fake.maps)


def test_dropping_the_vm_releases_everything():
    fake = FakeKernel()
    vm = host_vm(fake)
    bring_up(vm)
    del vm
    gc.collect()
    assert fake.open_fds == set()


def test_a_refused_create_vm_closes_dev_kvm():
    fake = FakeKernel(fail={u.KVM_CREATE_VM: errno.EINVAL})
    with pytest.raises(kvm.KvmError) as caught:
        host_vm(fake, 52)
    assert caught.value.errno == errno.EINVAL
    assert str(caught.value) == (
        "KVM_CREATE_VM(ipa_bits=52) failed: EINVAL (host kernel: Invalid argument)"
    )
    assert fake.open_fds == set()


def test_a_closed_vm_refuses_calls_as_a_programming_error():
    vm = host_vm(FakeKernel())
    vm.close()
    with pytest.raises(RuntimeError, match="closed"):
        vm.create_vcpu(0)


def test_observers_see_host_calls_pending_then_done():
    seen: list[str] = []
    with host_vm(FakeKernel()) as vm:
        vm.add_observer(lambda c: seen.append(f"before {c}"),
                        lambda c: seen.append(f"after {c}"))  # fmt: skip
        vm.create_vcpu(0)
    assert seen == ["before KVM_CREATE_VCPU(vcpu0, 0) = ?",
                    "after KVM_CREATE_VCPU(vcpu0, 0) = 0"]  # fmt: skip


def test_vcpu_attributes_and_mpidr_are_named_as_the_simulator_names_them():
    fake = FakeKernel()
    sim = kvm.create_vm(40)
    with host_vm(fake) as vm:
        for v in (vm, sim):
            vcpu = v.create_vcpu(0)
            v.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
            vcpu.set_attr(
                u.KVM_ARM_VCPU_TIMER_CTRL, u.KVM_ARM_VCPU_TIMER_IRQ_VTIMER, 27
            )
            vcpu.has_attr(u.KVM_ARM_VCPU_TIMER_CTRL, u.KVM_ARM_VCPU_TIMER_IRQ_PTIMER)
            vcpu.mpidr = 0x80000001
            vcpu.init(0)
        host_calls = vm.calls
    assert without_reason(host_calls) == without_reason(sim.calls)


def test_create_vm_selects_the_backend_by_name():
    with pytest.raises(ValueError, match="'sim' or 'host'"):
        kvm.create_vm(40, backend="qemu")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="host's own kernel"):
        kvm.create_vm(40, semantics="v4.8", backend="host")


def test_check_extension_asks_the_vm_fd_and_is_plumbing_not_a_call():
    fake = FakeKernel()
    with host_vm(fake) as vm:
        before = len(vm.calls)

        assert vm.check_extension(u.KVM_CAP_ARM_PMU_V3) == 1

        last = fake.calls[-1]
        assert (last.fd, last.request, last.arg) == (
            vm.fd,
            u.KVM_CHECK_EXTENSION,
            u.KVM_CAP_ARM_PMU_V3,
        )
        assert len(vm.calls) == before
        assert vm.plumbing[-1] == f"KVM_CHECK_EXTENSION({u.KVM_CAP_ARM_PMU_V3}) = 1"


def test_attribute_numbers_and_vcpu_values_are_checked_and_read_at_their_width():
    # Mutants: the attr width (64), set_attr's default value (0), the read mask.
    fake = FakeKernel()
    with host_vm(fake) as vm:
        vcpu = vm.create_vcpu(0)
        gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
        gic.has_attr(GRP_ADDR, (1 << 64) - 1)
        nr_irqs = kvm.KVM_DEV_ARM_VGIC_GRP_NR_IRQS
        gic.set_attr(nr_irqs, 0, 0xFFFFFFFF)
        spis = gic.get_attr(nr_irqs, 0)  # a u32: the stand-in's carry is dropped
        with pytest.raises(ValueError, match=r"^attr 18446744073709551616 "):
            gic.has_attr(GRP_ADDR, 1 << 64)
        pmu = u.KVM_ARM_VCPU_PMU_V3_CTRL
        vcpu.set_attr(pmu, u.KVM_ARM_VCPU_PMU_V3_INIT)
        init_value = fake.attrs[vcpu.fd, pmu, u.KVM_ARM_VCPU_PMU_V3_INIT]
        vcpu.set_attr(pmu, u.KVM_ARM_VCPU_PMU_V3_IRQ, 0xFFFFFFFF)
        with pytest.raises(ValueError, match="is not a 32-bit unsigned"):
            vcpu.set_attr(pmu, u.KVM_ARM_VCPU_PMU_V3_IRQ, 1 << 32)
        # The stand-in answers stored + 1 as a u64; the IRQ is a u32.
        irq = vcpu.get_attr(pmu, u.KVM_ARM_VCPU_PMU_V3_IRQ)
        recorded = vm.calls[-3].value
    assert (init_value, recorded) == (0, 0)
    assert irq == 0
    assert spis == 0
