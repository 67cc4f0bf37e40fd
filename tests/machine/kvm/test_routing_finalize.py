"""KVM_SET_GSI_ROUTING, KVM_ARM_VCPU_FINALIZE and the VM's creation record (6.1)."""

from __future__ import annotations

import errno

import pytest

from virtmodel.machine import kvm
from virtmodel.machine.kvm import uapi
from virtmodel.machine.kvm.routing import Route, summarize_routes


def lab_vm() -> kvm.Vm:
    return kvm.create_vm(semantics="v6.1", host=kvm.LAB_HOST)


def test_creation_is_recorded_with_the_ipa_size_as_type() -> None:
    vm = kvm.create_vm(ipa_bits=36, semantics="v6.1", host=kvm.LAB_HOST)
    vm.record_creation()

    assert str(vm.calls[0]) == "KVM_CREATE_VM(vm, type=36) = 0"
    assert vm.calls[0].resource == "kvm.vm.create"


def test_qemus_spi_table_is_taken_and_summarized() -> None:
    vm = lab_vm()
    routes = [Route(n, "irqchip", 0, n) for n in range(256)]

    vm.set_gsi_routing(routes)

    assert vm.routes == tuple(routes)
    assert vm.calls[-1].attr == "256 entries: gsi 0-255 irqchip 0 pin 0-255"


@pytest.mark.parametrize(
    ("routes", "flags"),
    [
        ([Route(0)], 1),
        ([Route(n) for n in range(4097)], 0),
        ([Route(4096)], 0),
        ([Route(0, chip=1)], 0),
        ([Route(0, pin=988)], 0),
        ([Route(0, "type9")], 0),
    ],
    ids=["flags", "too-many", "gsi", "chip", "pin", "type"],
)
def test_tables_61_refuses_answer_einval(routes: list[Route], flags: int) -> None:
    vm = lab_vm()

    with pytest.raises(kvm.KvmError) as refused:
        vm.set_gsi_routing(routes, flags)

    assert refused.value.errno == errno.EINVAL
    assert vm.routes == ()


def test_msi_entries_are_taken_and_counted() -> None:
    vm = lab_vm()
    routes = [Route(0, "irqchip", 0, 5), Route(1, "irqchip", 0, 7), Route(2, "msi")]

    vm.set_gsi_routing(routes)

    assert summarize_routes(routes) == (
        "3 entries: gsi 0 irqchip 0 pin 5, gsi 1 irqchip 0 pin 7, 1 msi"
    )
    assert summarize_routes([]) == "0 entries"


def test_a_negative_pin_is_a_python_mistake() -> None:
    with pytest.raises(ValueError, match="pin"):
        lab_vm().set_gsi_routing([Route(0, pin=-1)])


SVE = 1 << uapi.KVM_ARM_VCPU_SVE


def test_an_sve_vcpu_runs_once_finalized() -> None:
    vm = lab_vm()
    vcpu = vm.create_vcpu(0, init=False)
    vcpu.init(SVE)

    vcpu.finalize(uapi.KVM_ARM_VCPU_SVE)

    assert vcpu.state.sve_finalized
    assert str(vm.calls[-1]) == "KVM_ARM_VCPU_FINALIZE(vcpu0, 4) = 0"


@pytest.mark.parametrize(
    ("features", "init", "what", "twice", "code"),
    [
        (SVE, False, uapi.KVM_ARM_VCPU_SVE, False, errno.ENOEXEC),
        (SVE, True, 0, False, errno.EINVAL),
        (0, True, uapi.KVM_ARM_VCPU_SVE, False, errno.EINVAL),
        (SVE, True, uapi.KVM_ARM_VCPU_SVE, True, errno.EPERM),
    ],
    ids=["uninitialized", "not-sve", "no-sve-feature", "twice"],
)
def test_finalize_refusals(
    features: int, init: bool, what: int, twice: bool, code: int
) -> None:
    vcpu = lab_vm().create_vcpu(0, init=False)
    if init:
        vcpu.init(features)
    if twice:
        vcpu.finalize(what)

    with pytest.raises(kvm.KvmError) as refused:
        vcpu.finalize(what)

    assert refused.value.errno == code


def test_an_unfinalized_sve_vcpu_cannot_run() -> None:
    vcpu = lab_vm().create_vcpu(0, init=False)
    vcpu.init(SVE)

    with pytest.raises(kvm.KvmError) as refused:
        vcpu.run()

    assert refused.value.errno == errno.EPERM
