"""The VM-wide vGIC state and the vCPU state the kernel keeps for it.

This is the per-VM ``struct vgic_dist`` of kvm-vgic.md §2.1 and the per-vCPU
redistributor assignment. A legacy redistributor region (``count == 0``)
has no fixed size: it always spans one 128 KiB frame per online vCPU at the
moment a check runs (§2.1, §6.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from virtmodel.machine.kvm.constants import (
    KVM_VGIC_V3_REDIST_SIZE,
    VGIC_ADDR_UNDEF,
)
from virtmodel.machine.kvm.encoding import reset_mpidr
from virtmodel.machine.kvm.irqs import IrqTable

#: PROPBASER/PENDBASER reset value: inner read-allocate write-back, inner
#: shareable.
INITIAL_BASER = (3 << 7) | (1 << 10)


@dataclass(slots=True)
class RedistRegion:
    """One redistributor region; ``count == 0`` marks the legacy region."""

    #: REDIST_REGION index (0 for the legacy region).
    index: int
    #: Guest physical base address.
    base: int
    #: Number of redistributor frames, 0 for the legacy region.
    count: int
    #: Next frame to hand out to a vCPU.
    free_index: int = 0

    @property
    def legacy(self) -> bool:
        """Whether this is the single region set with VGIC_V3_ADDR_TYPE_REDIST."""
        return self.count == 0

    def full(self) -> bool:
        """Whether every frame is taken (a legacy region never is)."""
        return not self.legacy and self.free_index >= self.count


@dataclass(slots=True)
class VcpuState:
    """What the kernel keeps per vCPU that the vGIC model reads."""

    #: KVM_CREATE_VCPU id.
    vcpu_id: int
    #: Creation order (kvm_for_each_vcpu order).
    index: int
    #: MPIDR_EL1; the kernel's reset value unless userspace wrote another.
    mpidr: int = -1
    #: Region holding this vCPU's redistributor frame, if any.
    rdreg: RedistRegion | None = None
    #: Frame number inside :attr:`rdreg`.
    rdreg_index: int = 0
    #: Whether this vCPU has completed its first KVM_RUN.
    has_run_once: bool = False
    #: GICv2 CPU interface control register (GICC_CTLR) as userspace sees it.
    gicc_ctlr: int = 0
    #: KVM_ARM_VCPU_INIT succeeded (the kernel's ``target >= 0``).
    initialized: bool = True
    #: KVM_ARM_VCPU_INIT feature bits (word 0).
    features: int = 0
    #: KVM_ARM_VCPU_FINALIZE(KVM_ARM_VCPU_SVE) done.
    sve_finalized: bool = False
    #: Started (or re-initialised) with KVM_ARM_VCPU_POWER_OFF.
    power_off: bool = False
    #: PMU overflow interrupt, None until userspace sets it.
    pmu_irq: int | None = None
    #: KVM_ARM_VCPU_PMU_V3_INIT done.
    pmu_created: bool = False
    #: Timer interrupts (the kernel keeps them per vCPU, sets them VM-wide).
    vtimer_irq: int = 27
    ptimer_irq: int = 30
    #: The timer was enabled by the first run; its interrupts are fixed.
    timer_enabled: bool = False
    #: Stolen-time structure address (all ones: none).
    steal_base: int = (1 << 64) - 1

    #: GICR_CTLR.EnableLPIs.
    lpis_enabled: bool = False
    #: GICR_PENDBASER.
    pendbaser: int = INITIAL_BASER
    #: CPU interface state (ICH_VMCR fields and active priorities).
    vmcr_pmr: int = 0
    vmcr_bpr: int = 0
    vmcr_abpr: int = 0
    vmcr_cbpr: bool = False
    vmcr_eoim: bool = False
    vmcr_grpen0: bool = False
    vmcr_grpen1: bool = False
    #: Priority and interrupt-ID bits the CPU interface reports (host's).
    pri_bits: int = 5
    id_bits: int = 1
    apr: list[list[int]] = field(default_factory=lambda: [[0] * 4, [0] * 4])

    def has_feature(self, bit: int) -> bool:
        """Whether KVM_ARM_VCPU_INIT feature *bit* is set."""
        return bool(self.features >> bit & 1)

    def __post_init__(self) -> None:
        if self.mpidr < 0:
            self.mpidr = reset_mpidr(self.vcpu_id)


@dataclass(slots=True)
class VgicState:
    """The VM's in-kernel interrupt controller state (``struct vgic_dist``)."""

    #: KVM_DEV_TYPE_ARM_VGIC_V2 or _V3 once a vGIC exists, else None.
    model: int | None = None
    dist_base: int = VGIC_ADDR_UNDEF
    cpu_base: int = VGIC_ADDR_UNDEF
    #: Redistributor regions in the order they were added.
    regions: list[RedistRegion] = field(default_factory=list)
    #: Number of SPIs; 0 means not set yet.
    nr_spis: int = 0
    #: Set by CTRL_INIT (or lazily on GICv2).
    initialized: bool = False
    #: Set when the first vCPU run mapped the resources.
    ready: bool = False
    #: GICD_IIDR revision field.
    implementation_rev: int = 3
    #: GICD_TYPER2.nASSGIcap as the guest will see it.
    nassgicap: bool = False
    #: GICD_CTLR group-1 enable.
    enabled: bool = False
    #: GICR_PROPBASER (VM-wide; an ITS's creation resets it).
    propbaser: int = 0
    #: Per-interrupt state the register groups reach.
    irqs: IrqTable = field(default_factory=IrqTable)

    @property
    def in_kernel(self) -> bool:
        """Whether the VM has an in-kernel irqchip."""
        return self.model is not None

    def wipe(self, vcpus: list[VcpuState]) -> None:
        """Destroy the configuration, as kvm_vgic_destroy does (§2.8).

        The model stays: the VM keeps its (now empty) in-kernel irqchip.
        """
        self.dist_base = VGIC_ADDR_UNDEF
        self.cpu_base = VGIC_ADDR_UNDEF
        self.regions.clear()
        self.nr_spis = 0
        self.initialized = False
        self.ready = False
        self.irqs.clear()
        for vcpu in vcpus:
            vcpu.rdreg = None
            vcpu.rdreg_index = 0


def region_size(region: RedistRegion, online_vcpus: int) -> int:
    """Return the bytes *region* spans now (legacy: one frame per vCPU)."""
    frames = region.count if region.count else online_vcpus
    return frames * KVM_VGIC_V3_REDIST_SIZE


def span(base: int, size: int) -> str:
    """Format ``[base, end)`` the project's way."""
    return f"[0x{base:08x}, 0x{base + size:08x})"
