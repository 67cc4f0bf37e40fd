"""VM-wide set-up calls: capability answers, KVM_ENABLE_CAP and KVM_IOEVENTFD.

QEMU 7.2's ``kvm_init`` makes these right after KVM_CREATE_VM (measured in
the lab on Linux 6.1): it asks for KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 and
enables it with the answer's manual-protect and initially-set bits, enables
KVM_CAP_ARM_NISV_TO_USER when the kernel has it, and assigns then deassigns
seven PIO ioeventfds to learn whether the kernel's I/O bus takes many.

The rules are Linux 6.1's. The 2016 kernels (4.8, 4.8-rc1) predate both
capabilities: MANUAL_DIRTY_LOG_PROTECT2 (number 168) came with Linux 5.2 as
the corrected successor of 5.0's MANUAL_DIRTY_LOG_PROTECT, its
INITIALLY_SET bit with 5.7, and NISV_TO_USER (177) with 5.5. Those versions
are read from the capability numbers' order and kernel history, not checked
against each release; what matters here is only that 4.8 answers 0 for
both, so QEMU enables neither. Their KVM_ENABLE_CAP on a VM refuses every
capability with EINVAL (arm64 had no VM capability to enable then; whether
4.8 reached the arch's EINVAL or another errno is not verified). Their
KVM_IOEVENTFD checks are taken to be 6.1's: the length and flag rules date
from before 2016 (assumed, not verified per release).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Final

from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.calls import CallLog, KvmCall
from virtmodel.machine.kvm.device import check_int
from virtmodel.machine.kvm.errors import refuse
from virtmodel.machine.kvm.semantics import Semantics

__all__ = [
    "Ioeventfd",
    "VmSetupCalls",
    "check_extension",
    "enable_cap",
    "enable_cap_args",
    "ioeventfd",
    "ioeventfd_args",
]

#: The manual dirty-log bits 6.1 offers on arm64 (and accepts enabled).
DIRTY_LOG_MANUAL_CAPS: Final = (
    u.KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | u.KVM_DIRTY_LOG_INITIALLY_SET
)
#: Every flag 6.1's KVM_IOEVENTFD knows.
_IOEVENTFD_FLAGS: Final = (
    u.KVM_IOEVENTFD_FLAG_DATAMATCH
    | u.KVM_IOEVENTFD_FLAG_PIO
    | u.KVM_IOEVENTFD_FLAG_DEASSIGN
    | u.KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY
)
#: The lengths an ioeventfd may watch (0: any length, without datamatch).
_LENGTHS: Final = frozenset({0, 1, 2, 4, 8})


def check_extension(semantics: Semantics, cap: int) -> int:
    """Return a VM's KVM_CHECK_EXTENSION answer for the set-up capabilities.

    Only the two capabilities QEMU enables at set-up are modelled; any other
    is answered 0 (not offered), which is what an unknown number gets.
    """
    if semantics.name != "v6.1":
        return 0
    if cap == u.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2:
        return DIRTY_LOG_MANUAL_CAPS
    return int(cap == u.KVM_CAP_ARM_NISV_TO_USER)


def enable_cap_args(cap: int, flags: int, args: tuple[int, int]) -> str:
    """Return a KVM_ENABLE_CAP record's ``args``, spelt as the lab's tracer.

    The capability itself is the record's value (printed by name); it is
    checked here with the rest of struct kvm_enable_cap.

    Raises:
        ValueError: A number does not fit its field of struct kvm_enable_cap.
    """
    check_int("cap", cap, 32)
    check_int("flags", flags, 32)
    for arg in args:
        check_int("args", arg, 64)
    return f"flags={flags}, args=0x{args[0]:x},0x{args[1]:x}"


def enable_cap(semantics: Semantics, cap: int, flags: int, args0: int) -> int:
    """Check a VM-level KVM_ENABLE_CAP as 6.1 does; return its answer (0).

    MANUAL_DIRTY_LOG_PROTECT2 takes only :data:`DIRTY_LOG_MANUAL_CAPS` bits
    in ``args[0]``; NISV_TO_USER ignores its arguments.

    Raises:
        Refusal: EINVAL for non-zero *flags*, bits outside the offered ones,
            or a capability the kernel cannot enable on a VM.
    """
    if flags:
        refuse(errno.EINVAL, f"flags 0x{flags:x} must be 0")
    if check_extension(semantics, cap) == 0:
        refuse(errno.EINVAL, f"kernel {semantics.name} cannot enable capability {cap}")
    if cap == u.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 and args0 & ~DIRTY_LOG_MANUAL_CAPS:
        refuse(errno.EINVAL, f"args[0] 0x{args0:x} has bits beyond 0x3")
    return 0


@dataclass(frozen=True, slots=True)
class Ioeventfd:
    """An assigned ioeventfd: a guest write that signals an eventfd."""

    #: The I/O bus: "pio", "mmio" or "ccw".
    bus: str
    addr: int
    #: Bytes watched (0: a write of any length).
    length: int
    #: The eventfd it signals.
    fd: int
    #: The value a write must carry (None: any value).
    datamatch: int | None


def ioeventfd_args(addr: int, length: int, flags: int, datamatch: int) -> str:
    """Return a KVM_IOEVENTFD record's ``args``, spelt as the lab's tracer.

    Raises:
        ValueError: A number does not fit its field of struct kvm_ioeventfd.
    """
    check_int("addr", addr, 64)
    check_int("length", length, 32)
    check_int("flags", flags, 32)
    check_int("datamatch", datamatch, 64)
    return (
        f"addr=0x{addr:x}, len={length}, flags=0x{flags:x}, datamatch=0x{datamatch:x}"
    )


def _bus(flags: int) -> str:
    if flags & u.KVM_IOEVENTFD_FLAG_PIO:
        return "pio"
    if flags & u.KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY:
        return "ccw"
    return "mmio"


def _collides(old: Ioeventfd, new: Ioeventfd) -> bool:
    """Whether two ioeventfds would catch the same write (6.1's rule)."""
    if (old.bus, old.addr) != (new.bus, new.addr):
        return False
    if not old.length or not new.length:
        return True
    return old.length == new.length and (
        old.datamatch is None or new.datamatch is None or old.datamatch == new.datamatch
    )


def ioeventfd(
    table: list[Ioeventfd],
    eventfds: set[int],
    entry: tuple[int, int, int, int, int],
) -> int:
    """Apply KVM_IOEVENTFD *entry* (fd, addr, length, flags, datamatch) to *table*.

    Assign checks come first (length, wrap, flags, datamatch without a
    length), then the eventfd, then collisions; a deassign looks the eventfd
    up first, then an entry equal in bus, fd, address, length and datamatch.

    Raises:
        Refusal: EINVAL (bad length, range wraps, unknown flags, datamatch
            on length 0), EBADF (*fd* is not one of *eventfds*), EEXIST
            (another ioeventfd catches the same writes), ENOENT (deassign
            of an ioeventfd that is not assigned).
    """
    fd, addr, length, flags, datamatch = entry
    new = Ioeventfd(
        _bus(flags), addr, length, fd,
        datamatch if flags & u.KVM_IOEVENTFD_FLAG_DATAMATCH else None,
    )  # fmt: skip
    if flags & u.KVM_IOEVENTFD_FLAG_DEASSIGN:
        if fd not in eventfds:
            refuse(errno.EBADF, f"fd {fd} is not an eventfd")
        if new not in table:
            refuse(errno.ENOENT, f"no such ioeventfd on the {new.bus} bus")
        table.remove(new)
        return 0
    if length not in _LENGTHS:
        refuse(errno.EINVAL, f"length {length} is not 0, 1, 2, 4 or 8")
    if addr + length >= 1 << 64:
        refuse(errno.EINVAL, f"0x{addr:x} + {length} wraps")
    if flags & ~_IOEVENTFD_FLAGS:
        refuse(errno.EINVAL, f"flags 0x{flags:x} has unknown bits")
    if not length and new.datamatch is not None:
        refuse(errno.EINVAL, "datamatch needs a length")
    if fd not in eventfds:
        refuse(errno.EBADF, f"fd {fd} is not an eventfd")
    if any(_collides(old, new) for old in table):
        refuse(errno.EEXIST, f"another ioeventfd catches writes at 0x{addr:x}")
    table.append(new)
    return 0


class VmSetupCalls:
    """The simulated VM's set-up calls (a part of :class:`~.vm.Vm`)."""

    semantics: Semantics
    log: CallLog
    #: Assigned ioeventfds (KVM_IOEVENTFD), and the eventfds that exist.
    ioeventfds: list[Ioeventfd]
    eventfds: set[int]
    _next_fd: int

    def check_extension(self, cap: int) -> int:
        """KVM_CHECK_EXTENSION on the VM for a set-up capability (not recorded)."""
        return check_extension(self.semantics, cap)

    def enable_cap(self, cap: int, arg0: int = 0, flags: int = 0) -> None:
        """KVM_ENABLE_CAP on the VM (:func:`.vmcaps.enable_cap`'s rules).

        Raises:
            KvmError: EINVAL (flags, args or capability refused); EIO on a
                dead VM.
            ValueError: A number does not fit its field.
        """
        args = enable_cap_args(cap, flags, (arg0, 0))
        pending = KvmCall(
            -1, "KVM_ENABLE_CAP", "vm", None, None, cap, "kvm.vm.enable_cap", args=args
        )  # fmt: skip
        self.log.invoke(pending, lambda: enable_cap(self.semantics, cap, flags, arg0))

    def eventfd(self) -> int:
        """Open a (simulated) eventfd for :meth:`ioeventfd`; return its fd."""
        self._next_fd += 1
        self.eventfds.add(self._next_fd)
        return self._next_fd

    def close_eventfd(self, fd: int) -> None:
        """Close an eventfd :meth:`eventfd` opened (its ioeventfds stay)."""
        self.eventfds.discard(fd)

    def ioeventfd(
        self, fd: int, addr: int, length: int, flags: int, datamatch: int = 0
    ) -> None:
        """KVM_IOEVENTFD: assign (or with FLAG_DEASSIGN remove) an ioeventfd.

        Raises:
            KvmError: See :func:`.vmcaps.ioeventfd`; EIO on a dead VM.
            ValueError: A number does not fit its field.
        """
        check_int("fd", fd, 31)
        entry = (fd, addr, length, flags, datamatch)
        pending = KvmCall(
            -1, "KVM_IOEVENTFD", "vm", None, None, None, "kvm.vm.ioeventfd",
            args=ioeventfd_args(addr, length, flags, datamatch),
        )  # fmt: skip
        self.log.invoke(
            pending, lambda: ioeventfd(self.ioeventfds, self.eventfds, entry)
        )
