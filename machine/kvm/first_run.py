"""The first KVM_RUN: mapping the vGIC's resources (kvm-vgic.md §2.8, §5 B).

Checks run in the kernel's order for the VM's model and era. If any fails,
the caller wipes the whole vGIC configuration, as kvm_vgic_destroy does.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm.addresses import base_problem, overlaps
from virtmodel.machine.kvm.errors import refuse
from virtmodel.machine.kvm.state import span

if TYPE_CHECKING:
    from virtmodel.machine.kvm.vm import Vm

_U64_END = 1 << 64


def map_resources(vm: Vm) -> None:
    """Check and map the vGIC for the VM's first vCPU run.

    Raises:
        Refusal: ENXIO, EINVAL or EBUSY, the first check that fails.
    """
    if vm.vgic.model == c.KVM_DEV_TYPE_ARM_VGIC_V2:
        _map_v2(vm)
    elif vm.semantics.eager_redist_frames:
        _map_v3(vm)
    else:
        _map_v3_2016(vm)


def _map_v2(vm: Vm) -> None:
    gic = vm.vgic
    if gic.dist_base == c.VGIC_ADDR_UNDEF:
        refuse(errno.ENXIO, "the distributor address is not set")
    if gic.cpu_base == c.VGIC_ADDR_UNDEF:
        refuse(errno.ENXIO, "the CPU interface address is not set")
    dist = (gic.dist_base, c.KVM_VGIC_V2_DIST_SIZE)
    cpu = (gic.cpu_base, c.KVM_VGIC_V2_CPU_SIZE)
    for name, (base, size) in (("distributor", dist), ("CPU interface", cpu)):
        if base + size >= _U64_END:
            refuse(errno.EINVAL, f"the {name} {span(base, size)} wraps")
    if overlaps(*dist, *cpu):
        refuse(
            errno.EINVAL,
            f"distributor {span(*dist)} overlaps CPU interface {span(*cpu)}",
        )
    vm.vgic_init()  # GICv2 initializes implicitly here (§2.8 step 3)


def _check_v3_layout_and_init(vm: Vm) -> None:
    problem = base_problem(vm)
    if problem is not None:
        refuse(errno.EINVAL, problem)
    if not vm.vgic.initialized:
        refuse(errno.EBUSY, "the vGIC is not initialized: no CTRL_INIT")


def _map_v3(vm: Vm) -> None:
    for vcpu in vm.vcpus:
        if vcpu.state.rdreg is None:
            refuse(errno.ENXIO, f"vcpu {vcpu.vcpu_id} has no redistributor frame")
    if vm.vgic.dist_base == c.VGIC_ADDR_UNDEF:
        refuse(errno.ENXIO, "the distributor address is not set")
    _check_v3_layout_and_init(vm)


def _map_v3_2016(vm: Vm) -> None:
    # Pre-v4.12 order (§5 notes, [S-H2-ctx]): addresses, overlap, init, then
    # in era B every ITS of a GICv3 VM is registered.
    if vm.vgic.dist_base == c.VGIC_ADDR_UNDEF:
        refuse(errno.ENXIO, "the distributor address is not set")
    if not vm.vgic.regions:
        refuse(errno.ENXIO, "the redistributor address is not set")
    _check_v3_layout_and_init(vm)
    if vm.semantics.its_era != "B":
        return
    for its in vm.its_devices:
        if not its.initialized:
            refuse(
                errno.EBUSY, f"{its.label}: the ITS is not initialized: no CTRL_INIT"
            )
        if its.base == c.VGIC_ADDR_UNDEF:
            refuse(errno.ENXIO, f"{its.label}: the ITS address is not set")
        its.mapped = True
