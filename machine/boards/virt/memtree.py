"""The ``virt`` board's memory regions as QEMU 7.2 builds them (``info mtree``).

:func:`virt_address_spaces` turns a :class:`~.config.VirtConfig` into QEMU's
MemoryRegion tree and address spaces, with QEMU's region names and sizes: a
GICv2 distributor is 4 KiB and its CPU interface 8 KiB (the board map reserves
64 KiB for each), fw_cfg is three small registers, the ITS a container of its
control and translation frames. With ``secure=on`` flash0, the secure UART,
the secure GPIO and the secure RAM exist only in the CPUs' secure address
space, which holds the normal one underneath at priority -1.

The addresses come from the config's memory map and the sizes from the
device models, the data the devices are placed with, so ``run --mtree`` and
the devices agree.

With ``-numa ...,memdev=`` the RAM is a container of the nodes' backends; a
``-device virtio-iommu-pci`` brings its own bus master space and, unless the
root bus bypasses IOMMUs, one ``virtio-iommu-device`` space per PCI function.
Under KVM QEMU's KVM GIC classes create the same regions (names and sizes) as
the emulated ones and the board maps them alike; only the ITS's DMA space
``gicv3-its-sysmem``, which the emulated ITS alone uses, is absent. The KVM
facts come from QEMU's sources (QEMU cannot run KVM here): docs/monitor.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from virtmodel.devices import gicv2, gicv3
from virtmodel.devices.its import ITS_SIZE
from virtmodel.devices.v2m import V2M_SIZE
from virtmodel.machine.boards.virt.memmap import BASE_MEMMAP, pvtime_size
from virtmodel.machine.mtree import SIZE_ALL, AddressSpace, MemRegion

if TYPE_CHECKING:
    from virtmodel.machine.boards.virt.config import VirtConfig

#: What each GICv2 block decodes (the board map reserves 64 KiB each): the
#: device models' own sizes, so the devices and this view are one data.
GICV2_SIZES: Final = {
    "gic_dist": gicv2.DIST_SIZE,
    "gic_cpu": gicv2.CPU_SIZE,
    "gicv2m": V2M_SIZE,
    "gic_viface": gicv2.HYP_SIZE,
    "gic_vcpu": gicv2.VCPU_SIZE,
}
GICV3_DIST_SIZE: Final = gicv3.DIST_SIZE
#: The ITS device's window holds its control and translation frames.
ITS_FRAME_SIZE: Final = ITS_SIZE // 2
#: The ECAM window the gpex host bridge decodes (256 buses of 1 MiB).
PCIE_MMCFG_SIZE: Final = 0x1000_0000
#: Input address bits of the SMMUv3's per-device IOMMU regions.
SMMU_VA_BITS: Final = 48
NUM_VIRTIO: Final = 32
VIRTIO_SIZE: Final = 0x200
#: MTE keeps one tag byte per 32 bytes of memory (4 bits per 16-byte granule).
TAG_RATIO: Final = 32


def _fw_cfg(system: MemRegion, base: int) -> None:
    for name, offset, size in (
        ("fwcfg.data", 0, 8),
        ("fwcfg.ctl", 8, 2),
        ("fwcfg.dma", 0x10, 8),
    ):
        system.add(base + offset, MemRegion(name, size))


def _gic(config: VirtConfig, system: MemRegion) -> None:
    memmap = config.memmap
    if config.gic_version == 2:
        pairs = [
            ("gic_dist", "gic_dist"),
            ("gic_cpu", "gic_cpu"),
            ("gic_v2m", "gicv2m"),
        ]
        if config.virtualization:
            pairs += [("gic_hyp", "gic_viface"), ("gic_vcpu", "gic_vcpu")]
        for key, name in pairs:
            system.add(memmap[key].base, MemRegion(name, GICV2_SIZES[name]))
        return
    system.add(memmap["gic_dist"].base, MemRegion("gicv3_dist", GICV3_DIST_SIZE))
    if config.has_its:
        its = MemRegion("gicv3_its", 2 * ITS_FRAME_SIZE, kind="container")
        its.add(0, MemRegion("control", ITS_FRAME_SIZE))
        its.add(ITS_FRAME_SIZE, MemRegion("translation", ITS_FRAME_SIZE))
        system.add(memmap["gic_its"].base, its)
    bases = [memmap["gic_redist"].base]
    if "high_gic_redist2" in memmap:
        bases.append(memmap["high_gic_redist2"].base)
    for index, count in enumerate(config.redist_region_counts):
        region = MemRegion(
            f"gicv3_redist_region[{index}]", count * config.redist_stride
        )
        system.add(bases[index], region)


def _pcie(config: VirtConfig, system: MemRegion) -> MemRegion:
    memmap = config.memmap
    window = MemRegion("gpex_mmio_window", SIZE_ALL)
    window.add(0, MemRegion("gpex_mmio", SIZE_ALL, kind="container"))
    mmcfg = MemRegion("pcie-mmcfg-mmio", PCIE_MMCFG_SIZE)
    low = memmap["pcie_mmio"]
    system.add(
        low.base, MemRegion("pcie-mmio", low.size, alias=window, alias_offset=low.base)
    )
    pio = memmap["pcie_pio"]
    io_window = MemRegion("gpex_ioport_window", pio.size)
    io_window.add(0, MemRegion("gpex_ioport", pio.size, kind="container"))
    system.add(pio.base, io_window)
    ecam = config.ecam
    system.add(ecam.base, MemRegion("pcie-ecam", ecam.size, alias=mmcfg))
    if "high_pcie_mmio" in memmap:
        high = memmap["high_pcie_mmio"]
        system.add(
            high.base,
            MemRegion(
                "pcie-mmio-high", high.size, alias=window, alias_offset=high.base
            ),
        )
    return window


def _system(config: VirtConfig, secure: MemRegion | None) -> MemRegion:
    memmap = config.memmap
    system = MemRegion("system", SIZE_ALL, kind="container")
    flash = memmap["flash"]
    half = flash.size // 2
    flash0 = MemRegion("virt.flash0", half, kind="romd")
    (secure if secure is not None else system).add(flash.base, flash0)
    system.add(flash.base + half, MemRegion("virt.flash1", half, kind="romd"))
    _gic(config, system)
    system.add(memmap["uart"].base, MemRegion("pl011", memmap["uart"].size))
    system.add(memmap["rtc"].base, MemRegion("pl031", memmap["rtc"].size))
    _fw_cfg(system, memmap["fw_cfg"].base)
    if "gpio" in memmap:
        system.add(memmap["gpio"].base, MemRegion("pl061", memmap["gpio"].size))
    if config.uses_acpi_ged:
        hotplug_regs = BASE_MEMMAP["pcdimm_acpi"]
        memhp = MemRegion("memhp container", hotplug_regs.size, kind="container")
        if config.ram_slots:
            memhp.add(0, MemRegion("acpi-mem-hotplug", hotplug_regs.size))
        system.add(hotplug_regs.base, memhp)
        system.add(
            memmap["acpi_ged"].base, MemRegion("acpi-ged", memmap["acpi_ged"].size)
        )
    if "smmu" in memmap:
        system.add(memmap["smmu"].base, MemRegion("arm-smmuv3", memmap["smmu"].size))
    mmio = memmap["mmio"].base
    for index in range(NUM_VIRTIO):
        system.add(mmio + index * VIRTIO_SIZE, MemRegion("virtio-mmio", VIRTIO_SIZE))
    bus = memmap["platform_bus"]
    system.add(bus.base, MemRegion("platform bus", bus.size, kind="container"))
    _pcie(config, system)
    system.add(memmap["mem"].base, _ram(config))
    hotplug = config.device_memory
    if hotplug is not None:
        system.add(
            hotplug.base, MemRegion("device-memory", hotplug.size, kind="container")
        )
    if secure is not None:
        for key, name, kind in (
            ("secure_uart", "pl011", "i/o"),
            ("secure_gpio", "pl061", "i/o"),
            ("secure_mem", "virt.secure-ram", "ram"),
        ):
            entry = memmap[key]
            secure.add(entry.base, MemRegion(name, entry.size, kind=kind))  # type: ignore[arg-type]
        secure.add(0, system, priority=-1)
    return system


def _ram(config: VirtConfig) -> MemRegion:
    """Return ``mach-virt.ram``: one RAM block, or the NUMA nodes' backends.

    With ``-numa ...,memdev=`` the machine's RAM is a container holding each
    node's backend (named by its id) after the previous one, in node order.
    """
    size = config.memmap["mem"].size
    if config.numa is None:
        return MemRegion("mach-virt.ram", size, kind="ram")
    ram = MemRegion("mach-virt.ram", size, kind="container")
    offset = 0
    for node in config.numa.nodes:
        if node.memdev is not None:
            ram.add(offset, MemRegion(node.memdev, node.mem, kind="ram"))
            offset += node.mem
    return ram


def _bus_master(name: str, target: MemRegion) -> AddressSpace:
    """Return a PCI device's bus master space: its DMA view, off until enabled."""
    master = MemRegion("bus master container", SIZE_ALL, kind="container")
    alias = MemRegion("bus master memory", target.size, alias=target, enabled=False)
    master.add(0, alias)
    return AddressSpace(name, master)


def _pci_spaces(config: VirtConfig, system: MemRegion) -> list[AddressSpace]:
    """Return the spaces of the PCI devices and of the IOMMU that translates them.

    The bus master spaces exist from realize (``gpex-root``, then each
    ``-device``); an IOMMU's per-device regions come at machine-done, in
    device-function order, numbered as the IOMMU hands them out.
    """
    devices = [("gpex-root", 0)]
    if config.virtio_iommu is not None:
        devices.append(("virtio-iommu-pci", config.virtio_iommu))
    iommu: list[AddressSpace] = []
    targets = dict.fromkeys((name for name, _ in devices), system)
    if config.iommu == "smmuv3" and not config.default_bus_bypass_iommu:
        name = "smmuv3-iommu-memory-region-0-0"
        region = MemRegion(name, 1 << SMMU_VA_BITS)
        iommu.append(AddressSpace(name, region))
        targets["gpex-root"] = region
    elif config.virtio_iommu is not None and not config.default_bus_bypass_iommu:
        for index, (device, devfn) in enumerate(devices):
            name = f"virtio-iommu-memory-region-{index}-{devfn}"
            root = MemRegion(name, SIZE_ALL, kind="container")
            # Boot bypass: until the guest sets the IOMMU up, DMA goes through.
            root.add(0, MemRegion("system", SIZE_ALL, alias=system))
            iommu.append(AddressSpace("virtio-iommu-device", root))
            targets[device] = root
    masters = [_bus_master(device, targets[device]) for device, _ in devices]
    return masters + iommu


def _tag_memory(
    config: VirtConfig, name: str, ram_key: str, base: MemRegion | None
) -> MemRegion:
    tag = MemRegion(name, (SIZE_ALL - 1) // TAG_RATIO, kind="container")
    entry = config.memmap[ram_key]
    label = "mach-virt.tag" if ram_key == "mem" else "mach-virt.secure-tag"
    tag.add(
        entry.base // TAG_RATIO, MemRegion(label, entry.size // TAG_RATIO, kind="ram")
    )
    if base is not None:
        tag.add(0, base, priority=-1)
    return tag


def virt_address_spaces(
    config: VirtConfig, *, pvtime: bool = False
) -> list[AddressSpace]:
    """Return the machine's address spaces in the order QEMU creates them.

    *pvtime*: whether the vCPUs got stolen time under KVM, which maps the
    ``pvtime`` RAM (see :func:`~.kvm.steals_time`; it depends on the host).
    """
    secure = (
        MemRegion("secure-memory", SIZE_ALL, kind="container")
        if config.secure
        else None
    )
    system = _system(config, secure)
    if pvtime:
        entry = BASE_MEMMAP["pvtime"]
        system.add(entry.base, MemRegion("pvtime", pvtime_size(config), kind="ram"))
    io = MemRegion("io", 0x10000)
    spaces = [AddressSpace("memory", system), AddressSpace("I/O", io)]
    tag = _tag_memory(config, "tag-memory", "mem", None) if config.mte else None
    secure_tag = (
        _tag_memory(config, "secure-tag-memory", "secure_mem", tag)
        if tag is not None and secure is not None
        else None
    )
    for cpu in range(config.cpus):
        if secure is not None:
            spaces.append(AddressSpace(f"cpu-secure-memory-{cpu}", secure))
        if tag is not None:
            spaces.append(AddressSpace(f"cpu-tag-memory-{cpu}", tag))
            if secure_tag is not None:
                # QEMU 7.2 names the secure tag space like the normal one.
                spaces.append(AddressSpace(f"cpu-tag-memory-{cpu}", secure_tag))
        spaces.append(AddressSpace(f"cpu-memory-{cpu}", system))
    if config.gic_version != 2 and config.compat.tcg_its and config.accel == "tcg":
        # The GIC's own ITS reads tables through this; KVM's ITS is the kernel's.
        spaces.append(AddressSpace("gicv3-its-sysmem", system))
    return spaces + _pci_spaces(config, system)
