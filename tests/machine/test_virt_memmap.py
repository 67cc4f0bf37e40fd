from __future__ import annotations

import itertools

import pytest

from virtmodel.machine.boards.virt.memmap import (
    BASE_MEMMAP,
    HIGH_REGION_SIZES,
    IRQ_COUNTS,
    IRQMAP,
    MapEntry,
    place_high_regions,
)
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import GiB, MiB


def test_map_entry_compares_equal_to_a_base_size_tuple() -> None:
    entry = MapEntry(0x0900_0000, 0x1000)

    assert entry == (0x0900_0000, 0x1000)
    assert entry.end == 0x0900_1000
    assert str(entry) == "[0x09000000, 0x09001000)"


def test_base_map_has_qemus_addresses() -> None:
    assert BASE_MEMMAP["gic_redist"] == (0x080A_0000, 0x00F6_0000)
    assert BASE_MEMMAP["pcie_ecam"] == (0x3F00_0000, 0x0100_0000)
    assert BASE_MEMMAP["pcie_mmio"] == (0x1000_0000, 0x2EFF_0000)
    assert BASE_MEMMAP["fw_cfg"] == (0x0902_0000, 0x18)
    assert BASE_MEMMAP["mem"] == (0x4000_0000, 255 * GiB)


def test_base_map_is_in_address_order_and_only_the_cpu_block_overlaps() -> None:
    entries = [e for name, e in BASE_MEMMAP.items() if name != "cpuperiphs"]

    assert all(a.end <= b.base for a, b in itertools.pairwise(entries))


def test_high_region_sizes_are_qemus() -> None:
    assert list(HIGH_REGION_SIZES.items()) == [
        ("high_gic_redist2", 64 * MiB),
        ("high_pcie_ecam", 256 * MiB),
        ("high_pcie_mmio", 512 * GiB),
    ]


def test_irqmap_has_the_secure_gpio_quirk_and_qemus_spis() -> None:
    assert IRQMAP["uart"] == 1
    assert IRQMAP["mmio"] == 16
    assert IRQMAP["smmu"] == 74
    assert IRQMAP["platform_bus"] == 112
    assert IRQMAP["secure_gpio"] == 0
    assert IRQ_COUNTS["mmio"] == 32


def test_default_layout_puts_the_high_regions_at_256_and_512_gib() -> None:
    high = place_high_regions(GiB, GiB, 0, 44)

    assert high.regions["high_gic_redist2"] == (0x40_0000_0000, 64 * MiB)
    assert high.regions["high_pcie_ecam"] == (0x40_1000_0000, 256 * MiB)
    assert high.regions["high_pcie_mmio"] == (0x80_0000_0000, 512 * GiB)
    assert all(high.fits.values())
    assert high.highest_gpa == 0xFF_FFFF_FFFF
    assert high.device_memory == (2 * GiB, 0)


def test_maxmem_400g_moves_redist2_and_ecam_above_the_hotplug_window() -> None:
    high = place_high_regions(GiB, 400 * GiB, 1, 44)

    assert high.memtop == 402 * GiB
    assert high.regions["high_gic_redist2"].base == 0x64_8000_0000
    assert high.regions["high_pcie_ecam"].base == 0x64_9000_0000
    assert high.regions["high_pcie_mmio"].base == 0x80_0000_0000


def test_maxmem_1000g_on_a57_moves_mmio_to_1_tib() -> None:
    high = place_high_regions(GiB, 1000 * GiB, 1, 44)

    assert high.regions["high_pcie_ecam"].base == 0xFA_9000_0000
    assert high.regions["high_pcie_mmio"].base == 0x100_0000_0000
    assert all(high.fits.values())


def test_maxmem_600g_on_a_40_bit_cpu_drops_only_the_64_bit_window() -> None:
    high = place_high_regions(GiB, 600 * GiB, 1, 40)

    assert high.regions["high_pcie_ecam"].base == 0x96_9000_0000
    assert high.fits == {
        "high_gic_redist2": True,
        "high_pcie_ecam": True,
        "high_pcie_mmio": False,
    }
    assert high.highest_gpa == high.regions["high_pcie_ecam"].end - 1


def test_a_region_that_does_not_fit_still_consumes_its_range() -> None:
    # RAM fills the 40-bit space exactly: no high region fits, yet each one
    # still advances the base (7.2 has no compact layout).
    high = place_high_regions(GiB, 1022 * GiB, 1, 40)

    assert not high.fits["high_pcie_ecam"]
    assert high.regions["high_pcie_mmio"].base == 0x100_0000_0000 + 512 * GiB


def test_maxmem_1100g_breaks_the_40_bit_limit_with_the_excess_in_bytes() -> None:
    with pytest.raises(ConfigError, match="83751862272 bytes beyond the 40-bit") as exc:
        place_high_regions(GiB, 1100 * GiB, 1, 40)

    assert exc.value.option == "m"
    assert exc.value.value == 1100 * GiB


def test_highmem_off_limits_ram_to_3_gib() -> None:
    high = place_high_regions(3 * GiB, 3 * GiB, 0, 32)

    assert not any(high.fits.values())
    assert high.highest_gpa == 4 * GiB - 1
    with pytest.raises(ConfigError, match="1073741824 bytes beyond the 32-bit"):
        place_high_regions(4 * GiB, 4 * GiB, 0, 32)


def test_more_than_256_slots_are_refused() -> None:
    with pytest.raises(
        ConfigError, match="300 memory slots requested; at most 256"
    ) as exc:
        place_high_regions(GiB, 8 * GiB, 300, 44)

    assert exc.value.option == "m.slots"
