"""KVM_SET_USER_MEMORY_REGION's checks on an arm64 VM, as Linux 6.1 makes them.

The generic code (virt/kvm/kvm_main.c) refuses with EINVAL, in this order: a
slot id (low 16 bits) at or past the user slot limit (the ioctl's own check);
a flag other than the two arm64 takes, KVM_MEM_LOG_DIRTY_PAGES and
KVM_MEM_READONLY (the first check of the memory-region code, so it is made
for a deletion too); a size or guest address that is not page aligned; an
address space (high 16 bits) other than 0; a range that wraps; more pages
than one slot may hold. A size of 0 deletes the slot (EINVAL when there is
none). A slot that exists may move and may change its flags, except
KVM_MEM_READONLY: another size, a read-only bit turned on or off (or another
user address, which the model's callers never pass) is EINVAL; the same base
and flags change nothing. A new or moved slot that overlaps another is
EEXIST. Then arm64 (arch/arm64/kvm/mmu.c) refuses a new, moved or re-flagged
slot that ends past the VM's IPA space with EFAULT (only a new or moved one
can).

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

__all__ = [
    "KVM_MEM_LOG_DIRTY_PAGES",
    "KVM_MEM_MAX_NR_PAGES",
    "KVM_MEM_READONLY",
    "KVM_USER_MEM_SLOTS",
    "PAGE_SIZE",
    "Memslots",
    "set_memslot",
]

#: include/linux/kvm_host.h of 6.1: SHRT_MAX slots, none internal on arm64.
KVM_USER_MEM_SLOTS: Final = 0x7FFF
#: include/linux/kvm_host.h of 6.1: the most pages one slot may hold.
KVM_MEM_MAX_NR_PAGES: Final = (1 << 31) - 1
#: The page size of Debian's arm64 kernel.
PAGE_SIZE: Final = 4096
_U64_END: Final = 1 << 64
#: include/uapi/linux/kvm.h: the slot's dirty pages are logged.
KVM_MEM_LOG_DIRTY_PAGES: Final = 1 << 0
#: include/uapi/linux/kvm.h: guest writes to the slot exit as MMIO.
KVM_MEM_READONLY: Final = 1 << 1
#: The flags an arm64 6.1 kernel takes (it has read-only memory).
_VALID_FLAGS: Final = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY

#: Slot number -> (guest physical base, size, flags).
Memslots = dict[int, tuple[int, int, int]]


def set_memslot(
    memslots: Memslots, ipa_size: int, slot: int, base: int, size: int, flags: int = 0
) -> None:
    """Apply one KVM_SET_USER_MEMORY_REGION to *memslots*, or refuse it.

    Raises:
        Refusal: EINVAL, EEXIST or EFAULT, per the module's list.
    """
    slot_id, address_space = slot & 0xFFFF, slot >> 16
    if slot_id >= KVM_USER_MEM_SLOTS:
        refuse(errno.EINVAL, f"slot id {slot_id} is not below {KVM_USER_MEM_SLOTS}")
    if flags & ~_VALID_FLAGS:
        refuse(errno.EINVAL, f"memory flags 0x{flags:x} are not a subset of 0x3")
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
        if (old[2] ^ flags) & KVM_MEM_READONLY:
            refuse(errno.EINVAL, f"slot {slot_id}'s read-only flag cannot change")
        if old[0] == base:
            # Same place: a flags-only change (nothing when they are equal).
            memslots[slot_id] = (base, size, flags)
            return
    for other, (start, length, _) in sorted(memslots.items()):
        if other != slot_id and base < start + length and start < base + size:
            refuse(errno.EEXIST, f"memory {span(base, size)} overlaps slot {other}")
    if base + size > ipa_size:
        refuse(errno.EFAULT, f"memory {span(base, size)} ends past the IPA space")
    memslots[slot_id] = (base, size, flags)
