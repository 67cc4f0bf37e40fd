"""Per-interrupt state of the vGIC, as userspace can read and write it.

One :class:`Irq` per interrupt the register groups reach: the private ones
(SGIs 0..15, PPIs 16..31) of each vCPU, and the shared SPIs of the VM.
Defaults are the kernel's after vgic_init on a GICv3: group 1, SGIs enabled,
PPIs level-triggered, SGIs and SPIs edge-triggered (6.1 leaves an SPI's
configuration at zero, which is "edge"), everything else zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Interrupts below this are SGIs: always enabled at reset, always edge.
NR_SGIS = 16
NR_PRIVATE = 32


@dataclass(slots=True)
class Irq:
    """The userspace-visible state of one interrupt."""

    intid: int
    group: bool = True
    enabled: bool = False
    pending_latch: bool = False
    active: bool = False
    priority: int = 0
    edge: bool = False
    line_level: bool = False
    #: GICD_IROUTER affinity (Aff2.Aff1.Aff0; SPIs only).
    mpidr: int = 0

    @property
    def pending(self) -> bool:
        """Pending as a read shows it: the latch, or a level line held high."""
        return self.pending_latch or (not self.edge and self.line_level)


def new_irq(intid: int) -> Irq:
    """Return interrupt *intid* in its reset state."""
    sgi = intid < NR_SGIS
    return Irq(intid=intid, enabled=sgi, edge=sgi or intid >= NR_PRIVATE)


@dataclass
class IrqTable:
    """Every interrupt's state: private ones by (vCPU index, intid), SPIs by intid."""

    private: dict[tuple[int, int], Irq] = field(default_factory=dict)
    shared: dict[int, Irq] = field(default_factory=dict)

    def get(self, vcpu_index: int, intid: int) -> Irq:
        """Return the interrupt *intid* as vCPU *vcpu_index* sees it."""
        if intid < NR_PRIVATE:
            key = (vcpu_index, intid)
            if key not in self.private:
                self.private[key] = new_irq(intid)
            return self.private[key]
        if intid not in self.shared:
            self.shared[intid] = new_irq(intid)
        return self.shared[intid]

    def clear(self) -> None:
        """Forget everything (the vGIC was destroyed)."""
        self.private.clear()
        self.shared.clear()
