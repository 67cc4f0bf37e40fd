"""QEMU's KVM memory listener: a memory slot for each RAM and ROM device region.

Facts of QEMU 7.2's ``accel/kvm/kvm-all.c`` (``kvm_set_phys_mem``,
``kvm_mem_flags``, ``kvm_get_free_slot``) this follows:

- The listener sees every region the board maps into the system address
  space, when it is mapped. RAM (``kind="ram"``) gets a slot; a ROM device
  in ROM mode (``kind="romd"``, the pflash banks) gets a read-only slot
  (KVM_MEM_READONLY), so guest reads run from memory and writes exit as MMIO.
  Anything else (MMIO) gets none. Every kernel modelled here has read-only
  slots (KVM_CAP_READONLY_MEM), which QEMU needs for the second kind.
- A region is trimmed to whole host pages before it becomes a slot; nothing
  left, no slot.
- A slot takes the lowest slot number no mapped region holds (QEMU's slot
  table is searched from 0 for an empty entry), so numbers are reused after
  a region goes away. Unmapping deletes the slot (size 0, same flags).
- Dirty-page logging (KVM_MEM_LOG_DIRTY_PAGES) is only asked for during
  migration or for display memory: never here, so RAM slots have flags 0.
- A refused slot ends QEMU (it aborts); here the call's KvmError propagates
  and fails the machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol, final

from virtmodel.machine.kvm.memslots import KVM_MEM_READONLY, PAGE_SIZE

if TYPE_CHECKING:
    from virtmodel.machine.memory import MemoryMap, Region

__all__ = ["SLOT_FLAGS", "KvmMemoryListener"]

#: Region kind -> the flags of its slot; kinds not listed get no slot.
SLOT_FLAGS: Final = {"ram": 0, "romd": KVM_MEM_READONLY}


class _MemoryVm(Protocol):
    def set_user_memory_region(
        self, slot: int, base: int, size: int, flags: int = 0
    ) -> None: ...


@final
class KvmMemoryListener:
    """Keeps one VM's memory slots in step with a memory map."""

    def __init__(self, vm: _MemoryVm, page_size: int = PAGE_SIZE) -> None:
        self._vm = vm
        self._page = page_size
        #: Region name -> (slot number, base, size, flags) of its slot.
        self.slots: dict[str, tuple[int, int, int, int]] = {}

    def listen(self, memory: MemoryMap) -> None:
        """Follow *memory* from now on (regions already there get slots now).

        Raises:
            KvmError: The kernel refused a slot.
        """
        memory.add_listener(self.region_add, self.region_del)

    def region_add(self, region: Region) -> None:
        """Give *region* a slot when it is RAM or a ROM device.

        Raises:
            KvmError: The kernel refused the slot.
        """
        flags = SLOT_FLAGS.get(region.kind)
        if flags is None:
            return
        start = -(-region.base // self._page) * self._page
        size = (region.end - start) // self._page * self._page
        if size <= 0:
            return
        used = {slot for slot, *_ in self.slots.values()}
        slot = next(n for n in range(len(used) + 1) if n not in used)
        self._vm.set_user_memory_region(slot, start, size, flags)
        self.slots[region.name] = (slot, start, size, flags)

    def region_del(self, region: Region) -> None:
        """Delete the slot of *region*, if it has one.

        Raises:
            KvmError: The kernel refused the deletion.
        """
        held = self.slots.get(region.name)
        if held is None:
            return
        slot, start, _, flags = held
        self._vm.set_user_memory_region(slot, start, 0, flags)
        del self.slots[region.name]
