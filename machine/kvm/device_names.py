"""What a created KVM device is called in the call record: label and resource.

Both backends (the simulator's :class:`~virtmodel.machine.kvm.vm.Vm` and the
host's :class:`~virtmodel.machine.kvm.host.vm.HostVm`) name a device the same
way, so a trace reads the same whoever answered: ``vgic-v3``, ``its``,
``its1``, ``vfio``, ``device-type-<n>``.
"""

from __future__ import annotations

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm.resource_names import Resource


def device_label(type_id: int, its_count: int) -> str:
    """Return the label of a new device of *type_id*.

    *its_count* is how many ITS devices the VM already has: the first ITS
    is ``its``, the next ``its1`` and so on.
    """
    if type_id == c.KVM_DEV_TYPE_ARM_VGIC_V2:
        return "vgic-v2"
    if type_id == c.KVM_DEV_TYPE_ARM_VGIC_V3:
        return "vgic-v3"
    if type_id == c.KVM_DEV_TYPE_ARM_VGIC_ITS:
        return f"its{its_count}" if its_count else "its"
    if type_id == c.KVM_DEV_TYPE_VFIO:
        return "vfio"
    return f"device-type-{type_id}"


def create_resource(type_id: int) -> Resource:
    """Return the resource KVM_CREATE_DEVICE of *type_id* touches."""
    if type_id in (c.KVM_DEV_TYPE_ARM_VGIC_V2, c.KVM_DEV_TYPE_ARM_VGIC_V3):
        return "kvm.vgic.create"
    if type_id == c.KVM_DEV_TYPE_ARM_VGIC_ITS:
        return "kvm.its.create"
    return "kvm.device.create"
