"""The limits ``-M virt`` enforces and the layout it derives, in QEMU 7.2's order.

:func:`derive` runs when a :class:`~machine.boards.virt.config.VirtConfig` is
built, on its :class:`~machine.boards.virt.fields.VirtFields`. It checks the CPU
model, topology, RAM, GIC and accelerator rules in the order ``machvirt_init``
meets them (so the first error QEMU would report is the one raised), then
computes the memory map and the redistributor regions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from virtmodel.devices.cpu import CpuModel, cpu_model
from virtmodel.machine.boards.virt.cpuprops import check_cpu_props
from virtmodel.machine.boards.virt.fields import VirtFields
from virtmodel.machine.boards.virt.memmap import (
    BASE_MEMMAP,
    HIGH_REGION_SIZES,
    LEGACY_RAMLIMIT,
    HighMemmap,
    MapEntry,
    place_high_regions,
)
from virtmodel.machine.boards.virt.numa import check_numa
from virtmodel.machine.boards.virt.versions import VirtCompat, machine_compat
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import resolve_memory
from virtmodel.machine.smp import check_machine_limit

#: Redistributor frames per CPU: GICv3 two 64 KiB frames, GICv4 four.
REDIST_STRIDE: Final[Mapping[int, int]] = MappingProxyType({3: 0x20000, 4: 0x40000})
#: GICv2 CPU interface targets: at most 8 CPUs.
GICV2_MAX_CPUS: Final = 8
_RAM_ALIGN: Final = 8192


@dataclass(frozen=True, slots=True)
class Derived:
    """What a valid config implies: computed once, read through ``VirtFields``."""

    cpu: CpuModel
    compat: VirtCompat
    has_its: bool
    high: HighMemmap
    highmem_ecam: bool
    redist_counts: tuple[int, ...]
    memmap: Mapping[str, MapEntry]


def virt_max_cpus(gic_version: int) -> int:
    """Return the board's CPU limit for a GIC version (8; 635 for v3; 317 for v4).

    7.2 adds the high redistributor region's capacity even when ``highmem=off``
    makes it unusable; the GIC then refuses the CPUs at realize.
    """
    if gic_version == 2:
        return GICV2_MAX_CPUS
    stride = REDIST_STRIDE[gic_version]
    return (
        BASE_MEMMAP["gic_redist"].size + HIGH_REGION_SIZES["high_gic_redist2"]
    ) // stride


def _check_cpu(config: VirtFields) -> CpuModel:
    model = cpu_model(config.cpu_type)
    check_cpu_props(model.name, config.cpu_props)
    if model.kvm_only and config.accel != "kvm":
        msg = f"CPU model {model.name!r} needs KVM; add -accel kvm or use -cpu max"
        raise ConfigError(option="cpu", value=model.name, problem=msg)
    if config.accel == "kvm" and not model.kvm_ok:
        msg = (
            f"KVM cannot run CPU model {model.name!r}; use -cpu host, max, "
            "cortex-a57 or cortex-a53"
        )
        raise ConfigError(option="cpu", value=model.name, problem=msg)
    return model


def _check_memory(config: VirtFields) -> None:
    if config.ram_size % _RAM_ALIGN:
        msg = f"RAM size 0x{config.ram_size:08x} is not a multiple of 8 KiB"
        raise ConfigError(option="m", value=config.ram_size, problem=msg)
    resolve_memory(config.ram_size, config.ram_slots or None, config.maxram_size)


def _pa_bits(config: VirtFields, model: CpuModel) -> int:
    if not config.highmem:
        return 32  # highmem=off means exactly a 32-bit physical address space
    if config.accel == "kvm":
        return config.host_ipa_bits
    return model.pa_bits


def _check_gic_and_accel(config: VirtFields) -> None:
    kvm = config.accel == "kvm"
    if config.gic_version == 4 and kvm:
        msg = "gic-version=4 is not available with KVM; use 3 (or host)"
        raise ConfigError(option="gic-version", value=4, problem=msg)
    if config.gic_version == 4 and not config.virtualization:
        msg = "gic-version=4 needs virtualization=on"
        raise ConfigError(option="gic-version", value=4, problem=msg)
    for name, value in (
        ("secure", config.secure),
        ("virtualization", config.virtualization),
    ):
        if kvm and value:
            msg = f"{name}=on cannot be given to a KVM guest CPU; use -accel tcg"
            raise ConfigError(name, value, msg)
    defaults = type(config).model_fields
    for name in ("host_ipa_bits", "host_psci_version"):
        if not kvm and getattr(config, name) != defaults[name].default:
            msg = f"{name} describes the KVM host; it needs -accel kvm"
            raise ConfigError(option=name, value=getattr(config, name), problem=msg)
    if kvm and config.mte:
        msg = "mte=on is not available with KVM in QEMU 7.2; use -accel tcg -cpu max"
        raise ConfigError(option="mte", value=True, problem=msg)


def _redist_counts(config: VirtFields, highmem_redists: bool) -> tuple[int, ...]:
    if config.gic_version == 2:
        return ()
    stride = REDIST_STRIDE[config.gic_version]
    cap0 = BASE_MEMMAP["gic_redist"].size // stride
    cap1 = HIGH_REGION_SIZES["high_gic_redist2"] // stride
    first = min(config.cpus, cap0)
    if config.cpus > cap0 and highmem_redists:
        counts: tuple[int, ...] = (first, min(config.cpus - first, cap1))
    else:
        counts = (first,)
    if sum(counts) != config.cpus:
        msg = (
            f"the redistributor regions hold {sum(counts)} CPUs but {config.cpus} "
            f"are configured; highmem=on gives room for more"
        )
        raise ConfigError(option="smp", value=config.cpus, problem=msg)
    return counts


def _memmap(
    config: VirtFields,
    high: HighMemmap,
    highmem_ecam: bool,
    redist_counts: tuple[int, ...],
    uses_ged: bool,
    has_its: bool,
    secure_gpio: bool,
) -> Mapping[str, MapEntry]:
    v2 = config.gic_version == 2
    wanted = {
        "flash": True,
        "gic_dist": True,
        "gic_cpu": v2,
        "gic_v2m": v2,
        "gic_hyp": v2 and config.virtualization,
        "gic_vcpu": v2 and config.virtualization,
        "gic_its": not v2 and has_its,
        "gic_redist": not v2,
        "uart": True,
        "rtc": True,
        "fw_cfg": True,
        "gpio": not uses_ged,
        "secure_uart": config.secure,
        "smmu": config.iommu == "smmuv3",
        "acpi_ged": uses_ged,
        "secure_gpio": secure_gpio,
        "mmio": True,
        "platform_bus": True,
        "secure_mem": config.secure,
        "pcie_mmio": True,
        "pcie_pio": True,
        "pcie_ecam": not highmem_ecam,
    }
    regions = {name: BASE_MEMMAP[name] for name, used in wanted.items() if used}
    regions["mem"] = MapEntry(BASE_MEMMAP["mem"].base, config.ram_size)
    high_wanted = {
        "high_gic_redist2": len(redist_counts) == 2,
        "high_pcie_ecam": highmem_ecam,
        "high_pcie_mmio": high.fits["high_pcie_mmio"],
    }
    regions.update(
        {name: high.regions[name] for name, used in high_wanted.items() if used}
    )
    return MappingProxyType(regions)


def derive(config: VirtFields) -> Derived:
    """Check *config* against every QEMU 7.2 rule and compute its layout.

    Raises:
        ConfigError: The first rule broken, in the order QEMU checks them.
    """
    compat = machine_compat(config.machine_type)
    model = _check_cpu(config)
    check_machine_limit(config.smp)
    _check_memory(config)
    if config.numa is not None:
        check_numa(config.numa, config.smp, config.ram_size)
    high = place_high_regions(
        config.ram_size, config.maxram_size, config.ram_slots, _pa_bits(config, model)
    )
    _check_gic_and_accel(config)
    limit = virt_max_cpus(config.gic_version)
    if config.max_cpus > limit:
        msg = (
            f"{config.max_cpus} CPUs requested, but virt with GICv{config.gic_version} "
            f"supports at most {limit}"
        )
        raise ConfigError(option="smp", value=config.max_cpus, problem=msg)
    if config.mte and not model.has_mte:
        msg = f"mte=on needs a CPU with MTE (-cpu max), not {model.name!r}"
        raise ConfigError(option="mte", value=True, problem=msg)
    if config.ram_size > LEGACY_RAMLIMIT:
        msg = f"RAM size 0x{config.ram_size:08x} is above the board's 255 GiB limit"
        raise ConfigError(option="m", value=config.ram_size, problem=msg)
    if config.virtio_iommu is not None and config.iommu != "none":
        msg = "virt has room for one IOMMU: drop iommu=smmuv3 or virtio-iommu-pci"
        raise ConfigError(option="device", value="virtio-iommu-pci", problem=msg)
    addrs = [loader.addr for loader in config.guest_loaders]
    for addr in addrs:
        if addrs.count(addr) > 1:
            msg = f"two guest-loader blobs at 0x{addr:x}; each needs its own addr"
            raise ConfigError(option="device.addr", value=addr, problem=msg)
    for name in ("initrd", "append"):
        if getattr(config, name) is not None and config.kernel is None:
            msg = f"-{name} is only allowed together with -kernel"
            raise ConfigError(name, getattr(config, name), msg)
    # A 32-bit CPU cannot reach the high ECAM when firmware sets up PCI.
    highmem_ecam = (
        compat.highmem_ecam
        and high.fits["high_pcie_ecam"]
        and (config.bios is None or model.aarch64)
    )
    counts = _redist_counts(config, high.fits["high_gic_redist2"])
    uses_ged = (
        compat.acpi_ged
        and config.acpi != "off"
        and config.bios is not None
        and model.aarch64
    )
    kvm = config.accel == "kvm"
    has_its = config.its and (compat.kvm_its if kvm else compat.tcg_its)
    secure_gpio = config.secure and compat.secure_gpio
    memmap = _memmap(config, high, highmem_ecam, counts, uses_ged, has_its, secure_gpio)
    return Derived(model, compat, has_its, high, highmem_ecam, counts, memmap)
