"""GRP_ADDR on a vGIC: range checks, redistributor regions, frame assignment.

Check order follows kvm-vgic.md §2.4 for the selected era: v5.16+ kernels use
vgic_check_iorange (EEXIST, then EINVAL for alignment or wrap, then E2BIG
for a base *or end* beyond the IPA); 2016 kernels use vgic_check_ioaddr
(E2BIG for the base only, then EINVAL, then EEXIST) and know only the legacy
redistributor address, which they check like the distributor's (§5 A/B).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm.encoding import REDIST_COUNT_SHIFT, decode_redist_region
from virtmodel.machine.kvm.errors import refuse
from virtmodel.machine.kvm.state import RedistRegion, region_size, span

if TYPE_CHECKING:
    from virtmodel.machine.kvm.vm import Vm

_U64_END = 1 << 64


def _wraps(base: int, size: int) -> bool:
    return size > 0 and base + size >= _U64_END


def overlaps(a_base: int, a_size: int, b_base: int, b_size: int) -> bool:
    """Return the kernel's overlap test for two ranges (also for size 0)."""
    return a_base + a_size > b_base and a_base < b_base + b_size


def iorange_problem(vm: Vm, addr: int, align: int, size: int) -> tuple[int, str] | None:
    """Return the errno and reason [addr, addr+size) fails the range check."""
    if addr % align or size % align:
        return errno.EINVAL, f"0x{addr:08x} is not aligned to 0x{align:x}"
    if _wraps(addr, size):
        return errno.EINVAL, f"{span(addr, size)} wraps around the address space"
    if addr >= vm.ipa_size or addr + size > vm.ipa_size:
        where = f"{span(addr, size)} is beyond the {vm.ipa_bits}-bit IPA space"
        return errno.E2BIG, where
    return None


def check_address(vm: Vm, current: int, addr: int, align: int, size: int) -> None:
    """Check a new base address in the era's order (§2.4).

    Raises:
        Refusal: EEXIST, EINVAL or E2BIG.
    """
    if not vm.semantics.iorange_checks:
        # vgic_check_ioaddr (pre-5.16): base against the IPA, alignment, set.
        if addr >= vm.ipa_size:
            refuse(errno.E2BIG, f"0x{addr:08x} is beyond the {vm.ipa_bits}-bit IPA")
        if addr % align:
            refuse(errno.EINVAL, f"0x{addr:08x} is not aligned to 0x{align:x}")
        if current != c.VGIC_ADDR_UNDEF:
            refuse(errno.EEXIST, "address already set")
        return
    if current != c.VGIC_ADDR_UNDEF:
        refuse(errno.EEXIST, "address already set")
    problem = iorange_problem(vm, addr, align, size)
    if problem is not None:
        refuse(*problem)


def base_problem(vm: Vm) -> str | None:
    """Return why the distributor/redistributor layout is invalid, if it is.

    This is vgic_v3_check_base for the era: mainline checks every region's
    alignment and IPA range and the distributor overlap; 2016 kernels only
    check wrap-around and the distributor/redistributor overlap.
    """
    gic = vm.vgic
    online = len(vm.vcpus)
    # The distributor needs no wrap check here (the kernel has one): its
    # base passed check_address, so it lies below the IPA size and cannot wrap.
    dist_set = gic.dist_base != c.VGIC_ADDR_UNDEF
    for region in gic.regions:
        size = region_size(region, online)
        if vm.semantics.iorange_checks:
            found = iorange_problem(vm, region.base, c.SZ_64K, size)
            problem = None if found is None else found[1]
        else:
            problem = "it wraps" if _wraps(region.base, size) else None
        if problem is not None:
            return f"redistributor region {region.index}: {problem}"
    if not dist_set:
        return None
    for region in gic.regions:
        size = region_size(region, online)
        if overlaps(gic.dist_base, c.KVM_VGIC_V3_DIST_SIZE, region.base, size):
            return (
                f"distributor {span(gic.dist_base, c.KVM_VGIC_V3_DIST_SIZE)} overlaps"
                f" redistributor region {region.index} {span(region.base, size)}"
            )
    return None


def free_slot(vm: Vm) -> RedistRegion | None:
    """Return the first region with a frame left for a vCPU."""
    return next((r for r in vm.vgic.regions if not r.full()), None)


def assign_frames(vm: Vm) -> None:
    """Give every vCPU without a redistributor frame the next free one.

    The kernel checks the layout once per vCPU and undoes the assignments
    made before a failure (§2.4.1). The check reads only the regions and the
    online vCPU count, which handing out frames does not change, so it fails
    for the first frameless vCPU or for none: there is nothing to undo.

    Raises:
        Refusal: EINVAL when the layout check fails for some vCPU.
    """
    for vcpu in vm.vcpus:
        state = vcpu.state
        if state.rdreg is not None:
            continue
        region = free_slot(vm)
        if region is None:
            break
        problem = base_problem(vm)
        if problem is not None:
            refuse(errno.EINVAL, f"vcpu {state.vcpu_id}: {problem}")
        state.rdreg, state.rdreg_index = region, region.free_index
        region.free_index += 1


def add_redist_region(vm: Vm, index: int, base: int, count: int) -> None:
    """Add a redistributor region (``count == 0``: the legacy one), §2.4.

    Raises:
        Refusal: EINVAL, EEXIST or E2BIG in the kernel's order.
    """
    gic = vm.vgic
    size = (count or len(vm.vcpus)) * c.KVM_VGIC_V3_REDIST_SIZE
    if _wraps(base, size):
        refuse(errno.EINVAL, f"{span(base, size)} wraps around the address space")
    if not gic.regions:
        if index != 0:
            refuse(errno.EINVAL, f"the first region must have index 0, not {index}")
    else:
        last = gic.regions[-1]
        if count == 0 and not last.legacy:
            refuse(errno.EINVAL, "legacy REDIST cannot be mixed with REDIST_REGION")
        if count == 0:
            refuse(errno.EEXIST, "address already set")
        if index != last.index + 1:
            refuse(errno.EINVAL, f"region index {index} is not {last.index + 1}")
    if (
        count == 0
        and gic.dist_base != c.VGIC_ADDR_UNDEF
        and overlaps(gic.dist_base, c.KVM_VGIC_V3_DIST_SIZE, base, size)
    ):
        refuse(errno.EINVAL, f"{span(base, size)} overlaps the distributor")
    for other in gic.regions:
        other_size = region_size(other, len(vm.vcpus))
        if overlaps(base, size, other.base, other_size):
            where = span(other.base, other_size)
            refuse(errno.EINVAL, f"{span(base, size)} overlaps region {where}")
    problem = iorange_problem(vm, base, c.SZ_64K, size)
    if problem is not None:
        refuse(*problem)
    region = RedistRegion(index=index, base=base, count=count)
    gic.regions.append(region)
    try:
        assign_frames(vm)
    except BaseException:
        gic.regions.remove(region)
        raise


def _require_model(vm: Vm, model: int, attr: int) -> None:
    if vm.vgic.model != model:
        version = 2 if model == c.KVM_DEV_TYPE_ARM_VGIC_V2 else 3
        refuse(errno.ENXIO, f"{c.ADDR_NAMES[attr]} needs a GICv{version} device")


def set_vgic_address(vm: Vm, attr: int, value: int) -> None:
    """Handle KVM_SET_DEVICE_ATTR(GRP_ADDR) on a vGIC (pointer already read).

    Raises:
        Refusal: ENXIO, EEXIST, EINVAL or E2BIG.
    """
    gic = vm.vgic
    if attr == c.KVM_VGIC_V2_ADDR_TYPE_DIST:
        _require_model(vm, c.KVM_DEV_TYPE_ARM_VGIC_V2, attr)
        check_address(vm, gic.dist_base, value, c.SZ_4K, c.KVM_VGIC_V2_DIST_SIZE)
        gic.dist_base = value
    elif attr == c.KVM_VGIC_V2_ADDR_TYPE_CPU:
        _require_model(vm, c.KVM_DEV_TYPE_ARM_VGIC_V2, attr)
        check_address(vm, gic.cpu_base, value, c.SZ_4K, c.KVM_VGIC_V2_CPU_SIZE)
        gic.cpu_base = value
    elif attr == c.KVM_VGIC_V3_ADDR_TYPE_DIST:
        _require_model(vm, c.KVM_DEV_TYPE_ARM_VGIC_V3, attr)
        check_address(vm, gic.dist_base, value, c.SZ_64K, c.KVM_VGIC_V3_DIST_SIZE)
        gic.dist_base = value
    elif attr == c.KVM_VGIC_V3_ADDR_TYPE_REDIST:
        _require_model(vm, c.KVM_DEV_TYPE_ARM_VGIC_V3, attr)
        if vm.semantics.eager_redist_frames:
            add_redist_region(vm, 0, value, 0)
        else:
            # 2016: one plain address, no set-time overlap check (§5 A/B).
            current = gic.regions[0].base if gic.regions else c.VGIC_ADDR_UNDEF
            check_address(vm, current, value, c.SZ_64K, 0)
            gic.regions.append(RedistRegion(index=0, base=value, count=0))
    elif attr == c.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION and vm.semantics.redist_regions:
        _require_model(vm, c.KVM_DEV_TYPE_ARM_VGIC_V3, attr)
        fields = decode_redist_region(value)
        index = fields.index & ((1 << vm.semantics.redist_index_bits) - 1)
        if fields.flags:
            refuse(errno.EINVAL, f"flags 0x{fields.flags:x} must be 0")
        if fields.count == 0:
            refuse(errno.EINVAL, "count must not be 0")
        add_redist_region(vm, index, fields.base, fields.count)
    else:
        refuse(errno.ENXIO, _unknown(vm, attr))


def get_vgic_address(vm: Vm, attr: int, value: int) -> int:
    """Handle KVM_GET_DEVICE_ATTR(GRP_ADDR); *value* carries a region index.

    Raises:
        Refusal: ENXIO for a wrong or unknown attr, ENOENT for a missing region.
    """
    gic = vm.vgic
    v2, v3 = c.KVM_DEV_TYPE_ARM_VGIC_V2, c.KVM_DEV_TYPE_ARM_VGIC_V3
    if attr in (c.KVM_VGIC_V2_ADDR_TYPE_DIST, c.KVM_VGIC_V2_ADDR_TYPE_CPU):
        _require_model(vm, v2, attr)
        return gic.dist_base if attr == c.KVM_VGIC_V2_ADDR_TYPE_DIST else gic.cpu_base
    if attr == c.KVM_VGIC_V3_ADDR_TYPE_DIST:
        _require_model(vm, v3, attr)
        return gic.dist_base
    if attr == c.KVM_VGIC_V3_ADDR_TYPE_REDIST:
        _require_model(vm, v3, attr)
        return gic.regions[0].base if gic.regions else c.VGIC_ADDR_UNDEF
    if attr == c.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION and vm.semantics.redist_regions:
        _require_model(vm, v3, attr)
        index = decode_redist_region(value).index
        index &= (1 << vm.semantics.redist_index_bits) - 1
        for region in gic.regions:
            if region.index == index:
                return index | region.base | (region.count << REDIST_COUNT_SHIFT)
        refuse(errno.ENOENT, f"no redistributor region with index {index}")
    refuse(errno.ENXIO, _unknown(vm, attr))


def has_vgic_address(vm: Vm, attr: int) -> bool:
    """Return whether KVM_HAS_DEVICE_ATTR(GRP_ADDR, attr) answers 0."""
    if vm.vgic.model == c.KVM_DEV_TYPE_ARM_VGIC_V2:
        return attr in (c.KVM_VGIC_V2_ADDR_TYPE_DIST, c.KVM_VGIC_V2_ADDR_TYPE_CPU)
    known = [c.KVM_VGIC_V3_ADDR_TYPE_DIST, c.KVM_VGIC_V3_ADDR_TYPE_REDIST]
    if vm.semantics.redist_regions:
        known.append(c.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION)
    return attr in known


def _unknown(vm: Vm, attr: int) -> str:
    if attr == c.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION:
        return (
            f"REDIST_REGION is not known to kernel {vm.semantics.name} (added in v4.18)"
        )
    return f"no address attribute {attr} on this device"
