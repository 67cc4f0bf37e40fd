"""The ``virt`` board's address map and SPI map (QEMU 7.2 ``hw/arm/virt.c``).

Pure data and one calculation: :func:`place_high_regions` reproduces
``virt_set_memmap``, which puts the hot-pluggable RAM after the initial RAM and
the three high regions (second redistributor frame, 256-bus ECAM, 512 GiB PCI
window) above it, each aligned to its own size. 7.2 has no "compact" layout:
a region that does not fit the physical address space is disabled but still
consumes its address range, so later regions move up anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, NamedTuple

from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import GiB, MiB

if TYPE_CHECKING:
    from virtmodel.machine.boards.virt.config import VirtConfig


class MapEntry(NamedTuple):
    """One region of the board's map: compares equal to a ``(base, size)`` tuple."""

    base: int
    size: int

    @property
    def end(self) -> int:
        """Return the first address after the region."""
        return self.base + self.size

    def __str__(self) -> str:
        return f"[0x{self.base:08x}, 0x{self.end:08x})"


#: ``base_memmap[]`` in address order. ``mem`` is the 255 GiB legacy RAM window.
BASE_MEMMAP: Final[Mapping[str, MapEntry]] = MappingProxyType(
    {
        "flash": MapEntry(0x0000_0000, 0x0800_0000),
        "cpuperiphs": MapEntry(0x0800_0000, 0x0002_0000),
        "gic_dist": MapEntry(0x0800_0000, 0x0001_0000),
        "gic_cpu": MapEntry(0x0801_0000, 0x0001_0000),
        "gic_v2m": MapEntry(0x0802_0000, 0x0000_1000),
        "gic_hyp": MapEntry(0x0803_0000, 0x0001_0000),
        "gic_vcpu": MapEntry(0x0804_0000, 0x0001_0000),
        "gic_its": MapEntry(0x0808_0000, 0x0002_0000),
        "gic_redist": MapEntry(0x080A_0000, 0x00F6_0000),
        "uart": MapEntry(0x0900_0000, 0x0000_1000),
        "rtc": MapEntry(0x0901_0000, 0x0000_1000),
        "fw_cfg": MapEntry(0x0902_0000, 0x0000_0018),
        "gpio": MapEntry(0x0903_0000, 0x0000_1000),
        "secure_uart": MapEntry(0x0904_0000, 0x0000_1000),
        "smmu": MapEntry(0x0905_0000, 0x0002_0000),
        "pcdimm_acpi": MapEntry(0x0907_0000, 24),
        "acpi_ged": MapEntry(0x0908_0000, 4),
        "nvdimm_acpi": MapEntry(0x0909_0000, 4),
        "pvtime": MapEntry(0x090A_0000, 0x0001_0000),
        "secure_gpio": MapEntry(0x090B_0000, 0x0000_1000),
        "mmio": MapEntry(0x0A00_0000, 0x0000_0200),
        "platform_bus": MapEntry(0x0C00_0000, 0x0200_0000),
        "secure_mem": MapEntry(0x0E00_0000, 0x0100_0000),
        "pcie_mmio": MapEntry(0x1000_0000, 0x2EFF_0000),
        "pcie_pio": MapEntry(0x3EFF_0000, 0x0001_0000),
        "pcie_ecam": MapEntry(0x3F00_0000, 0x0100_0000),
        "mem": MapEntry(0x4000_0000, 255 * GiB),
    }
)

#: ``extended_memmap[]`` sizes, in placement order.
HIGH_REGION_SIZES: Final[Mapping[str, int]] = MappingProxyType(
    {
        "high_gic_redist2": 64 * MiB,
        "high_pcie_ecam": 256 * MiB,
        "high_pcie_mmio": 512 * GiB,
    }
)

#: ``a15irqmap[]``: the first SPI (GIC INTID - 32) of each device. The secure
#: GPIO has no entry in QEMU's table, so it reads 0 (a real quirk of 7.2).
IRQMAP: Final[Mapping[str, int]] = MappingProxyType(
    {
        "uart": 1,
        "rtc": 2,
        "pcie": 3,
        "gpio": 7,
        "secure_uart": 8,
        "acpi_ged": 9,
        "mmio": 16,
        "gic_v2m": 48,
        "smmu": 74,
        "platform_bus": 112,
        "secure_gpio": 0,
    }
)

#: How many consecutive SPIs each multi-line device uses from its IRQMAP entry.
IRQ_COUNTS: Final[Mapping[str, int]] = MappingProxyType(
    {"pcie": 4, "mmio": 32, "gic_v2m": 64, "smmu": 4, "platform_bus": 64}
)

#: External interrupts (SPIs) the board gives the GIC; its ``num-irq`` is this + 32.
NUM_IRQS: Final = 256
#: virtio-mmio transports, each ``BASE_MEMMAP["mmio"].size`` bytes, consecutive.
NUM_VIRTIO_TRANSPORTS: Final = 32
#: RAM the board can map below the high I/O area.
LEGACY_RAMLIMIT: Final = 255 * GiB
#: ``ACPI_MAX_RAM_SLOTS``.
MAX_RAM_SLOTS: Final = 256
#: One ECAM bus takes 1 MiB.
ECAM_BUS_SIZE: Final = MiB


def _round_up(value: int, align: int) -> int:
    return -(-value // align) * align


@dataclass(frozen=True, slots=True)
class HighMemmap:
    """The result of ``virt_set_memmap``: where RAM hot-plug and the high regions go."""

    #: Physical address bits the map was computed for.
    pa_bits: int
    #: Start and size of the hot-pluggable RAM window (size 0: none).
    device_memory: MapEntry
    #: End of all RAM, hot-pluggable included.
    memtop: int
    #: Highest guest physical address in use.
    highest_gpa: int
    #: Every high region with its placement, whether or not it fits.
    regions: Mapping[str, MapEntry]
    #: Whether each high region fits under ``2**pa_bits``.
    fits: Mapping[str, bool]


def place_high_regions(
    ram_size: int, maxram_size: int, ram_slots: int, pa_bits: int
) -> HighMemmap:
    """Compute the hot-plug window and the high regions like ``virt_set_memmap``.

    Raises:
        ConfigError: Too many memory slots, or the RAM (hot-pluggable
            included) does not fit in ``pa_bits`` of address space.
    """
    if ram_slots > MAX_RAM_SLOTS:
        msg = (
            f"{ram_slots} memory slots requested; at most {MAX_RAM_SLOTS} are supported"
        )
        raise ConfigError(option="m.slots", value=ram_slots, problem=msg)
    ram_base = BASE_MEMMAP["mem"].base
    device_memory_base = _round_up(ram_base + ram_size, GiB)
    device_memory_size = maxram_size - ram_size + ram_slots * GiB
    memtop = device_memory_base + _round_up(device_memory_size, GiB)
    limit = 1 << pa_bits
    if memtop > limit:
        msg = (
            f"RAM ends at 0x{memtop:08x}, {memtop - limit} bytes beyond the "
            f"{pa_bits}-bit physical address limit"
        )
        raise ConfigError(option="m", value=maxram_size, problem=msg)
    highest_gpa = memtop - 1
    # The high I/O area never starts below 256 GiB, keeping the legacy layout.
    base = max(memtop, ram_base + LEGACY_RAMLIMIT)
    regions: dict[str, MapEntry] = {}
    fits: dict[str, bool] = {}
    for name, size in HIGH_REGION_SIZES.items():
        base = _round_up(base, size)
        regions[name] = MapEntry(base, size)
        fits[name] = base + size <= limit
        if fits[name]:
            highest_gpa = base + size - 1
        base += size  # even when it does not fit: 7.2 is not compact
    return HighMemmap(
        pa_bits=pa_bits,
        device_memory=MapEntry(device_memory_base, device_memory_size),
        memtop=memtop,
        highest_gpa=highest_gpa,
        regions=MappingProxyType(regions),
        fits=MappingProxyType(fits),
    )


#: Bytes of stolen-time record per CPU (QEMU's PVTIME_SIZE_PER_CPU).
PVTIME_SIZE_PER_CPU: Final = 64
#: The host page size the pvtime region is rounded up to.
HOST_PAGE: Final = 0x1000


def pvtime_size(config: VirtConfig) -> int:
    """Return the ``pvtime`` RAM's size: 64 bytes a possible CPU, whole host pages.

    At most 512 CPUs, so it always fits the 64 KiB region of the map.
    """
    return -(-config.max_cpus * PVTIME_SIZE_PER_CPU // HOST_PAGE) * HOST_PAGE


def steals_time(config: VirtConfig, host_has_steal_time: bool) -> bool:
    """Return whether QEMU gives the vCPUs stolen time (the ``pvtime`` RAM).

    Under KVM, when the host kernel offers it (KVM_CAP_STEAL_TIME), for an
    AArch64 CPU, on machine types 5.2 and newer.
    """
    return (
        config.accel == "kvm"
        and host_has_steal_time
        and config.is_armv8
        and config.compat.kvm_steal_time
    )
