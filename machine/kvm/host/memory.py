"""The host VM's guest memory: its slots, the frames claimed, the code page.

The backend's own mappings -- guest memory slots, the tiny guest's code page
(:mod:`.guest` chooses where), each vCPU's kvm_run area -- are plumbing, not
calls of the API: each is one line in the VM's ``plumbing`` list, and every
mapping is held by the VM's :class:`~.resources.Resources`, which closes it.
"""

from __future__ import annotations

import ctypes
import mmap
from collections.abc import Callable
from typing import final

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.host.abi import GUEST_CODE, MEMORY_REGION
from virtmodel.machine.kvm.host.guest import GuestWindow, choose_window, claimed_range
from virtmodel.machine.kvm.host.resources import Resources
from virtmodel.machine.kvm.host.syscalls import Syscalls

__all__ = ["GuestMemory", "plumbing_call"]


def plumbing_call(plumbing: list[str], line: str, call: Callable[[], int]) -> int:
    """Issue a plumbing call: note it in *plumbing*; OSError propagates."""
    try:
        result = call()
    except OSError as exc:
        plumbing.append(f"{line} -> {c.errno_name(exc.errno or 0)}")
        raise
    plumbing.append(f"{line} = {result}")
    return result


@final
class GuestMemory:
    """What one host VM has mapped into its guest, and where it may map more."""

    def __init__(
        self,
        syscalls: Syscalls,
        resources: Resources,
        fds: tuple[int, int],
        plumbing: list[str],
    ) -> None:
        # Nothing here refers back to the VM, so dropping the VM still closes
        # its resources at once (its finalizer), not at the next collection.
        self._syscalls = syscalls
        self._resources = resources
        #: /dev/kvm's fd and the VM's.
        self._kvm_fd, self._vm_fd = fds
        self._plumbing = plumbing
        #: Guest physical ranges [start, end) that memory or a GIC frame holds.
        self.claimed: list[tuple[int, int]] = []
        #: Memory slots: slot number -> (guest physical base, size).
        self.slots: dict[int, tuple[int, int]] = {}
        self._window: GuestWindow | None = None

    def note_address(self, type_id: int, attr: int, value: int | None) -> None:
        """Remember the frame a successful GRP_ADDR write claimed."""
        if value is not None:
            self.claimed.append(claimed_range(type_id, attr, value))

    def map(self, slot: int, base: int, size: int, code: bytes, flags: int = 0) -> None:
        """Back [base, base+size) with fresh memory starting with *code*.

        A *size* of 0 deletes the slot (the kernel ignores the memory then).

        Raises:
            OSError: The kernel refused the mapping or the memory slot.
        """
        area = self._resources.memory(self._syscalls.map_anonymous(max(size, 1)))
        area[: len(code)] = code
        address = _address_of(area)
        region = bytearray(MEMORY_REGION.pack(slot, flags, base, size, address))
        line = (
            f"KVM_SET_USER_MEMORY_REGION(vm, slot {slot}, flags {flags}, "
            f"0x{base:x}+0x{size:x})"
        )
        plumbing_call(
            self._plumbing,
            line,
            lambda: self._syscalls.ioctl(
                self._vm_fd, u.KVM_SET_USER_MEMORY_REGION, region
            ),
        )
        if size:
            self.slots[slot] = (base, size)
        else:
            self.slots.pop(slot, None)

    def window(self, ipa_size: int) -> GuestWindow:
        """Return the guest's code page, mapping it on first use.

        Raises:
            OSError: The kernel refused the memory slot.
        """
        if self._window is None:
            window = choose_window(ipa_size, mmap.PAGESIZE, self.claimed)
            slot = next(n for n in range(len(self.slots) + 1) if n not in self.slots)
            self.map(slot, window.code, window.size, GUEST_CODE)
            self._window = window
        return self._window

    def run_area(self, vcpu_fd: int) -> mmap.mmap:
        """Map *vcpu_fd*'s kvm_run area (KVM_GET_VCPU_MMAP_SIZE bytes).

        Raises:
            OSError: The kernel refused the size query or the mapping.
        """
        size = plumbing_call(
            self._plumbing,
            "KVM_GET_VCPU_MMAP_SIZE(kvm)",
            lambda: self._syscalls.ioctl(self._kvm_fd, u.KVM_GET_VCPU_MMAP_SIZE, 0),
        )
        return self._resources.run_map(self._syscalls.map_shared(vcpu_fd, size))


def _address_of(area: mmap.mmap) -> int:
    # The temporary view is released at once, so the map can still close.
    return ctypes.addressof(ctypes.c_char.from_buffer(area))
