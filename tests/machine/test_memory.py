import pytest

from virtmodel.machine.errors import AddressConflictError, AlignmentError
from virtmodel.machine.memory import MemoryMap, Region


@pytest.fixture
def memory():
    mm = MemoryMap()
    mm.add("uart0", 0x0900_0000, 0x1000, owner="/machine/uart0")
    return mm


def test_overlap_names_both_regions_with_half_open_ranges(memory):
    with pytest.raises(AddressConflictError) as info:
        memory.add("rtc", 0x0900_0800, 0x1000)

    assert info.value.new.name == "rtc"
    assert info.value.existing.name == "uart0"
    assert str(info.value) == (
        "region 'rtc' [0x09000800, 0x09001800) overlaps 'uart0' [0x09000000, 0x09001000)"
    )


def test_rejected_region_leaves_the_map_unchanged(memory):
    with pytest.raises(AddressConflictError):
        memory.add("rtc", 0x08FF_F800, 0x1000)

    assert [r.name for r in memory] == ["uart0"]


def test_touching_regions_do_not_overlap(memory):
    memory.add("below", 0x08FF_F000, 0x1000)
    memory.add("above", 0x0900_1000, 0x1000)

    assert [r.name for r in memory] == ["below", "uart0", "above"]


def test_misaligned_base_is_rejected_with_the_alignment(memory):
    with pytest.raises(
        AlignmentError,
        match=r"'gicd' \[0x08001000, 0x08011000\) is not aligned to 0x10000",
    ) as info:
        memory.add("gicd", 0x0800_1000, 0x10000, align=0x10000)

    assert info.value.alignment == 0x10000


def test_a_region_containing_another_is_an_overlap(memory):
    with pytest.raises(AddressConflictError):
        memory.add("big", 0x0800_0000, 0x0200_0000)


def test_duplicate_name_and_empty_size_are_rejected(memory):
    with pytest.raises(ValueError, match="already mapped"):
        memory.add("uart0", 0x1000_0000, 0x1000)
    with pytest.raises(ValueError, match="size > 0"):
        memory.add("empty", 0x1000_0000, 0)


def test_find_and_listeners_see_mappings(memory):
    added: list[Region] = []
    removed: list[Region] = []
    memory.add_listener(added.append, removed.append)
    memory.add("rtc", 0x0901_0000, 0x1000, owner="/machine/rtc")
    memory.remove_owned_by("/machine/rtc")

    assert [r.name for r in added] == ["uart0", "rtc"]
    assert [r.name for r in removed] == ["rtc"]
    assert memory.find(0x0900_0FFF).name == "uart0"
    assert memory.find(0x0900_1000) is None


def test_dump_lists_regions_like_info_mtree(memory):
    text = memory.dump()

    assert (
        "0000000009000000-0000000009000fff (prio 0, mmio): uart0 (/machine/uart0)"
        in text
    )
