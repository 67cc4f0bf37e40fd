"""The first KVM_RUN: the vGIC's resources, the timer and the PMU (§2.8, §5 B).

Checks run in the kernel's order for the VM's model and era. A failed vGIC
mapping kills a 6.1 VM and wipes a 2016 kernel's vGIC configuration. Also
here: which guest addresses in-kernel devices claim on the MMIO bus.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.addresses import base_problem, overlaps
from virtmodel.machine.kvm.errors import Refusal, refuse
from virtmodel.machine.kvm.state import span
from virtmodel.machine.kvm.vcpu_attrs import timer_irqs_valid

if TYPE_CHECKING:
    from virtmodel.machine.kvm.vcpu import Vcpu
    from virtmodel.machine.kvm.vm import Vm


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
    # The kernel also refuses a range that wraps; both bases passed
    # check_address, so they lie below the IPA size and cannot.
    dist = (gic.dist_base, c.KVM_VGIC_V2_DIST_SIZE)
    cpu = (gic.cpu_base, c.KVM_VGIC_V2_CPU_SIZE)
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


def vcpu_first_run(vm: Vm, vcpu: Vcpu) -> None:
    """Run kvm_arch_vcpu_run_pid_change for *vcpu*'s first KVM_RUN.

    The vGIC is mapped once per VM; then the vCPU's timer and PMU are
    enabled. Only a failed vGIC mapping is fatal (6.1: the VM dies; the
    2016 kernels wipe the vGIC); the others fail this run only.

    Raises:
        Refusal: ENXIO, EINVAL or EBUSY.
    """
    if vm.vgic.in_kernel and not vm.vgic.ready:
        try:
            map_resources(vm)
        except Refusal:
            if vm.semantics.dead_after_failed_map:
                vm.dead = True
            else:
                vm.vgic.wipe([v.state for v in vm.vcpus])
            raise
        vm.vgic.ready = True
    state = vcpu.state
    in_kernel = vm.vgic.in_kernel
    if in_kernel and not state.timer_enabled and not timer_irqs_valid(vcpu):
        refuse(errno.EINVAL, "the timer interrupts are not usable")
    state.timer_enabled = True
    if state.has_feature(u.KVM_ARM_VCPU_PMU_V3):
        if not state.pmu_created:
            refuse(errno.EINVAL, "the vcpu's PMU is not initialized")
        irq = state.pmu_irq
        # The kernel also refuses a PMU interrupt without an in-kernel
        # irqchip; here setting one needs the irqchip, which stays.
        if vm.vgic.in_kernel:
            spis = vm.vgic.nr_spis + c.VGIC_NR_PRIVATE_IRQS
            if irq is None or not (16 <= irq < 32 or 32 <= irq < spis):
                refuse(errno.EINVAL, f"PMU interrupt {irq} is not usable")
    state.has_run_once = True
    vm.any_vcpu_has_run = True


def mmio_claimed(vm: Vm, ipa: int) -> bool:
    """Whether a guest access to *ipa* is handled by an in-kernel device.

    Registered frames: each vCPU's redistributor (when it got one), the
    distributor (once mapped by the first run) and every ITS with an
    address (6.1 registers it at once).
    """
    gic = vm.vgic
    frames: list[tuple[int, int]] = []
    for vcpu in vm.vcpus:
        region = vcpu.state.rdreg
        if region is not None:
            base = region.base + vcpu.state.rdreg_index * c.KVM_VGIC_V3_REDIST_SIZE
            frames.append((base, c.KVM_VGIC_V3_REDIST_SIZE))
    if gic.ready and gic.dist_base != c.VGIC_ADDR_UNDEF:
        v3 = gic.model == c.KVM_DEV_TYPE_ARM_VGIC_V3
        size = c.KVM_VGIC_V3_DIST_SIZE if v3 else c.KVM_VGIC_V2_DIST_SIZE
        frames.append((gic.dist_base, size))
    for its in vm.its_devices:
        if its.mapped:
            frames.append((its.base, c.KVM_VGIC_V3_ITS_SIZE))
    return any(base <= ipa < base + size for base, size in frames)
