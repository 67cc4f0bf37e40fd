"""The versioned ``virt`` machine types of QEMU 7.2 and what each keeps.

QEMU 7.2 still builds every aarch64 ``virt`` type from 2.6 on; ``virt`` is an
alias of ``virt-7.2``. An older type keeps the behaviour of its release through
compatibility flags, and those that show in the device tree (read off the
dumped trees of the installed QEMU) are modelled here:

=============================  ==========================================
type                           differs from 7.2
=============================  ==========================================
6.1 and older                  no ``cpu-map`` (and no CPU phandles); no ITS
                               under TCG; ``-smp`` prefers sockets to cores
5.2 and older                  no secure GPIO (``gpio-restart``/``-poweroff``)
5.1 and older                  no KVM stolen time (no ``pvtime`` region and
                               no PVTIME_IPA; checked on the lab's kernel)
4.1 and older                  firmware keeps the PL061 and ``gpio-keys``
                               (no ACPI GED); memory hot-plug adds no NUMA
                               node by itself
2.12 and older                 PCIe ECAM stays below 4 GiB (16 buses)
2.8 and older                  timer interrupts edge-triggered
2.7 and older                  no ITS under KVM either
2.6                            no PMU node; MPIDR clusters of 8 CPUs on GICv3
=============================  ==========================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import suggest


@dataclass(frozen=True, slots=True)
class VirtCompat:
    """What one ``virt-X.Y`` type does, as flags read by the board."""

    version: tuple[int, int]

    def _since(self, major: int, minor: int) -> bool:
        return self.version >= (major, minor)

    @property
    def name(self) -> str:
        """Return the versioned type name (``virt-6.2``)."""
        return f"virt-{self.version[0]}.{self.version[1]}"

    @property
    def cpu_topology(self) -> bool:
        """Whether ``/cpus/cpu-map`` and CPU phandles are written (6.2+)."""
        return self._since(6, 2)

    @property
    def tcg_its(self) -> bool:
        """Whether TCG gets an emulated ITS (6.2+)."""
        return self._since(6, 2)

    @property
    def kvm_its(self) -> bool:
        """Whether KVM gets an in-kernel ITS (2.8+)."""
        return self._since(2, 8)

    @property
    def smp_prefer_sockets(self) -> bool:
        """Whether ``-smp`` fills sockets before cores (6.1 and older)."""
        return not self._since(6, 2)

    @property
    def secure_gpio(self) -> bool:
        """Whether ``secure=on`` adds the secure PL061 and its lines (6.0+)."""
        return self._since(6, 0)

    @property
    def kvm_steal_time(self) -> bool:
        """Whether vCPUs under KVM get a stolen-time record (5.2+)."""
        return self._since(5, 2)

    @property
    def acpi_ged(self) -> bool:
        """Whether firmware with ACPI gets the GED instead of the PL061 (4.2+)."""
        return self._since(4, 2)

    @property
    def auto_numa(self) -> bool:
        """Whether memory hot-plug makes QEMU add NUMA node 0 by itself (4.2+)."""
        return self._since(4, 2)

    @property
    def highmem_ecam(self) -> bool:
        """Whether PCIe may use the 256-bus ECAM above 4 GiB (3.0+)."""
        return self._since(3, 0)

    @property
    def edge_timers(self) -> bool:
        """Whether the timer PPIs are described edge-triggered (2.8 and older)."""
        return not self._since(2, 9)

    @property
    def pmu(self) -> bool:
        """Whether the board describes the PMU (2.7+)."""
        return self._since(2, 7)

    @property
    def affinity_clusters(self) -> bool:
        """Whether MPIDR clusters follow the GIC (16 CPUs on v3; 2.7+), else 8."""
        return self._since(2, 7)


_VERSIONS: Final = (
    (2, 6), (2, 7), (2, 8), (2, 9), (2, 10), (2, 11), (2, 12),
    (3, 0), (3, 1), (4, 0), (4, 1), (4, 2), (5, 0), (5, 1), (5, 2),
    (6, 0), (6, 1), (6, 2), (7, 0), (7, 1), (7, 2),
)  # fmt: skip

#: Every ``-M`` type name -> its flags (``virt`` is ``virt-7.2``).
MACHINE_VERSIONS: Final[Mapping[str, VirtCompat]] = MappingProxyType(
    {
        "virt": VirtCompat((7, 2)),
        **{f"virt-{a}.{b}": VirtCompat((a, b)) for a, b in _VERSIONS},
    }
)
#: The type names, newest first as ``-M help`` lists them here.
MACHINE_TYPES: Final = tuple(MACHINE_VERSIONS)


def machine_compat(name: str) -> VirtCompat:
    """Return the flags of machine type *name*.

    Raises:
        ConfigError: *name* is not a virt type of QEMU 7.2.
    """
    try:
        return MACHINE_VERSIONS[name]
    except KeyError:
        hint = suggest(name, MACHINE_TYPES)
        msg = f"machine type {name!r} is not modelled{hint}"
        raise ConfigError(option="machine", value=name, problem=msg) from None
