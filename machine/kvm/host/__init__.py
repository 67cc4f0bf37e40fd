"""The host backend of ``machine.kvm``: the same API on the real ``/dev/kvm``.

``kvm.create_vm(backend="host")`` (or :func:`create_host_vm`) issues the
real arm64 KVM ioctls through ``fcntl.ioctl`` with the UAPI structures
packed by :mod:`struct` and :mod:`ctypes`; no compiled extension. Every call
lands in ``vm.calls`` as the simulator's :class:`~virtmodel.machine.kvm.KvmCall`
with the kernel's answer. Without an arm64 Linux host, without /dev/kvm or
without permission, :class:`KvmUnavailable` says which, in one line.
"""

from __future__ import annotations

from virtmodel.machine.kvm.host.access import (
    DEV_KVM,
    KvmUnavailable,
    check_host,
    open_kvm,
)
from virtmodel.machine.kvm.host.device import HostDevice
from virtmodel.machine.kvm.host.syscalls import Syscalls
from virtmodel.machine.kvm.host.vcpu import HostVcpu
from virtmodel.machine.kvm.host.vm import (
    DEFAULT_RUN_SECONDS,
    HostVm,
    create_host_vm,
)

__all__ = [
    "DEFAULT_RUN_SECONDS",
    "DEV_KVM",
    "HostDevice",
    "HostVcpu",
    "HostVm",
    "KvmUnavailable",
    "Syscalls",
    "check_available",
    "check_host",
    "create_host_vm",
    "open_kvm",
]


def check_available(path: str = DEV_KVM, syscalls: Syscalls | None = None) -> None:
    """Check that :func:`create_host_vm` can work here; leave nothing open.

    Raises:
        KvmUnavailable: Not arm64 Linux, no *path*, no permission, not KVM.
    """
    check_host()
    syscalls = syscalls if syscalls is not None else Syscalls()
    syscalls.close(open_kvm(syscalls, path))
