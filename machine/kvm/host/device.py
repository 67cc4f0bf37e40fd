"""A KVM device fd on the host: set, get and has attribute as real ioctls.

Each call is named exactly as the simulator names it: the device keeps a
simulated device of its type (never attached to a VM) only to borrow its
group and attribute names, its resource names and its value widths, so a
host record and a simulated record of the same call compare equal. The
value travels through a u64 buffer whose address goes into struct
kvm_device_attr, as the C API wants.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, cast

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.device import KvmDevice, check_int
from virtmodel.machine.kvm.errors import KvmError
from virtmodel.machine.kvm.host.abi import DEVICE_ATTR
from virtmodel.machine.kvm.its import ItsDevice
from virtmodel.machine.kvm.vfio import VfioDevice
from virtmodel.machine.kvm.vgic import VgicDevice

if TYPE_CHECKING:
    from virtmodel.machine.kvm.host.vm import HostVm
    from virtmodel.machine.kvm.vm import Vm

__all__ = ["HostDevice", "attr_ioctl"]

_REQUESTS = {
    "KVM_SET_DEVICE_ATTR": u.KVM_SET_DEVICE_ATTR,
    "KVM_GET_DEVICE_ATTR": u.KVM_GET_DEVICE_ATTR,
    "KVM_HAS_DEVICE_ATTR": u.KVM_HAS_DEVICE_ATTR,
}


class _OtherDevice(KvmDevice):
    """Names for a device type the simulator does not model."""

    def _resource(self, group: int, attr: int) -> str:
        return f"kvm.device.group{group}"


def _namer(type_id: int, label: str) -> KvmDevice:
    nobody = cast("Vm", None)  # the namer never reaches its VM
    if type_id in (c.KVM_DEV_TYPE_ARM_VGIC_V2, c.KVM_DEV_TYPE_ARM_VGIC_V3):
        return VgicDevice(nobody, type_id, label)
    if type_id == c.KVM_DEV_TYPE_ARM_VGIC_ITS:
        return ItsDevice(nobody, label)
    if type_id == c.KVM_DEV_TYPE_VFIO:
        return VfioDevice(nobody, label)
    return _OtherDevice(nobody, type_id, label)


def attr_ioctl(
    vm: HostVm, fd: int, ioctl: str, group: int, attr: int, value: int | None, bits: int
) -> int:
    """Issue a device-attribute *ioctl* on *fd*; return the value it leaves.

    ``value=None`` passes a NULL pointer, as the simulator's None means.

    Raises:
        OSError: The kernel's errno.
    """
    cell = ctypes.c_uint64(value if value is not None else 0)
    address = ctypes.addressof(cell) if value is not None else 0
    if ioctl == "KVM_HAS_DEVICE_ATTR":
        address = 0
    arg = bytearray(DEVICE_ATTR.pack(0, group, attr, address))
    vm.syscalls.ioctl(fd, _REQUESTS[ioctl], arg)
    if ioctl != "KVM_GET_DEVICE_ATTR":
        return 0
    return cell.value & ((1 << bits) - 1)


class HostDevice:
    """A device made by :meth:`HostVm.create_device`.

    Raises:
        KvmError: From every call the kernel refuses (``.errno`` is its errno).
    """

    def __init__(self, vm: HostVm, type_id: int, label: str, fd: int) -> None:
        #: The VM the device belongs to.
        self.vm = vm
        #: KVM_DEV_TYPE_* number.
        self.type_id = type_id
        #: Name used in traces, as the simulator's: ``vgic-v3``, ``its``...
        self.label = label
        #: The device fd the kernel returned.
        self.fd = fd
        self._names = _namer(type_id, label)

    def __repr__(self) -> str:
        return f"<HostDevice {self.label!r} fd={self.fd}>"

    def set_attr(self, group: int, attr: int, value: int | None = 0) -> None:
        """KVM_SET_DEVICE_ATTR; ``value=None`` passes a NULL pointer (EFAULT).

        Raises:
            KvmError: The kernel refuses the attribute or its value.
            ValueError: An argument is not an unsigned integer of its width.
        """
        self._call("KVM_SET_DEVICE_ATTR", group, attr, value)

    def get_attr(self, group: int, attr: int, value: int | None = 0) -> int:
        """KVM_GET_DEVICE_ATTR; *value* carries any input (a region index).

        Raises:
            KvmError: The kernel refuses the read.
            ValueError: An argument is not an unsigned integer of its width.
        """
        return self._call("KVM_GET_DEVICE_ATTR", group, attr, value)

    def has_attr(self, group: int, attr: int) -> None:
        """KVM_HAS_DEVICE_ATTR: return if the kernel supports the attribute.

        Raises:
            KvmError: The kernel answers with an errno (ENXIO: unsupported).
            ValueError: An argument is not an unsigned integer of its width.
        """
        self._call("KVM_HAS_DEVICE_ATTR", group, attr, None)

    def check_attr(self, group: int, attr: int) -> bool:
        """Return whether :meth:`has_attr` succeeds, as QEMU's probe does.

        Raises:
            ValueError: An argument is not an unsigned integer of its width.
        """
        try:
            self.has_attr(group, attr)
        except KvmError:
            return False
        return True

    def _call(self, ioctl: str, group: int, attr: int, value: int | None) -> int:
        group = check_int("group", group, 32)
        attr = check_int("attr", attr, 64)
        bits = self._names._value_bits(group)
        if value is not None:
            check_int(f"value for {c.group_name(group)}", value, bits)
        pending = self._names._pending(ioctl, group, attr, value)

        def action() -> int:
            result = self.vm.kernel_call(
                lambda: attr_ioctl(self.vm, self.fd, ioctl, group, attr, value, bits)
            )
            if ioctl == "KVM_SET_DEVICE_ATTR" and group == c.KVM_DEV_ARM_VGIC_GRP_ADDR:
                self.vm.note_address(self.type_id, attr, value)
            return result

        return self.vm.log.invoke(pending, action)
