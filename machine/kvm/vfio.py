"""The KVM-VFIO pseudo device (KVM_DEV_TYPE_VFIO), as Linux 6.1 registers it.

Every arm64 host has it (virt/kvm/vfio.c). A VM may hold one. Its only group,
KVM_DEV_VFIO_GROUP, adds or removes a VFIO group file by descriptor; the
model holds no VFIO groups, so an open descriptor is "not a VFIO group"
(EINVAL on add, ENOENT on delete) and a closed one is EBADF. Whether a
descriptor is open is the calling process's business: :attr:`Vm.open_file`.
The device has no get_attr: KVM_GET_DEVICE_ATTR answers EPERM.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Final, final

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm.device import KvmDevice
from virtmodel.machine.kvm.errors import refuse

if TYPE_CHECKING:
    from virtmodel.machine.kvm.vm import Vm

KVM_DEV_VFIO_GROUP: Final = 1
KVM_DEV_VFIO_GROUP_ADD: Final = 1
KVM_DEV_VFIO_GROUP_DEL: Final = 2


@final
class VfioDevice(KvmDevice):
    """The VM's KVM-VFIO device.

    Raises:
        KvmError: From every attribute call the kernel refuses.
    """

    def __init__(self, vm: Vm, label: str) -> None:
        super().__init__(vm, c.KVM_DEV_TYPE_VFIO, label)

    def _value_bits(self, group: int) -> int:
        return 32  # a file descriptor (int32)

    def _resource(self, group: int, attr: int) -> str:
        return f"kvm.vfio.group{group}"

    def _set(self, group: int, attr: int, value: int | None) -> None:
        if group != KVM_DEV_VFIO_GROUP or attr not in (
            KVM_DEV_VFIO_GROUP_ADD,
            KVM_DEV_VFIO_GROUP_DEL,
        ):
            refuse(errno.ENXIO, f"no VFIO attribute {attr} in group {group}")
        if value is None:
            refuse(errno.EFAULT, "NULL value pointer")
        fd = value - (1 << 32) if value & 0x80000000 else value
        if fd < 0 or not self.vm.open_file(fd):
            refuse(errno.EBADF, f"descriptor {fd} is not open")
        if attr == KVM_DEV_VFIO_GROUP_ADD:
            refuse(errno.EINVAL, f"descriptor {fd} is not a VFIO group")
        refuse(errno.ENOENT, f"descriptor {fd} was never added")

    def _get(self, group: int, attr: int, value: int | None) -> int:
        refuse(errno.EPERM, "the VFIO device has no readable attributes")

    def _has(self, group: int, attr: int, value: int | None = None) -> None:
        known = (KVM_DEV_VFIO_GROUP_ADD, KVM_DEV_VFIO_GROUP_DEL)
        if group != KVM_DEV_VFIO_GROUP or attr not in known:
            refuse(errno.ENXIO, f"no VFIO attribute {attr} in group {group}")
