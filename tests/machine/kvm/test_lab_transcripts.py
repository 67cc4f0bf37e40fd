"""Scripts whose answers were recorded on the lab's real Linux 6.1 KVM.

Each script ran once with ``virtmodel lab kvm FILE``; the expected answers
below are what the real kernel printed, and the simulator must give the same.
They pin calls the seeded differential corpus may stop drawing when the
generator changes: memory slots (each check of KVM_SET_USER_MEMORY_REGION,
its flags too),
GICR_IIDR, ICC_IGRPEN1_EL1, an outer-shareable GITS_CBASER and the ITS
base read through a NULL pointer.
"""

from __future__ import annotations

from virtmodel.machine.kvm.script import run_script

#: Memory slots: EFAULT past the IPA end, EEXIST over another, else EINVAL.
MEMORY_SLOTS = """\
create_vm 0x20
set_user_memory_region 1 0x40000000 0x10000 0
set_user_memory_region 2 0xFFFFF000 0x2000 0
set_user_memory_region 2 0xFFFFF000 0x1000 0
set_user_memory_region 3 0x40000000 0x1000 0
set_user_memory_region 1 0x40000000 0x10000 0
set_user_memory_region 1 0x50000000 0x10000 0
set_user_memory_region 1 0x50000000 0x20000 0
set_user_memory_region 1 0x60000800 0x10000 0
set_user_memory_region 4 0 0 0
set_user_memory_region 1 0 0 0
set_user_memory_region 1 0 0 0
set_user_memory_region 32767 0 0x1000 0
set_user_memory_region 32766 0 0x1000 0
set_user_memory_region 0x10001 0x1000 0x1000 0
set_user_memory_region 5 0xfffffffffffff000 0x2000 0
set_user_memory_region 5 0x40000000 0x80000000000 0
set_user_memory_region 6 0x40000000 0x7ffff000000 0
set_user_memory_region 2 0xFFFFF000 0x1000 0
set_user_memory_region 2 0x100000000 0x1000 0
create_vcpu 0
vcpu_init 0 0
vcpu_set_attr 0 2 0 0x90000000
set_user_memory_region 7 0x90000000 0x10000 0
vcpu_set_attr 0 2 0 0x90000000
run 0
set_user_memory_region 8 0x80000000 0x1000 0
set_user_memory_region 7 0 0 0
run 0
set_user_memory_region 7 0x90000000 0x10000 0
"""

MEMORY_SLOTS_REAL = [
    "1 5 0 -",
    "2 0 0 -",
    "3 -1 14 -",
    "4 0 0 -",
    "5 -1 17 -",
    "6 0 0 -",
    "7 0 0 -",
    "8 -1 22 -",
    "9 -1 22 -",
    "10 -1 22 -",
    "11 0 0 -",
    "12 -1 22 -",
    "13 -1 22 -",
    "14 0 0 -",
    "15 -1 22 -",
    "16 -1 22 -",
    "17 -1 22 -",
    "18 -1 17 -",
    "19 0 0 -",
    "20 -1 14 -",
    "21 6 0 -",
    "22 0 0 -",
    "23 -1 22 -",
    "24 0 0 -",
    "25 0 0 -",
    "26 0 0 -",
    "27 -1 17 -",
    "28 0 0 -",
    "29 -1 4 -",
    "30 0 0 -",
]


#: Memory slot flags: only LOG_DIRTY_PAGES (1) and READONLY (2), checked
#: before the overlap (EEXIST) and the IPA end (EFAULT), even for a deletion;
#: READONLY never changes on a slot (moved or not), the log flag may; a
#: read-only slot is no place for the stolen-time record.
MEMORY_FLAGS = """\
create_vm 0
set_user_memory_region 1 0x40000000 0x10000 4
set_user_memory_region 1 0x40000000 0x10000 0x80000000
set_user_memory_region 1 0x40000000 0x10000 2
set_user_memory_region 1 0x40000000 0x10000 0
set_user_memory_region 1 0x50000000 0x10000 0
set_user_memory_region 1 0x40000000 0x10000 3
set_user_memory_region 1 0x50000000 0x10000 2
set_user_memory_region 1 0x50000000 0x10000 2
set_user_memory_region 1 0x50000000 0x20000 2
set_user_memory_region 1 0 0 4
set_user_memory_region 1 0 0 0
set_user_memory_region 1 0 0 2
set_user_memory_region 2 0x40000000 0x10000 1
set_user_memory_region 2 0x40000000 0x10000 0
set_user_memory_region 2 0x40000000 0x10000 2
set_user_memory_region 3 0x40008000 0x1000 4
set_user_memory_region 3 0x40008000 0x1000 2
set_user_memory_region 3 0x10000000000 0x1000 6
set_user_memory_region 3 0x10000000000 0x1000 2
set_user_memory_region 4 0x60000000 0x1000 2
vcpu_set_attr 0 2 0 0x60000000
create_vcpu 0
vcpu_init 0 0
vcpu_set_attr 0 2 0 0x60000000
run 0
set_user_memory_region 4 0 0 0
set_user_memory_region 4 0 0 0
end
"""

MEMORY_FLAGS_REAL = [
    "1 5 0 -",
    "2 -1 22 -",
    "3 -1 22 -",
    "4 0 0 -",
    "5 -1 22 -",
    "6 -1 22 -",
    "7 0 0 -",
    "8 0 0 -",
    "9 0 0 -",
    "10 -1 22 -",
    "11 -1 22 -",
    "12 0 0 -",
    "13 -1 22 -",
    "14 0 0 -",
    "15 0 0 -",
    "16 -1 22 -",
    "17 -1 22 -",
    "18 -1 17 -",
    "19 -1 22 -",
    "20 -1 14 -",
    "21 0 0 -",
    "22 -1 9 -",
    "23 6 0 -",
    "24 0 0 -",
    "25 -1 22 -",
    "26 0 0 -",
    "27 0 0 -",
    "28 -1 22 -",
]


#: GICR_IIDR ignores writes, ICC_IGRPEN1_EL1 round-trips, GITS_CBASER's outer
#: shareability becomes inner, the ITS base read through NULL is EFAULT.
REGISTERS = """\
create_vm 0
create_vcpu 0
vcpu_init 0 0
create_device 7 0
create_device 8 0
set_attr d1 0 4 0x8080000
set_attr d0 0 2 0x8000000
set_attr d0 0 3 0x80a0000
set_attr d0 4 0 0
get_attr d0 5 0x4 0
set_attr d0 5 0x4 0x12345678
get_attr d0 5 0x4 0xffffffff00000000
get_attr d0 6 0xc667 0
set_attr d0 6 0xc667 1
get_attr d0 6 0xc667 0
set_attr d1 8 0x80 0x12340800
get_attr d1 8 0x80 0
set_attr d1 8 0x80 0x8000000012340c00
get_attr d1 8 0x80 0
get_attr d1 0 4 NULL
get_attr d1 0 4 0
end
"""

REGISTERS_REAL = [
    "1 5 0 -",
    "2 6 0 -",
    "3 0 0 -",
    "4 0 0 -",
    "5 0 0 -",
    "6 0 0 -",
    "7 0 0 -",
    "8 0 0 -",
    "9 0 0 -",
    "10 0 0 0x4b00043b",
    "11 0 0 -",
    "12 0 0 0xffffffff4b00043b",
    "13 0 0 0x0",
    "14 0 0 -",
    "15 0 0 0x1",
    "16 0 0 -",
    "17 0 0 0x1800000012340400",
    "18 0 0 -",
    "19 0 0 0x9800000012340c00",
    "20 -1 14 -",
    "21 0 0 0x8080000",
]


def test_memory_slot_answers_are_the_real_kernels() -> None:
    assert [str(r) for r in run_script(MEMORY_SLOTS)] == MEMORY_SLOTS_REAL


def test_memory_flag_answers_are_the_real_kernels() -> None:
    assert [str(r) for r in run_script(MEMORY_FLAGS)] == MEMORY_FLAGS_REAL


def test_register_answers_are_the_real_kernels() -> None:
    assert [str(r) for r in run_script(REGISTERS)] == REGISTERS_REAL
