"""``info qtree`` for the ``virt`` board: QEMU 7.2's buses and their devices.

QEMU lists the devices of a bus newest first; the board creates them in a
fixed order (flash, GIC, ITS or GICv2m, UARTs, RTC, PCIe host, SMMU, GPIO or
ACPI GED, the secure GPIO, 32 virtio-mmio transports, fw_cfg, the platform
bus), so the list follows from the config. Each device shows the properties
virtmodel models, spelled and formatted as QEMU prints them, and its MMIO
regions (``ffffffffffffffff`` where the board maps a region itself instead of
through the system bus, as QEMU shows it). A ``-device virtio-iommu-pci``
sits on ``pcie.0`` with its virtio device on its own ``virtio-bus``; under KVM
the GIC and ITS are QEMU's KVM classes (``kvm-arm-gic``, ``kvm-arm-gicv3``,
``arm-its-kvm``), a fact from QEMU's sources (docs/monitor.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from virtmodel.machine.boards.virt.memmap import BASE_MEMMAP
from virtmodel.machine.boards.virt.memtree import (
    GICV2_SIZES,
    GICV3_DIST_SIZE,
    NUM_VIRTIO,
    PCIE_MMCFG_SIZE,
    VIRTIO_SIZE,
)

if TYPE_CHECKING:
    from virtmodel.machine.boards.virt.config import VirtConfig

#: An address the system bus does not know (the board mapped it itself).
UNMAPPED: Final = (1 << 64) - 1
#: Interrupt lines of the GIC model: 256 SPIs after the 32 private ones.
GIC_NUM_IRQ: Final = 288
#: The modern virtio-pci BAR (4) of a virtio PCI device.
VIRTIO_PCI_BAR: Final = 0x4000
GED_MEM_HOTPLUG: Final = 1
GED_PWR_DOWN: Final = 2


@dataclass
class QDevice:
    """One device line of ``info qtree`` with what is printed under it."""

    type_name: str
    id: str = ""
    props: list[str] = field(default_factory=list)
    buses: list[QBus] = field(default_factory=list)


@dataclass
class QBus:
    """One bus: its name, QEMU's bus type and the devices on it."""

    name: str
    type_name: str
    devices: list[QDevice] = field(default_factory=list)


def _int(name: str, value: int) -> str:
    return f"{name} = {value} (0x{value:x})"


def _bool(name: str, value: bool) -> str:
    return f"{name} = {'true' if value else 'false'}"


def _mmio(base: int, size: int) -> str:
    return f"mmio {base:016x}/{size:016x}"


def _gic(config: VirtConfig) -> list[QDevice]:
    memmap = config.memmap
    kvm = config.accel == "kvm"
    if config.gic_version == 2:
        gic = QDevice(
            "kvm-arm-gic" if kvm else "arm_gic",
            props=[
                _int("num-cpu", config.cpus),
                _int("num-irq", GIC_NUM_IRQ),
                _int("revision", 2),
                _bool("has-security-extensions", config.secure),
                _bool("has-virtualization-extensions", config.virtualization),
                _mmio(memmap["gic_dist"].base, GICV2_SIZES["gic_dist"]),
                _mmio(memmap["gic_cpu"].base, GICV2_SIZES["gic_cpu"]),
            ],
        )
        v2m = memmap["gic_v2m"]
        msi = QDevice(
            "arm-gicv2m",
            props=[
                _int("base-spi", config.irqmap["gic_v2m"]),
                _int("num-spi", 64),
                _mmio(v2m.base, v2m.size),
            ],
        )
        return [gic, msi]
    bases = [memmap["gic_redist"].base]
    if "high_gic_redist2" in memmap:
        bases.append(memmap["high_gic_redist2"].base)
    counts = config.redist_region_counts
    gic = QDevice(
        "kvm-arm-gicv3" if kvm else "arm-gicv3",
        props=[
            _int("num-cpu", config.cpus),
            _int("num-irq", GIC_NUM_IRQ),
            _int("revision", config.gic_version),
            *([_bool("has-lpi", True)] if config.compat.tcg_its and not kvm else []),
            _bool("has-security-extensions", config.secure),
            _int("len-redist-region-count", len(counts)),
            _mmio(memmap["gic_dist"].base, GICV3_DIST_SIZE),
            *(
                _mmio(base, count * config.redist_stride)
                for base, count in zip(bases, counts, strict=True)
            ),
        ],
    )
    devices = [gic]
    if config.has_its:
        its = memmap["gic_its"]
        its_type = "arm-its-kvm" if kvm else "arm-gicv3-its"
        devices.append(QDevice(its_type, props=[_mmio(its.base, its.size)]))
    return devices


def _pci_addr(devfn: int) -> str:
    return f"{devfn >> 3:02x}.{devfn & 7:x}"


def _virtio_iommu(devfn: int) -> QDevice:
    """Return ``-device virtio-iommu-pci``: the PCI proxy and its virtio device."""
    slot = _pci_addr(devfn)
    bar_end = (UNMAPPED + VIRTIO_PCI_BAR - 1) & UNMAPPED  # QEMU's sum wraps
    iommu = QDevice("virtio-iommu-device", props=[_bool("boot-bypass", True)])
    return QDevice(
        "virtio-iommu-pci",
        props=[
            f"addr = {slot}",
            f"class Class 00ff, addr 00:{slot}, pci id 1af4:1057 (sub 1af4:1100)",
            # The modern virtio BAR, 16 KiB, not yet placed by the guest.
            f"bar 4: mem at 0x{UNMAPPED:x} [0x{bar_end:x}]",
        ],
        buses=[QBus("virtio-bus", "virtio-pci-bus", [iommu])],
    )


def _pcie(config: VirtConfig) -> QDevice:
    root = QDevice("gpex-root", props=["addr = 00.0"])
    devices = [root]
    if config.virtio_iommu is not None:
        devices.insert(0, _virtio_iommu(config.virtio_iommu))  # newest first
    host = QDevice(
        "gpex-pcihost",
        props=[
            _bool("bypass-iommu", config.default_bus_bypass_iommu),
            _mmio(UNMAPPED, PCIE_MMCFG_SIZE),
            _mmio(UNMAPPED, UNMAPPED),
            _mmio(config.memmap["pcie_pio"].base, config.memmap["pcie_pio"].size),
        ],
        buses=[QBus("pcie.0", "PCIE", devices)],
    )
    return host


def _gpio(config: VirtConfig) -> list[QDevice]:
    memmap = config.memmap
    if config.uses_acpi_ged:
        event = GED_PWR_DOWN | (GED_MEM_HOTPLUG if config.ram_slots else 0)
        hotplug = BASE_MEMMAP["pcdimm_acpi"]
        ged = memmap["acpi_ged"]
        props = [
            _int("ged-event", event),
            _mmio(ged.base, ged.size),
            _mmio(hotplug.base, hotplug.size),
            _mmio(UNMAPPED, 3),
        ]
        return [QDevice("acpi-ged", props=props)]
    size = memmap["gpio"].size
    return [QDevice("pl061", props=[_mmio(UNMAPPED, size)]), QDevice("gpio-key")]


def _virtio() -> list[QDevice]:
    base = BASE_MEMMAP["mmio"].base
    return [
        QDevice(
            "virtio-mmio",
            props=[_mmio(base + index * VIRTIO_SIZE, VIRTIO_SIZE)],
            buses=[QBus(f"virtio-mmio-bus.{index}", "virtio-mmio-bus")],
        )
        for index in range(NUM_VIRTIO)
    ]


def virt_qtree(config: VirtConfig) -> QBus:
    """Return the main system bus with the board's devices, newest first.

    A ``-device guest-loader`` sits on no bus and ``-numa``'s memory backends
    are objects, not devices: neither shows here.
    """
    memmap = config.memmap
    flash = memmap["flash"].size // 2
    created: list[QDevice] = [
        QDevice(
            "cfi.pflash01",
            props=[f'name = "virt.flash{n}"', _mmio(UNMAPPED, flash)],
        )
        for n in (0, 1)
    ]
    created += _gic(config)
    uart = QDevice("pl011", props=[_mmio(UNMAPPED, memmap["uart"].size)])
    created.append(uart)
    if config.secure:
        created.append(QDevice("pl011", props=[_mmio(UNMAPPED, memmap["uart"].size)]))
    rtc = memmap["rtc"]
    created.append(QDevice("pl031", props=[_mmio(rtc.base, rtc.size)]))
    created.append(_pcie(config))
    if "smmu" in memmap:
        smmu = memmap["smmu"]
        created.append(
            QDevice(
                "arm-smmuv3", props=[_int("bus_num", 0), _mmio(smmu.base, smmu.size)]
            )
        )
    created += _gpio(config)
    if config.has_secure_gpio:
        size = memmap["secure_gpio"].size
        created += [
            QDevice("pl061", props=[_mmio(UNMAPPED, size)]),
            QDevice("gpio-pwr"),
        ]
    created += _virtio()
    fw_cfg = memmap["fw_cfg"].base
    created.append(
        QDevice(
            "fw_cfg_mem",
            props=[
                _int("data_width", 8),
                _bool("dma_enabled", True),
                _mmio(fw_cfg + 8, 2),
                _mmio(fw_cfg, 8),
                _mmio(fw_cfg + 0x10, 8),
            ],
        )
    )
    bus = memmap["platform_bus"]
    created.append(
        QDevice(
            "platform-bus-device",
            id="platform-bus-device",
            props=[
                _int("num_irqs", 64),
                _int("mmio_size", bus.size),
                _mmio(UNMAPPED, bus.size),
            ],
        )
    )
    return QBus("main-system-bus", "System", list(reversed(created)))


def _print_bus(bus: QBus, level: int, out: list[str]) -> None:
    pad = "  " * level
    out.append(f"{pad}bus: {bus.name}")
    out.append(f"{pad}  type {bus.type_name}")
    for device in bus.devices:
        out.append(f'{pad}  dev: {device.type_name}, id "{device.id}"')
        out.extend(f"{pad}    {line}" for line in device.props)
        for child in device.buses:
            _print_bus(child, level + 2, out)


def format_qtree(config: VirtConfig) -> str:
    """Return ``info qtree`` for *config*."""
    out: list[str] = []
    _print_bus(virt_qtree(config), 0, out)
    return "\n".join(out) + "\n"
