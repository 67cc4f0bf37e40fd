"""Shared builders for the machine.kvm tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from virtmodel.machine import kvm
from virtmodel.machine.kvm.eras import SemanticsName

ERAS = ("v6.1", "v4.8", "v4.8-rc1")
OLD_ERAS = ("v4.8", "v4.8-rc1")
ADDR = kvm.KVM_DEV_ARM_VGIC_GRP_ADDR
CTRL = kvm.KVM_DEV_ARM_VGIC_GRP_CTRL
NR_IRQS = kvm.KVM_DEV_ARM_VGIC_GRP_NR_IRQS
INIT = kvm.KVM_DEV_ARM_VGIC_CTRL_INIT
DIST = kvm.KVM_VGIC_V3_ADDR_TYPE_DIST
REDIST = kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST
REGION = kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION
ITS_ADDR = kvm.KVM_VGIC_ITS_ADDR_TYPE
IPA40 = 1 << 40


def fails(code: int, action: Callable[..., Any], *args: Any) -> kvm.KvmError:
    """Run *action* and return the KvmError it raises, checking its errno."""
    with pytest.raises(kvm.KvmError) as excinfo:
        action(*args)
    assert excinfo.value.errno == code, str(excinfo.value)
    return excinfo.value


def v3_vm(
    era: SemanticsName = "mainline", vcpus: int = 1, **vm_args: Any
) -> tuple[kvm.Vm, kvm.KvmDevice]:
    """Return a VM with *vcpus* vCPUs (ids 0..n-1) and a GICv3 device."""
    vm = kvm.create_vm(semantics=era, **vm_args)
    for vcpu_id in range(vcpus):
        vm.create_vcpu(vcpu_id)
    return vm, vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)


def v2_vm(
    era: SemanticsName = "mainline", vcpus: int = 1
) -> tuple[kvm.Vm, kvm.KvmDevice]:
    """Return a VM with *vcpus* vCPUs and a GICv2 device."""
    vm = kvm.create_vm(semantics=era)
    for vcpu_id in range(vcpus):
        vm.create_vcpu(vcpu_id)
    return vm, vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V2)


def set_redist(gic: kvm.KvmDevice, base: int, count: int = 0, index: int = 0) -> None:
    """Set a legacy REDIST (mainline and 2016) or, with *count*, a region."""
    if count:
        gic.set_attr(ADDR, REGION, kvm.redist_region_attr(count, base, 0, index))
    else:
        gic.set_attr(ADDR, REDIST, base)


def configured_v3(
    era: SemanticsName = "mainline", vcpus: int = 1
) -> tuple[kvm.Vm, kvm.KvmDevice]:
    """Return a GICv3 VM with DIST, a legacy REDIST and CTRL_INIT done."""
    vm, gic = v3_vm(era, vcpus)
    gic.set_attr(ADDR, DIST, 0x8000000)
    gic.set_attr(ADDR, REDIST, 0x80A0000)
    gic.set_attr(CTRL, INIT)
    return vm, gic
