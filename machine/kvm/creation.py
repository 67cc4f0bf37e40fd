"""KVM_CREATE_VCPU and KVM_CREATE_DEVICE in the simulated kernel.

What each call checks, in the kernel's order, and what it creates: the
vCPU (with its redistributor frame when 4.12+ hands one out at creation,
§5 C) and the vGIC, ITS or VFIO device. :class:`~virtmodel.machine.kvm.vm.Vm`
records the call; these functions are its body, raising
:class:`~virtmodel.machine.kvm.errors.Refusal` to fail it.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm.addresses import base_problem, free_slot
from virtmodel.machine.kvm.device import KvmDevice
from virtmodel.machine.kvm.errors import refuse
from virtmodel.machine.kvm.its import ItsDevice
from virtmodel.machine.kvm.state import INITIAL_BASER, VcpuState, VgicState
from virtmodel.machine.kvm.vcpu import Vcpu
from virtmodel.machine.kvm.vfio import VfioDevice
from virtmodel.machine.kvm.vgic import VgicDevice

if TYPE_CHECKING:
    from virtmodel.machine.kvm.vm import Vm


def new_vcpu(vm: Vm, vcpu_id: int, init: bool) -> Vcpu:
    """Create vCPU *vcpu_id* in *vm* (``init``: already KVM_ARM_VCPU_INIT'ed).

    Generic checks, then kvm_arch_vcpu_precreate, then the vGIC's per-vCPU
    init, then the duplicate id (§2.3).

    Raises:
        Refusal: EINVAL, EBUSY or EEXIST (see ``Vm.create_vcpu``).
    """
    if vcpu_id >= c.KVM_MAX_VCPU_IDS:
        refuse(errno.EINVAL, f"vcpu id {vcpu_id} is not below {c.KVM_MAX_VCPU_IDS}")
    if len(vm.vcpus) >= vm.max_vcpus:
        refuse(
            errno.EINVAL,
            f"the VM already has its maximum of {vm.max_vcpus} vcpus",
        )
    if vm.vgic.in_kernel and vm.vgic.initialized:
        refuse(errno.EBUSY, "the vGIC is already initialized")
    if vcpu_id >= vm.max_vcpus:
        refuse(errno.EINVAL, f"vcpu id {vcpu_id} is not below {vm.max_vcpus}")
    region = None
    if vm.vgic.model == c.KVM_DEV_TYPE_ARM_VGIC_V3 and vm.semantics.eager_redist_frames:
        region = free_slot(vm)
        problem = base_problem(vm) if region is not None else None
        if problem is not None:
            refuse(errno.EINVAL, f"vcpu {vcpu_id}: {problem}")
    if any(v.vcpu_id == vcpu_id for v in vm.vcpus):
        if region is not None:
            # The frame was handed out before the duplicate id was
            # noticed, and destroying the vCPU does not give it back.
            region.free_index += 1
        refuse(errno.EEXIST, f"vcpu {vcpu_id} already exists")
    state = VcpuState(
        vcpu_id=vcpu_id,
        index=len(vm.vcpus),
        initialized=init,
        mpidr=-1 if init else 0,
    )
    vcpu = Vcpu(vm, state)
    if region is not None:
        vcpu.state.rdreg, vcpu.state.rdreg_index = region, region.free_index
        region.free_index += 1
    vm.vcpus.append(vcpu)
    return vcpu


def new_device(vm: Vm, type_id: int, test: bool, label: str) -> KvmDevice | None:
    """Create a device of *type_id* called *label* in *vm* (None: ``test``).

    Raises:
        Refusal: ENODEV, EEXIST, EBUSY or E2BIG (see ``Vm.create_device``).
    """
    registered = {
        c.KVM_DEV_TYPE_ARM_VGIC_V2: vm.host.can_emulate_v2,
        c.KVM_DEV_TYPE_ARM_VGIC_V3: vm.host.can_emulate_v3,
        c.KVM_DEV_TYPE_ARM_VGIC_ITS: vm.host.can_emulate_v3,
        c.KVM_DEV_TYPE_VFIO: True,  # virt/kvm/vfio.c, on every host
    }
    if not registered.get(type_id, False):
        name = c.DEVICE_TYPE_NAMES.get(type_id, f"device type {type_id}")
        refuse(errno.ENODEV, f"{name} is not available on this host")
    if test:
        return None
    if type_id == c.KVM_DEV_TYPE_VFIO:
        if any(isinstance(d, VfioDevice) for d in vm.devices):
            refuse(errno.EBUSY, "the VM already has a VFIO device")
        vfio = VfioDevice(vm, label)
        vm.devices.append(vfio)
        return vfio
    if type_id == c.KVM_DEV_TYPE_ARM_VGIC_ITS:
        its = ItsDevice(vm, label)
        vm.vgic.propbaser = INITIAL_BASER
        vm.devices.append(its)
        return its
    gic = vm.vgic
    if gic.in_kernel:
        have = "vgic-v2" if gic.model == c.KVM_DEV_TYPE_ARM_VGIC_V2 else "vgic-v3"
        refuse(errno.EEXIST, f"the VM already has a {have}")
    if any(v.state.has_run_once for v in vm.vcpus):
        refuse(errno.EBUSY, "a vcpu has already run")
    limit = (
        c.VGIC_V2_MAX_CPUS
        if type_id == c.KVM_DEV_TYPE_ARM_VGIC_V2
        else c.VGIC_V3_MAX_CPUS
    )
    if len(vm.vcpus) > limit:
        refuse(
            errno.E2BIG,
            f"{len(vm.vcpus)} vcpus exceed the {label} limit of {limit}",
        )
    # kvm_vgic_create leaves PROPBASER (which an ITS may have set) alone.
    vm.vgic = VgicState(
        model=type_id,
        nassgicap=vm.host.gicv4_1_vsgi,
        propbaser=vm.vgic.propbaser,
    )
    vm.max_vcpus = limit
    device = VgicDevice(vm, type_id, label)
    vm.devices.append(device)
    return device
