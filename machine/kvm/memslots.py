"""KVM_SET_USER_MEMORY_REGION's checks on an arm64 VM, as Linux 6.1 makes them.

The generic code (virt/kvm/kvm_main.c) refuses with EINVAL, in this order: a
slot id (low 16 bits) at or past the user slot limit; a size or guest address
that is not page aligned; an address space (high 16 bits) other than 0; a
range that wraps; more pages than one slot may hold. A size of 0 deletes the
slot (EINVAL when there is none). A slot that exists may only move: another
size (or another user address, which the model's callers never pass) is
EINVAL, the same base changes nothing. A new or moved slot that overlaps
another is EEXIST. Then arm64 (arch/arm64/kvm/mmu.c) refuses a new or moved
slot that ends past the VM's IPA space with EFAULT.

The user address is not modelled: its own checks (page aligned, below the
task's address limit) pass for every caller here, as long as the size is
within the slot limit; the lab's executor passes one fixed mapping for that
reason.
"""

from __future__ import annotations

import errno
from typing import Final

from virtmodel.machine.kvm.errors import refuse
from virtmodel.machine.kvm.state import span

__all__ = ["KVM_MEM_MAX_NR_PAGES", "KVM_USER_MEM_SLOTS", "PAGE_SIZE", "set_memslot"]

#: include/linux/kvm_host.h of 6.1: SHRT_MAX slots, none internal on arm64.
KVM_USER_MEM_SLOTS: Final = 0x7FFF
#: include/linux/kvm_host.h of 6.1: the most pages one slot may hold.
KVM_MEM_MAX_NR_PAGES: Final = (1 << 31) - 1
#: The page size of Debian's arm64 kernel.
PAGE_SIZE: Final = 4096
_U64_END: Final = 1 << 64

#: Slot number -> (guest physical base, size).
Memslots = dict[int, tuple[int, int]]


def set_memslot(
    memslots: Memslots, ipa_size: int, slot: int, base: int, size: int
) -> None:
    """Apply one KVM_SET_USER_MEMORY_REGION to *memslots*, or refuse it.

    Raises:
        Refusal: EINVAL, EEXIST or EFAULT, per the module's list.
    """
    slot_id, address_space = slot & 0xFFFF, slot >> 16
    if slot_id >= KVM_USER_MEM_SLOTS:
        refuse(errno.EINVAL, f"slot id {slot_id} is not below {KVM_USER_MEM_SLOTS}")
    if size % PAGE_SIZE or base % PAGE_SIZE:
        refuse(errno.EINVAL, f"memory {span(base, size)} is not page aligned")
    if address_space:
        refuse(errno.EINVAL, f"address space {address_space} does not exist")
    if base + size >= _U64_END:
        refuse(errno.EINVAL, f"memory {span(base, size)} wraps around")
    if size // PAGE_SIZE > KVM_MEM_MAX_NR_PAGES:
        refuse(errno.EINVAL, f"{size // PAGE_SIZE} pages exceed one slot's limit")
    old = memslots.get(slot_id)
    if not size:
        if old is None:
            refuse(errno.EINVAL, f"slot {slot_id} does not exist: nothing to delete")
        del memslots[slot_id]
        return
    if old is not None:
        if old[1] != size:
            refuse(errno.EINVAL, f"slot {slot_id} exists with size 0x{old[1]:x}")
        if old[0] == base:
            return
    for other, (start, length) in sorted(memslots.items()):
        if other != slot_id and base < start + length and start < base + size:
            refuse(errno.EEXIST, f"memory {span(base, size)} overlaps slot {other}")
    if base + size > ipa_size:
        refuse(errno.EFAULT, f"memory {span(base, size)} ends past the IPA space")
    memslots[slot_id] = (base, size)
