"""The host backend makes QEMU 7.2's extra calls as the simulator records them."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from tests.machine.kvm.host.fakekernel import FakeKernel
from virtmodel.machine import kvm
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.host import create_host_vm
from virtmodel.machine.kvm.host.abi import ROUTING, ROUTING_IRQCHIP
from virtmodel.machine.kvm.routing import Route

SVE = 1 << u.KVM_ARM_VCPU_SVE


def qemu_calls(vm: object) -> None:
    vm.record_creation()  # type: ignore[attr-defined]
    vcpu = vm.create_vcpu(0, init=False)  # type: ignore[attr-defined]
    vcpu.init(SVE)
    vcpu.finalize(u.KVM_ARM_VCPU_SVE)
    vm.set_gsi_routing([Route(n, "irqchip", 0, n) for n in range(3)])  # type: ignore[attr-defined]


def test_the_records_match_the_simulators() -> None:
    fake = FakeKernel()
    with create_host_vm(40, syscalls=fake, check_arch=False) as vm:
        qemu_calls(vm)
        host = [dataclasses.replace(c, reason=None) for c in vm.calls]
    sim = kvm.create_vm(40, semantics="v6.1", host=kvm.LAB_HOST)
    qemu_calls(sim)

    assert host == [dataclasses.replace(c, reason=None) for c in sim.calls]


def test_the_ioctls_carry_the_uapi_structs() -> None:
    fake = FakeKernel()
    with create_host_vm(40, syscalls=fake, check_arch=False) as vm:
        qemu_calls(vm)
    by_request = {c.request: c.arg for c in fake.calls}

    assert by_request[u.KVM_ARM_VCPU_FINALIZE] == struct.pack("<i", 4)
    table = by_request[u.KVM_SET_GSI_ROUTING]
    assert isinstance(table, bytes)
    assert ROUTING.unpack_from(table) == (3, 0)
    entry = ROUTING_IRQCHIP.unpack_from(table, ROUTING.size + 2 * ROUTING_IRQCHIP.size)
    assert entry == (2, u.KVM_IRQ_ROUTING_IRQCHIP, 0, 0, 0, 2)


def test_an_msi_route_is_refused_before_the_kernel() -> None:
    fake = FakeKernel()
    with create_host_vm(40, syscalls=fake, check_arch=False) as vm:
        with pytest.raises(ValueError, match="irqchip pins only"):
            vm.set_gsi_routing([Route(0, "msi")])
        assert not [c for c in fake.calls if c.request == u.KVM_SET_GSI_ROUTING]
