"""The host VM's set-up calls: KVM_ENABLE_CAP and KVM_IOEVENTFD for real.

The same calls as the simulator's (:mod:`virtmodel.machine.kvm.vmcaps`),
recorded the same way; the eventfds are real (``eventfd(2)``), opened and
closed as plumbing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.calls import CallLog, KvmCall
from virtmodel.machine.kvm.device import check_int
from virtmodel.machine.kvm.host.abi import ENABLE_CAP, IOEVENTFD
from virtmodel.machine.kvm.vmcaps import enable_cap_args, ioeventfd_args

if TYPE_CHECKING:
    from virtmodel.machine.kvm.host.syscalls import Syscalls
    from virtmodel.machine.kvm.resource_names import Resource

__all__ = ["HostVmSetupCalls"]


class HostVmSetupCalls:
    """The host VM's set-up calls (a part of :class:`~.vm.HostVm`)."""

    syscalls: Syscalls
    log: CallLog
    #: The VM fd.
    fd: int
    kernel_call: Callable[[Callable[[], int]], int]
    raw: Callable[[str, Callable[[], int]], int]

    def enable_cap(self, cap: int, arg0: int = 0, flags: int = 0) -> None:
        """KVM_ENABLE_CAP on the VM, as the simulator's (the kernel's errno).

        Raises:
            KvmError: The kernel's errno.
            ValueError: A number does not fit its field.
        """
        args = enable_cap_args(cap, flags, (arg0, 0))
        buffer = bytearray(ENABLE_CAP.pack(cap, flags, arg0, 0, 0, 0))
        self._vm_call(
            "KVM_ENABLE_CAP", "kvm.vm.enable_cap", args, u.KVM_ENABLE_CAP, buffer, cap
        )

    def eventfd(self) -> int:
        """Open a real eventfd for :meth:`ioeventfd` (plumbing); return its fd."""
        return self.raw("eventfd()", self.syscalls.eventfd)

    def close_eventfd(self, fd: int) -> None:
        """Close an eventfd :meth:`eventfd` opened."""
        self.syscalls.close(fd)

    def ioeventfd(
        self, fd: int, addr: int, length: int, flags: int, datamatch: int = 0
    ) -> None:
        """KVM_IOEVENTFD, as the simulator's: assign or deassign an ioeventfd.

        Raises:
            KvmError: The kernel's errno.
            ValueError: A number does not fit its field.
        """
        check_int("fd", fd, 31)
        args = ioeventfd_args(addr, length, flags, datamatch)
        buffer = bytearray(IOEVENTFD.pack(datamatch, addr, length, fd, flags))
        self._vm_call(
            "KVM_IOEVENTFD", "kvm.vm.ioeventfd", args, u.KVM_IOEVENTFD, buffer
        )

    def _vm_call(
        self,
        ioctl: str,
        resource: Resource,
        args: str,
        request: int,
        buffer: bytearray,
        value: int | None = None,
    ) -> None:
        pending = KvmCall(-1, ioctl, "vm", None, None, value, resource, args=args)
        self.log.invoke(
            pending,
            lambda: self.kernel_call(
                lambda: self.syscalls.ioctl(self.fd, request, buffer)
            ),
        )
