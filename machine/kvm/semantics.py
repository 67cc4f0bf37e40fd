"""Kernel eras (``semantics=``) and the simulated host's capabilities.

Three kernels are selectable (kvm-vgic.md §5; DESIGN §1); their names are
defined in :mod:`virtmodel.machine.kvm.eras`:

* ``"v6.1"``: Debian bookworm's Linux 6.1 (eras C and D), read from Debian's
  linux-source-6.1 and measured on the lab's real arm64 KVM (docs/kvm.md).
* ``"v4.8"``: era B, c7735769 -- ITS registered at the first vCPU run.
* ``"v4.8-rc1"``: era A, 1085fdc6 -- ITS mapped at its CTRL_INIT.

``"mainline"`` is an alias of ``"v6.1"``: it used to stand for "today's
kernel", a mix of trees that no single kernel ever was, so it now names the
one modern kernel the model is verified against.

Each flag below records one difference and cites where the fact comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from virtmodel.machine.kvm.eras import SEMANTICS_NAMES, Era, era_of, is_semantics_name


@dataclass(frozen=True, slots=True)
class Semantics:
    """What one kernel version does differently from another."""

    #: The era's ``semantics=`` name.
    name: Era
    #: ITS behaviour era: "A" (init maps, needs address), "B" (init flag,
    #: checked at first run) or "C" (init is a no-op) -- §5.
    its_era: Literal["A", "B", "C"]
    #: v5.16+ vgic_check_iorange (EEXIST, EINVAL, E2BIG incl. region end);
    #: otherwise vgic_check_ioaddr (E2BIG on base, EINVAL, EEXIST) -- §2.4, §5 D.
    iorange_checks: bool
    #: KVM_VM_TYPE_ARM_IPA_SIZE (v4.20); before it every VM has 40 IPA bits.
    #: Not in the fact sheet: from the kernel's release history.
    ipa_size_type: bool
    #: Redistributor frames assigned when set and at vCPU creation, with the
    #: base check re-run (v4.12, 1aab6f46) -- §5 C.
    eager_redist_frames: bool
    #: REDIST_REGION (attr 5) exists (v4.18, §5 notes).
    redist_regions: bool
    #: v3 DIST_REGS / REDIST_REGS groups exist (GICv3 save/restore, v4.11).
    #: Not in the fact sheet: from the kernel's release history.
    v3_register_groups: bool
    #: ITS save/restore CTRL attrs 1 and 2, ITS_REGS, SAVE_PENDING_TABLES
    #: (v4.12 merge 36c344f3) -- §5 notes.
    its_save_restore: bool
    #: A failed first-run vGIC mapping marks the VM dead: every later VM,
    #: vCPU and device call answers EIO (6.1's kvm_vgic_map_resources calls
    #: kvm_vm_dead). Otherwise the vGIC configuration is wiped (§2.8).
    dead_after_failed_map: bool
    #: REDIST_REGION index bits the kernel keeps: 6.1 reads the 12-bit field
    #: into a u8, so index 256 is index 0.
    redist_index_bits: int
    #: An unknown ITS GRP_CTRL attribute is accepted (6.1's vgic_its_ctrl
    #: falls through its switch and returns 0).
    its_unknown_ctrl_ok: bool


SEMANTICS: Final[dict[Era, Semantics]] = {
    "v6.1": Semantics(
        name="v6.1",
        its_era="C",
        iorange_checks=True,
        ipa_size_type=True,
        eager_redist_frames=True,
        redist_regions=True,
        v3_register_groups=True,
        its_save_restore=True,
        dead_after_failed_map=True,
        redist_index_bits=8,
        its_unknown_ctrl_ok=True,
    ),
    "v4.8": Semantics(
        name="v4.8",
        its_era="B",
        iorange_checks=False,
        ipa_size_type=False,
        eager_redist_frames=False,
        redist_regions=False,
        v3_register_groups=False,
        its_save_restore=False,
        dead_after_failed_map=False,
        redist_index_bits=12,
        its_unknown_ctrl_ok=False,
    ),
    "v4.8-rc1": Semantics(
        name="v4.8-rc1",
        its_era="A",
        iorange_checks=False,
        ipa_size_type=False,
        eager_redist_frames=False,
        redist_regions=False,
        v3_register_groups=False,
        its_save_restore=False,
        dead_after_failed_map=False,
        redist_index_bits=12,
        its_unknown_ctrl_ok=False,
    ),
}


def get_semantics(name: str) -> Semantics:
    """Return the :class:`Semantics` called *name* (or an alias of it).

    Raises:
        ValueError: *name* is not one of the known eras.
    """
    if not is_semantics_name(name):
        known = ", ".join(repr(k) for k in SEMANTICS_NAMES)
        msg = f"unknown kernel semantics {name!r}; choose one of {known}"
        raise ValueError(msg)
    return SEMANTICS[era_of(name)]


@dataclass(frozen=True, slots=True)
class HostCaps:
    """The simulated host: its GIC and how large a guest IPA space it allows.

    The default is a GICv3 host that can also emulate a GICv2 (GICv2
    compatibility in its CPU interface), with a 48-bit IPA limit and no
    GICv4.1 direct-SGI support.

    Raises:
        ValueError: A field is out of range (message names it).
    """

    #: 2 or 3: the host's interrupt controller.
    gic_version: Literal[2, 3] = 3
    #: A GICv3 host can run GICv2 guests (always true on a GICv2 host).
    gicv2_emulation: bool = True
    #: Largest guest IPA size in bits (kvm_ipa_limit).
    ipa_limit: int = 48
    #: GICv4.1 with vSGI support, which lets a guest see GICD_TYPER2.nASSGIcap.
    gicv4_1_vsgi: bool = False
    #: The host PMU KVM can give a vCPU (KVM_ARM_VCPU_PMU_V3).
    pmu_v3: bool = True
    #: Highest PMU event number + 1 is ``pmu_event_mask + 1`` (0x3ff for
    #: PMUv3 of Armv8.0, 0xffff from Armv8.1).
    pmu_event_mask: int = 0xFFFF
    #: The perf PMU type id KVM_ARM_VCPU_PMU_V3_SET_PMU accepts.
    pmu_id: int = 8
    #: AArch32 at EL1 (KVM_ARM_VCPU_EL1_32BIT).
    el1_32bit: bool = True
    #: SVE (KVM_ARM_VCPU_SVE).
    sve: bool = True
    #: Address and generic pointer authentication (KVM_ARM_VCPU_PTRAUTH_*).
    ptrauth: bool = True
    #: Stolen-time accounting (KVM_ARM_VCPU_PVTIME_CTRL).
    pvtime: bool = True
    #: The host GIC CPU interface (ICH_VTR_EL2): priority bits, interrupt-ID
    #: bits field (1: 24 bits), SEIS and A3V. QEMU's emulated GICv3 under
    #: ``-cpu max`` has 5, 1, 0, 1.
    ich_pri_bits: int = 5
    #: Preemption bits: once the vCPU has been loaded on the CPU interface (a
    #: KVM_RUN), a group-0 binary point below 7 - this reads back as 7 - this,
    #: a group-1 one as one more.
    ich_pre_bits: int = 5
    ich_id_bits: int = 1
    ich_seis: int = 0
    ich_a3v: int = 1

    def __post_init__(self) -> None:
        if self.gic_version not in (2, 3):
            msg = f"host gic_version {self.gic_version!r} must be 2 or 3"
            raise ValueError(msg)
        if not 32 <= self.ipa_limit <= 52:
            msg = f"host ipa_limit {self.ipa_limit!r} must be in 32..52"
            raise ValueError(msg)
        if self.gicv4_1_vsgi and self.gic_version != 3:
            msg = "host gicv4_1_vsgi needs gic_version 3"
            raise ValueError(msg)

    @property
    def can_emulate_v2(self) -> bool:
        """Whether KVM_DEV_TYPE_ARM_VGIC_V2 is registered on this host."""
        return self.gic_version == 2 or self.gicv2_emulation

    @property
    def can_emulate_v3(self) -> bool:
        """Whether the VGIC_V3 and ITS device types are registered."""
        return self.gic_version == 3

    @property
    def max_vcpus(self) -> int:
        """KVM's default vCPU limit for a VM on this host (the vGIC's)."""
        return 512 if self.gic_version == 3 else 8


#: The lab's host (real-kvm-lab.md): QEMU's TCG ``-cpu max`` with a GICv3
#: and no GICV resource, so no GICv2 emulation; a 48-bit IPA limit;
#: KVM_CAP_MAX_VCPUS 512; PMU, SVE, pointer authentication and stolen time.
LAB_HOST: Final = HostCaps(gic_version=3, gicv2_emulation=False, ipa_limit=48)
