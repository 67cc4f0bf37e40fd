"""Kernel eras (``semantics=``) and the simulated host's capabilities.

Three kernels are selectable (kvm-vgic.md §5; DESIGN §1):

* ``"mainline"``: today's kernel (eras C and D, v5.16+).
* ``"v4.8"``: era B, c7735769 -- ITS registered at the first vCPU run.
* ``"v4.8-rc1"``: era A, 1085fdc6 -- ITS mapped at its CTRL_INIT.

Each flag below records one difference and cites where the fact comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

#: The accepted ``semantics=`` values.
SemanticsName = Literal["mainline", "v4.8", "v4.8-rc1"]


@dataclass(frozen=True, slots=True)
class Semantics:
    """What one kernel version does differently from another."""

    #: The ``semantics=`` value.
    name: str
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
    #: GICD_IIDR / GICD_TYPER2 accessible before CTRL_INIT and writable
    #: (newest kernels, §2.7); GRP_MAINT_IRQ exists (§1.2).
    newest_registers: bool


SEMANTICS: Final[dict[str, Semantics]] = {
    "mainline": Semantics(
        name="mainline",
        its_era="C",
        iorange_checks=True,
        ipa_size_type=True,
        eager_redist_frames=True,
        redist_regions=True,
        v3_register_groups=True,
        its_save_restore=True,
        newest_registers=True,
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
        newest_registers=False,
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
        newest_registers=False,
    ),
}


def get_semantics(name: str) -> Semantics:
    """Return the :class:`Semantics` called *name*.

    Raises:
        ValueError: *name* is not one of the known eras.
    """
    try:
        return SEMANTICS[name]
    except KeyError:
        known = ", ".join(repr(k) for k in SEMANTICS)
        msg = f"unknown kernel semantics {name!r}; choose one of {known}"
        raise ValueError(msg) from None


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
