"""Where the host backend puts its tiny guest, clear of every GIC frame.

KVM_RUN needs code to run. The guest is one page holding ``str x2, [x1];
b .`` and X1 points at the page after it, which no memory slot backs: the
store is the first thing the vCPU does and comes back as KVM_EXIT_MMIO.
Both pages must avoid the frames the VM's GIC and ITS claim (a store into
one would be handled in the kernel and the vCPU would spin), so the window
is the highest 64 KiB-aligned one below the IPA limit that no recorded
address range touches.
"""

from __future__ import annotations

from dataclasses import dataclass

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm.encoding import decode_redist_region

__all__ = ["GuestWindow", "choose_window", "claimed_range"]

#: Frames a legacy REDIST base may cover: one per possible vCPU.
_REDIST_SPAN = c.KVM_VGIC_V3_REDIST_SIZE * c.VGIC_V3_MAX_CPUS
_SIZES = {
    c.KVM_VGIC_V2_ADDR_TYPE_DIST: c.KVM_VGIC_V2_DIST_SIZE,
    c.KVM_VGIC_V2_ADDR_TYPE_CPU: c.KVM_VGIC_V2_CPU_SIZE,
    c.KVM_VGIC_V3_ADDR_TYPE_DIST: c.KVM_VGIC_V3_DIST_SIZE,
    c.KVM_VGIC_V3_ADDR_TYPE_REDIST: _REDIST_SPAN,
}


@dataclass(frozen=True, slots=True)
class GuestWindow:
    """The guest's code page and the unbacked address it stores to."""

    #: Guest physical address of the code page (the vCPUs' PC).
    code: int
    #: Bytes of the code page's memory slot.
    size: int
    #: Where ``str x2, [x1]`` writes (X1): the page after the code.
    mmio: int


def claimed_range(type_id: int, attr: int, value: int) -> tuple[int, int]:
    """Return the [start, end) a GRP_ADDR write of *value* may claim."""
    if type_id == c.KVM_DEV_TYPE_ARM_VGIC_ITS:
        return value, value + c.KVM_VGIC_V3_ITS_SIZE
    if attr == c.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION:
        region = decode_redist_region(value)
        return region.base, region.base + region.count * c.KVM_VGIC_V3_REDIST_SIZE
    return value, value + _SIZES.get(attr, c.SZ_64K)


def choose_window(
    ipa_size: int, page: int, claimed: list[tuple[int, int]]
) -> GuestWindow:
    """Return the highest two-page window below *ipa_size* clear of *claimed*.

    Raises:
        ValueError: Every window overlaps a claimed range (not possible with
            the handful of GIC frames a VM has).
    """
    step = max(page, c.SZ_64K)
    base = (ipa_size - 2 * page) // step * step
    while base >= 0:
        end = base + 2 * page
        hit = [start for start, stop in claimed if start < end and base < stop]
        if not hit:
            return GuestWindow(code=base, size=page, mmio=base + page)
        # Jump below the lowest overlapping range in one step.
        base = (min(hit) - 2 * page) // step * step
    msg = f"no free {2 * page}-byte window for the guest below 0x{ipa_size:x}"
    raise ValueError(msg)
