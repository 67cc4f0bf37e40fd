"""A vCPU on the host's KVM: init, MPIDR, vCPU attributes and a bounded run.

The records match the simulator's :class:`virtmodel.machine.kvm.Vcpu`
call for call. The first KVM_RUN of a vCPU first points it at the VM's
tiny guest (PC at the code page, X1 at the unbacked page after it, X2 the
value to store) and maps its kvm_run area; then the run performs the
kernel's first-run checks and, when they pass, comes back with
KVM_EXIT_MMIO. Each KVM_RUN is bounded by a timer (EINTR when it expires).
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import struct
from typing import TYPE_CHECKING, final

from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm import vcpu_attrs
from virtmodel.machine.kvm.calls import KvmCall
from virtmodel.machine.kvm.device import check_int
from virtmodel.machine.kvm.errors import KvmError
from virtmodel.machine.kvm.host.abi import (
    DEVICE_ATTR,
    GUEST_MARK,
    ONE_REG,
    REG_MPIDR_EL1,
    REG_PC,
    REG_X1,
    REG_X2,
    RUN_EXIT_REASON,
    RUN_MMIO_PHYS_ADDR,
    vcpu_init,
)
from virtmodel.machine.kvm.host.syscalls import bounded_ioctl, kernel_reason

if TYPE_CHECKING:
    from collections.abc import Callable

    from virtmodel.machine.kvm.host.vm import HostVm

__all__ = ["HostVcpu"]

_ATTR_REQUESTS = {
    "KVM_SET_DEVICE_ATTR": u.KVM_SET_DEVICE_ATTR,
    "KVM_GET_DEVICE_ATTR": u.KVM_GET_DEVICE_ATTR,
    "KVM_HAS_DEVICE_ATTR": u.KVM_HAS_DEVICE_ATTR,
}
_REG_NAMES = {REG_PC: "PC", REG_X1: "X1", REG_X2: "X2", REG_MPIDR_EL1: "MPIDR_EL1"}


@final
class HostVcpu:
    """A vCPU made by :meth:`HostVm.create_vcpu`.

    Raises:
        KvmError: From every call the kernel refuses.
    """

    def __init__(self, vm: HostVm, vcpu_id: int, fd: int) -> None:
        #: The VM.
        self.vm = vm
        #: The KVM_CREATE_VCPU id.
        self.vcpu_id = vcpu_id
        #: The vCPU fd.
        self.fd = fd
        #: The last KVM_RUN's exit reason (KVM_EXIT_*), None before a run.
        self.exit_reason: int | None = None
        #: The guest physical address of the last MMIO exit.
        self.mmio_address: int | None = None
        self._run: mmap.mmap | None = None

    def __repr__(self) -> str:
        return f"<HostVcpu {self.vcpu_id} fd={self.fd}>"

    @property
    def label(self) -> str:
        """Trace name, ``vcpu<id>``."""
        return f"vcpu{self.vcpu_id}"

    # -- registers ------------------------------------------------------------

    def set_reg(self, reg: int, value: int) -> int:
        """KVM_SET_ONE_REG of a 64-bit register (plumbing; OSError propagates)."""
        cell = ctypes.c_uint64(value)
        arg = bytearray(ONE_REG.pack(reg, ctypes.addressof(cell)))
        name = _REG_NAMES.get(reg, f"0x{reg:x}")
        return self.vm.raw(
            f"KVM_SET_ONE_REG({self.label}, {name}, 0x{value:x})",
            lambda: self.vm.syscalls.ioctl(self.fd, u.KVM_SET_ONE_REG, arg),
        )

    def get_reg(self, reg: int) -> int:
        """KVM_GET_ONE_REG of a 64-bit register (OSError propagates)."""
        cell = ctypes.c_uint64(0)
        arg = bytearray(ONE_REG.pack(reg, ctypes.addressof(cell)))
        self.vm.syscalls.ioctl(self.fd, u.KVM_GET_ONE_REG, arg)
        return cell.value

    @property
    def mpidr(self) -> int:
        """MPIDR_EL1 as the kernel has it (KVM_GET_ONE_REG; not recorded).

        Raises:
            KvmError: The kernel's errno (ENOEXEC before KVM_ARM_VCPU_INIT).
        """
        try:
            return self.get_reg(REG_MPIDR_EL1)
        except OSError as exc:
            code = exc.errno or errno.EIO
            head = f"KVM_GET_ONE_REG({self.label}, MPIDR_EL1)"
            raise KvmError(code, head, kernel_reason(code)) from None

    @mpidr.setter
    def mpidr(self, value: int) -> None:
        check_int("mpidr", value, 64)

        def action() -> int:
            return self.vm.kernel_call(lambda: self.set_reg(REG_MPIDR_EL1, value))

        self._invoke("KVM_SET_ONE_REG", "kvm.vcpu.mpidr", "MPIDR_EL1", value, action)

    # -- init -------------------------------------------------------------------

    def init_ioctl(self, features: int, target: int) -> int:
        """Issue KVM_ARM_VCPU_INIT (OSError propagates)."""
        arg = vcpu_init(target, features)
        return self.vm.syscalls.ioctl(self.fd, u.KVM_ARM_VCPU_INIT, arg)

    def init(self, features: int = 0, target: int | None = None) -> None:
        """KVM_ARM_VCPU_INIT with *features*; *target* defaults to the preferred.

        Raises:
            KvmError: The kernel's errno (EINVAL, ENOENT...).
            ValueError: *features* or *target* is not a u32.
        """
        check_int("features", features, 32)
        if target is not None:
            check_int("target", target, 32)

        def action() -> int:
            chosen = target
            if chosen is None:
                chosen = self.vm.kernel_call(
                    self.vm._preferred, "KVM_ARM_PREFERRED_TARGET"
                )
            return self.vm.kernel_call(lambda: self.init_ioctl(features, chosen))

        self._invoke("KVM_ARM_VCPU_INIT", "kvm.vcpu.init", None, features, action)

    def finalize(self, what: int = u.KVM_ARM_VCPU_SVE) -> None:
        """KVM_ARM_VCPU_FINALIZE of feature *what* (SVE).

        Raises:
            KvmError: The kernel's errno (ENOEXEC, EINVAL, EPERM).
            ValueError: *what* is not a u32.
        """
        check_int("what", what, 32)
        arg = bytearray(struct.pack("<i", what))

        def action() -> int:
            return self.vm.kernel_call(
                lambda: self.vm.syscalls.ioctl(self.fd, u.KVM_ARM_VCPU_FINALIZE, arg)
            )

        self._invoke("KVM_ARM_VCPU_FINALIZE", "kvm.vcpu.finalize", None, what, action)

    # -- vCPU attributes ---------------------------------------------------------

    def set_attr(self, group: int, attr: int, value: int | None = 0) -> None:
        """KVM_SET_DEVICE_ATTR on the vCPU fd; ``value=None`` is a NULL pointer.

        Raises:
            KvmError: The kernel refuses the attribute or its value.
            ValueError: An argument is not an unsigned integer of its width.
        """
        self._attr_call("KVM_SET_DEVICE_ATTR", group, attr, value)

    def get_attr(self, group: int, attr: int, value: int | None = 0) -> int:
        """KVM_GET_DEVICE_ATTR on the vCPU fd; returns the value read.

        Raises:
            KvmError: The kernel refuses the read.
            ValueError: An argument is not an unsigned integer of its width.
        """
        return self._attr_call("KVM_GET_DEVICE_ATTR", group, attr, value)

    def has_attr(self, group: int, attr: int) -> None:
        """KVM_HAS_DEVICE_ATTR on the vCPU fd.

        Raises:
            KvmError: ENXIO for an attribute this vCPU does not have.
            ValueError: An argument is not an unsigned integer of its width.
        """
        self._attr_call("KVM_HAS_DEVICE_ATTR", group, attr, None)

    def _attr_call(self, ioctl: str, group: int, attr: int, value: int | None) -> int:
        check_int("group", group, 32)
        check_int("attr", attr, 64)
        bits = 8 * vcpu_attrs.value_bytes(group, attr)
        if value is not None:
            check_int("value", value, bits)
        name = u.VCPU_GROUP_NAMES.get(group, f"group {group}")

        def kernel() -> int:
            cell = ctypes.c_uint64(value if value is not None else 0)
            address = ctypes.addressof(cell) if value is not None else 0
            arg = bytearray(DEVICE_ATTR.pack(0, group, attr, address))
            self.vm.syscalls.ioctl(self.fd, _ATTR_REQUESTS[ioctl], arg)
            read = ioctl == "KVM_GET_DEVICE_ATTR"
            return cell.value & ((1 << bits) - 1) if read else 0

        resource = f"kvm.vcpu.attr.{name.lower()}"
        return self._invoke(
            ioctl,
            resource,
            u.VCPU_ATTR_NAMES.get((group, attr), str(attr)),
            value,
            lambda: self.vm.kernel_call(kernel),
            group=name,
        )

    # -- run ----------------------------------------------------------------------

    def run(self) -> int:
        """KVM_RUN, bounded by ``vm.run_seconds``; the first one sets the guest up.

        Raises:
            KvmError: The kernel's errno: the first-run checks (ENXIO,
                EINVAL, EBUSY), ENOEXEC (not initialised), EIO (dead VM),
                EINTR (the run did not end in time).
        """

        def action() -> int:
            if self._run is None:
                self._run = self.vm.kernel_call(self._prepare, "setting up the guest")
            self.vm.kernel_call(
                lambda: bounded_ioctl(
                    self.vm.syscalls, self.fd, u.KVM_RUN, self.vm.run_seconds
                )
            )
            self._read_exit(self._run)
            return 0

        return self._invoke("KVM_RUN", "kvm.vcpu.run", None, None, action)

    def _prepare(self) -> mmap.mmap:
        window = self.vm.guest_window()
        self.set_reg(REG_PC, window.code)
        self.set_reg(REG_X1, window.mmio)
        self.set_reg(REG_X2, GUEST_MARK)
        return self.vm.run_area(self.fd)

    def _read_exit(self, area: mmap.mmap) -> None:
        (self.exit_reason,) = struct.unpack_from("<I", area, RUN_EXIT_REASON)
        if self.exit_reason == u.KVM_EXIT_MMIO:
            (self.mmio_address,) = struct.unpack_from("<Q", area, RUN_MMIO_PHYS_ADDR)

    def _invoke(
        self,
        ioctl: str,
        resource: str,
        attr: str | None,
        value: int | None,
        action: Callable[[], int],
        group: str | None = None,
    ) -> int:
        pending = KvmCall(
            seq=-1,
            ioctl=ioctl,
            device=self.label,
            group=group,
            attr=attr,
            value=value,
            resource=resource,
        )
        return self.vm.log.invoke(pending, action)
