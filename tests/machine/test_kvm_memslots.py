"""KVM memory slots: the ones real QEMU 7.2 made under the lab's KVM 6.1.

The expected calls below are copied from ``virtmodel lab qemu-trace`` runs
of the same arguments (Debian QEMU 7.2, Debian kernel 6.1): the two flash
banks read-only before any vCPU, then the RAM (one slot a NUMA backend, in
node order), then the stolen-time page in the lowest free slot.
"""

from __future__ import annotations

import errno

import pytest

from tests.machine.qemu_cmdline import virtmodel_config
from virtmodel.devices.ram import Ram
from virtmodel.machine.accel import KvmAccel
from virtmodel.machine.boards.virt.board import boot_virt, create_virt
from virtmodel.machine.errors import MachineFailedError
from virtmodel.machine.kvm import create_vm
from virtmodel.machine.kvm_memslots import KvmMemoryListener
from virtmodel.machine.machine import Machine
from virtmodel.machine.memory import MemoryMap

FLASH = [
    "KVM_SET_USER_MEMORY_REGION(vm, 0x00000000, slot=0, flags=2, size=0x4000000) = 0",
    "KVM_SET_USER_MEMORY_REGION(vm, 0x04000000, slot=1, flags=2, size=0x4000000) = 0",
]


def boot(argv: str) -> Machine:
    return boot_virt(create_virt(virtmodel_config(argv.split())))


def memslot_calls(argv: str) -> list[str]:
    machine = boot(argv)
    assert isinstance(machine.accel, KvmAccel)
    calls = machine.accel.attached_vm.calls
    return [str(c) for c in calls if c.ioctl == "KVM_SET_USER_MEMORY_REGION"]


def test_flash_then_ram_then_stolen_time_as_real_qemu() -> None:
    calls = memslot_calls("-M virt,gic-version=3 -accel kvm -cpu host -smp 2 -m 6G")

    assert calls == [
        *FLASH,
        "KVM_SET_USER_MEMORY_REGION(vm, 0x40000000, slot=2, flags=0, "
        "size=0x180000000) = 0",
        "KVM_SET_USER_MEMORY_REGION(vm, 0x090a0000, slot=3, flags=0, size=0x1000) = 0",
    ]


def test_the_flash_is_mapped_before_the_first_vcpu_and_ram_after_the_last() -> None:
    machine = boot("-M virt -accel kvm -cpu host -smp 3")
    assert isinstance(machine.accel, KvmAccel)
    names = [c.ioctl for c in machine.accel.attached_vm.calls]

    slots = [i for i, n in enumerate(names) if n == "KVM_SET_USER_MEMORY_REGION"]
    vcpus = [i for i, n in enumerate(names) if n == "KVM_CREATE_VCPU"]
    assert slots[1] < vcpus[0]
    assert vcpus[-1] < slots[2] < names.index("KVM_CREATE_DEVICE", vcpus[-1])


def test_each_numa_backend_has_its_own_slot_in_node_order() -> None:
    argv = (
        "-M virt,gic-version=3,its=on -accel kvm -cpu host -smp 2 -m 1G "
        "-object memory-backend-ram,id=m0,size=512M "
        "-object memory-backend-ram,id=m1,size=256M "
        "-object memory-backend-ram,id=m2,size=256M "
        "-numa node,memdev=m0,cpus=0 -numa node,memdev=m1,cpus=1 "
        "-numa node,memdev=m2"
    )

    assert memslot_calls(argv) == [
        *FLASH,
        "KVM_SET_USER_MEMORY_REGION(vm, 0x40000000, slot=2, flags=0, "
        "size=0x20000000) = 0",
        "KVM_SET_USER_MEMORY_REGION(vm, 0x60000000, slot=3, flags=0, "
        "size=0x10000000) = 0",
        "KVM_SET_USER_MEMORY_REGION(vm, 0x70000000, slot=4, flags=0, "
        "size=0x10000000) = 0",
        "KVM_SET_USER_MEMORY_REGION(vm, 0x090a0000, slot=5, flags=0, size=0x1000) = 0",
    ]


def test_tcg_makes_no_slots_and_maps_no_stolen_time() -> None:
    machine = boot("-M virt -smp 2")

    assert "pvtime" not in machine.memory
    assert "ram" in machine.memory


def test_a_slot_freed_by_an_unmap_is_the_next_one_taken() -> None:
    vm = create_vm()
    memory = MemoryMap()
    listener = KvmMemoryListener(vm)
    memory.add("early", 0x1000, 0x1000, kind="ram")  # replayed on listen
    listener.listen(memory)
    memory.add("uart", 0x9000000, 0x1000)  # MMIO: no slot
    memory.add("flash", 0, 0x1000, kind="romd")
    memory.remove("early")
    memory.add("late", 0x40000000, 0x2000, kind="ram")

    assert [str(c) for c in vm.calls] == [
        "KVM_SET_USER_MEMORY_REGION(vm, 0x00001000, slot=0, flags=0, size=0x1000) = 0",
        "KVM_SET_USER_MEMORY_REGION(vm, 0x00000000, slot=1, flags=2, size=0x1000) = 0",
        "KVM_SET_USER_MEMORY_REGION(vm, 0x00001000, slot=0, flags=0, size=0x0) = 0",
        "KVM_SET_USER_MEMORY_REGION(vm, 0x40000000, slot=0, flags=0, size=0x2000) = 0",
    ]
    assert listener.slots == {
        "flash": (1, 0, 0x1000, 2),
        "late": (0, 0x40000000, 0x2000, 0),
    }


def test_a_region_is_trimmed_to_whole_pages_and_a_sliver_gets_no_slot() -> None:
    vm = create_vm()
    memory = MemoryMap()
    KvmMemoryListener(vm).listen(memory)
    memory.add("sliver", 0x10800, 0x800, kind="ram")
    memory.add("ragged", 0x20800, 0x2000, kind="ram")
    memory.remove("sliver")

    assert [str(c) for c in vm.calls] == [
        "KVM_SET_USER_MEMORY_REGION(vm, 0x00021000, slot=0, flags=0, size=0x1000) = 0",
    ]


def test_a_refused_slot_fails_the_machine() -> None:
    # 3 GiB of RAM at 1 GiB ends past a 32-bit IPA space: arm64 says EFAULT.
    machine = Machine("tiny", accel=KvmAccel(ipa_bits=32))

    def board(m: Machine) -> None:
        m.realize(m.add(Ram("ram", base=0x40000000, size=3 << 30)))
        m.realize(m.add(Ram("more", base=0x100000000, size=0x1000)))

    with pytest.raises(MachineFailedError) as failure:
        machine.boot(board)

    call = failure.value.kvm_call
    assert call is not None
    assert (call.ioctl, call.errno) == ("KVM_SET_USER_MEMORY_REGION", errno.EFAULT)


def test_ram_backends_must_add_up_to_the_ram() -> None:
    machine = Machine("bad", accel=KvmAccel())

    def board(m: Machine) -> None:
        m.realize(m.add(Ram("ram", size=0x2000, backends=(("a", 0x1000),))))

    # A board bug, not bad input: the error comes out unchanged.
    with pytest.raises(ValueError, match="backends hold 0x1000 bytes, not 0x2000"):
        machine.boot(board)
