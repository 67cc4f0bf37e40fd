"""The ``virt`` board's interrupt controller and MSI frame, built from a config.

``virt_peripherals`` takes the GIC from here, so the machine
(``machine.boards.virt``) realizes and maps the very device models whose
nodes the device tree (``machine.boards.virt.tree``) writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from virtmodel.devices.gicv2 import GicV2
    from virtmodel.devices.gicv3 import GicV3
    from virtmodel.devices.its import Its
    from virtmodel.devices.v2m import V2m
    from virtmodel.machine.boards.virt.config import VirtConfig

#: SPIs the board gives the GIC beyond the 32 private interrupts.
NUM_IRQS: Final = 256


def virt_gic(config: VirtConfig) -> tuple[GicV2 | GicV3, Its | V2m | None]:
    """Return the GIC and its MSI controller (ITS, GICv2m or none) for *config*.

    Only the chosen GIC's models are imported: a command pays at start-up
    for the device classes it builds, not for the other GIC (issue 13).
    """
    mm = config.memmap
    if config.gic_version == 2:
        from virtmodel.devices.gicv2 import GicV2
        from virtmodel.devices.v2m import V2m

        frames = {"dist_base": mm["gic_dist"].base, "cpu_base": mm["gic_cpu"].base}
        if config.virtualization:
            frames |= {"hyp_base": mm["gic_hyp"].base, "vcpu_base": mm["gic_vcpu"].base}
        gic2 = GicV2(
            "gic",
            num_cpu=config.cpus,
            num_irq=NUM_IRQS + 32,
            has_security_extensions=config.secure,
            has_virtualization_extensions=config.virtualization,
            **frames,
        )
        return gic2, V2m("v2m", base=mm["gic_v2m"].base)
    from virtmodel.devices.gicv3 import GicV3
    from virtmodel.devices.its import Its

    windows = [tuple(mm["gic_redist"])]
    if len(config.redist_region_counts) > 1:
        windows.append(tuple(mm["high_gic_redist2"]))
    gic3 = GicV3(
        "gic",
        num_cpu=config.cpus,
        num_irq=NUM_IRQS + 32,
        revision=config.gic_version,
        redist_region_count=config.redist_region_counts,
        has_security_extensions=config.secure,
        has_lpi=config.has_its and config.accel == "tcg",
        dist_base=mm["gic_dist"].base,
        redist_windows=tuple(windows),
        maintenance_irq=config.virtualization,
    )
    its = Its("its", base=mm["gic_its"].base) if config.has_its else None
    return gic3, its
