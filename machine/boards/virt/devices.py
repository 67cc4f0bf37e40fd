"""The ``virt`` board's peripherals, created with a config's addresses and IRQs.

:func:`virt_peripherals` builds the device models whose device-tree nodes
``build_virt_fdt`` writes, one per role; a user composing a board can replace
any of them (``dataclasses.replace``) and the tree follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from virtmodel.devices.base import checked_upstream
from virtmodel.devices.cfi_flash import CfiFlash
from virtmodel.devices.fw_cfg import FwCfg
from virtmodel.devices.gpex import Gpex
from virtmodel.devices.gpio_keys import GpioKeys, GpioPwr
from virtmodel.devices.pl011 import Pl011
from virtmodel.devices.pl031 import Pl031
from virtmodel.devices.pl061 import Pl061
from virtmodel.devices.platform_bus import PlatformBus
from virtmodel.devices.pmu import ArmPmu
from virtmodel.devices.psci import Psci
from virtmodel.devices.timer import ArmTimer
from virtmodel.devices.virtio_mmio import VirtioMmio
from virtmodel.machine.boards.virt.gic import virt_gic
from virtmodel.machine.boards.virt.memmap import BASE_MEMMAP, NUM_VIRTIO_TRANSPORTS

if TYPE_CHECKING:
    from virtmodel.devices.gicv2 import GicV2
    from virtmodel.devices.gicv3 import GicV3
    from virtmodel.devices.its import Its
    from virtmodel.devices.secure_ram import SecureRam
    from virtmodel.devices.smmuv3 import Smmuv3
    from virtmodel.devices.v2m import V2m
    from virtmodel.machine.boards.virt.config import VirtConfig

__all__ = ["VirtPeripherals", "cpu_properties", "virt_peripherals"]

_FLASH_BANKS: Final = 2


@dataclass(frozen=True, slots=True)
class VirtPeripherals:
    """The device models whose nodes the ``virt`` board writes, by role."""

    flash: tuple[CfiFlash, ...]
    timer: ArmTimer
    pmu: ArmPmu | None
    uart: Pl011
    secure_ram: SecureRam | None
    secure_uart: Pl011 | None
    rtc: Pl031
    pcie: Gpex
    smmu: Smmuv3 | None
    gpio: Pl061 | None
    gpio_keys: GpioKeys | None
    secure_gpio: Pl061 | None
    gpio_pwr: GpioPwr | None
    virtio: tuple[VirtioMmio, ...]
    fw_cfg: FwCfg
    platform_bus: PlatformBus
    psci: Psci | None
    #: The interrupt controller and its MSI frame (ITS, GICv2m or none).
    gic: GicV2 | GicV3
    msi: Its | V2m | None


def _psci_version(version: tuple[int, int]) -> str:
    if version >= (1, 1):
        return "1.1"
    if version >= (1, 0):
        return "1.0"
    return "0.2" if version >= (0, 2) else "0.1"


def virt_peripherals(config: VirtConfig) -> VirtPeripherals:
    """Create the board's peripherals with the config's addresses and interrupts.

    The configuration was validated; its devices are not validated again.
    """
    with checked_upstream():
        return _peripherals(config)


def _peripherals(config: VirtConfig) -> VirtPeripherals:
    mm, irq = config.memmap, config.irqmap
    v2_cpus = config.cpus if config.gic_version == 2 else None
    flash_base, flash_size = mm["flash"]
    bank = flash_size // _FLASH_BANKS
    flash = tuple(
        CfiFlash(
            f"virt.flash{i}",
            base=flash_base + i * bank,
            size=bank,
            secure=config.secure and i == 0,
        )
        for i in range(_FLASH_BANKS)
    )
    secure = config.secure
    ecam = config.ecam
    smmu = config.iommu == "smmuv3"
    gpio = not config.uses_acpi_ged
    mmio = mm["mmio"]
    boot = config.boot
    gic, msi = virt_gic(config)
    # The models of optional devices are imported only for machines that
    # have them: start-up pays for what the machine builds (issue 13).
    secure_ram: SecureRam | None = None
    if secure:
        from virtmodel.devices.secure_ram import SecureRam

        secure_ram = SecureRam(
            "secure-ram", base=mm["secure_mem"].base, size=mm["secure_mem"].size
        )
    smmuv3: Smmuv3 | None = None
    if smmu:
        from virtmodel.devices.smmuv3 import Smmuv3

        smmuv3 = Smmuv3(
            "smmuv3", base=mm["smmu"].base, size=mm["smmu"].size, irq=irq["smmu"]
        )
    return VirtPeripherals(
        flash=flash,
        timer=ArmTimer(
            "timer",
            armv8=config.is_armv8,
            gicv2_cpus=v2_cpus,
            edge=config.compat.edge_timers,
        ),
        pmu=(
            ArmPmu(
                "pmu", kind="armv8" if config.is_armv8 else "armv7", gicv2_cpus=v2_cpus
            )
            if config.has_pmu
            else None
        ),
        uart=Pl011(
            "uart0", base=mm["uart"].base, size=mm["uart"].size, irq=irq["uart"]
        ),
        secure_ram=secure_ram,
        secure_uart=(
            Pl011(
                "secure-uart",
                base=mm["secure_uart"].base,
                size=mm["secure_uart"].size,
                irq=irq["secure_uart"],
                secure=True,
            )
            if secure
            else None
        ),
        rtc=Pl031("rtc", base=mm["rtc"].base, size=mm["rtc"].size, irq=irq["rtc"]),
        pcie=Gpex(
            "pcie",
            ecam=(ecam.base, ecam.size),
            mmio=(mm["pcie_mmio"].base, mm["pcie_mmio"].size),
            pio=(mm["pcie_pio"].base, mm["pcie_pio"].size),
            mmio_high=(
                (mm["high_pcie_mmio"].base, mm["high_pcie_mmio"].size)
                if config.highmem_mmio
                else None
            ),
            irq=irq["pcie"],
            iommu_map=smmu and not config.default_bus_bypass_iommu,
        ),
        smmu=smmuv3,
        gpio=(
            Pl061("gpio", base=mm["gpio"].base, size=mm["gpio"].size, irq=irq["gpio"])
            if gpio
            else None
        ),
        gpio_keys=GpioKeys("gpio-keys") if gpio else None,
        secure_gpio=(
            Pl061(
                "secure-gpio",
                base=mm["secure_gpio"].base,
                size=mm["secure_gpio"].size,
                irq=irq["secure_gpio"],
                secure=True,
                label="secure-gpio",
            )
            if config.has_secure_gpio
            else None
        ),
        gpio_pwr=GpioPwr("gpio-pwr") if config.has_secure_gpio else None,
        virtio=tuple(
            VirtioMmio(
                f"virtio-mmio{i}",
                base=mmio.base + i * mmio.size,
                size=mmio.size,
                irq=irq["mmio"] + i,
            )
            for i in range(NUM_VIRTIO_TRANSPORTS)
        ),
        fw_cfg=FwCfg("fw-cfg", base=mm["fw_cfg"].base, size=mm["fw_cfg"].size),
        platform_bus=PlatformBus(
            "platform-bus",
            base=mm["platform_bus"].base,
            size=mm["platform_bus"].size,
            irq=irq["platform_bus"],
        ),
        psci=(
            Psci(
                "psci",
                conduit=boot.conduit,
                version=_psci_version(boot.version),
                aarch64=boot.aarch64,
            )
            if boot.conduit != "disabled"
            else None
        ),
        gic=gic,
        msi=msi,
    )


def cpu_properties(config: VirtConfig, index: int) -> dict[str, object]:
    """Return the ``ArmCpu`` properties the board sets on CPU *index*.

    As ``machvirt_init``: EL3 only with ``secure=on``, EL2 only with
    ``virtualization=on``, secondaries held off when PSCI starts them, the
    peripheral base in ``reset_cbar``. The conduit is the final one, because
    ``arm_load_kernel`` rewrites it before the CPUs first run.

    Raises:
        ConfigError: *index* is not below ``max_cpus``.
    """
    model = config.cpu_model
    boot = config.boot
    return {
        "cpu_type": config.cpu_type,
        "index": index,
        "mp_affinity": config.mpidr(index),
        "has_el3": model.has_el3 and config.secure,
        "has_el2": model.has_el2 and config.virtualization,
        "psci_conduit": boot.conduit,
        "start_powered_off": index > 0 and boot.board_conduit != "disabled",
        "reset_cbar": BASE_MEMMAP["cpuperiphs"].base,
        "mte": config.mte,
    }
