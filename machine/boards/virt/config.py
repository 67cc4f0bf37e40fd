"""The resolved configuration of a ``-M virt`` machine (QEMU 7.2).

:class:`VirtConfig` holds the user's choices as resolved values (GIC version
2/3/4, the CPU topology, RAM sizes) and derives everything the board, the
device tree and the command line need: the memory map, the redistributor
layout, MPIDRs, the PSCI conduit. Every limit QEMU enforces is checked when the
config is built, so a config that exists describes a machine QEMU would start.
Build one from QEMU option strings with :meth:`VirtConfig.from_options`
(``machine/boards/virt/options.py``) or from resolved values directly.

Under KVM the host is simulated: it offers vGICv2 and vGICv3, an IPA size of
:data:`DEFAULT_HOST_IPA_BITS` (what arm64 KVM gives a VM that asks for nothing
larger, ``KVM_VM_TYPE_ARM_IPA_SIZE`` absent) and PSCI 1.1 (mainline KVM's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from pydantic import PrivateAttr, ValidationError

from virtmodel.devices.cpu import CpuModel
from virtmodel.machine.boards.virt.fields import DEFAULT_HOST_IPA_BITS, VirtFields
from virtmodel.machine.boards.virt.layout import (
    REDIST_STRIDE,
    Derived,
    derive,
    virt_max_cpus,
)
from virtmodel.machine.boards.virt.memmap import ECAM_BUS_SIZE, IRQMAP, MapEntry
from virtmodel.machine.boards.virt.options import parse_options, qemu_args
from virtmodel.machine.boards.virt.psci import (
    TCG_PSCI_VERSION,
    BootFacts,
    Conduit,
    boot_facts,
)
from virtmodel.machine.boards.virt.versions import VirtCompat
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import format_size
from virtmodel.machine.smp import SmpTopology


class CpuTopologyId(NamedTuple):
    """Where one CPU sits in the topology (the ``cpu-map`` path components)."""

    socket: int
    cluster: int
    core: int
    thread: int


class VirtConfig(VirtFields):
    """A validated ``-M virt`` machine: options, CPU, topology and RAM, resolved.

    Direct construction checks every QEMU limit and raises
    :class:`~machine.errors.ConfigError` (never a bare pydantic error).

    Example:
        >>> config = VirtConfig(gic_version=3, smp="4")
        >>> config.memmap["gic_redist"], hex(config.mpidr(3))
        (MapEntry(base=134873088, size=16121856), '0x3')
        >>> config.redist_region_counts
        (4,)
    """

    _derived: Derived = PrivateAttr()
    _warnings: tuple[str, ...] = PrivateAttr(default=())

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            first = exc.errors()[0]
            cause = first.get("ctx", {}).get("error")
            if isinstance(cause, ConfigError):
                raise cause from None
            field = str(first["loc"][0]) if first["loc"] else "machine"
            msg = f"{first.get('input')!r} is invalid: {first['msg']}"
            raise ConfigError(field, first.get("input"), msg) from exc

    def model_post_init(self, context: Any, /) -> None:
        """Check every limit and compute the derived layout (pydantic hook)."""
        self._derived = derive(self)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Return what QEMU would warn about for the options this config came from."""
        return self._warnings

    def _set_warnings(self, warnings: tuple[str, ...]) -> None:
        self._warnings = warnings

    @classmethod
    def _from_checked(cls, values: dict[str, Any]) -> VirtConfig:
        """Return the config of field values :func:`parse_options` checked.

        The option parser checked every value it produced (types, choices,
        ranges); pydantic would only check them again, after building this
        model's validator (tens of milliseconds, more than the rest of
        ``virtmodel dtb``). QEMU's limits are checked here as always
        (``model_post_init``).

        Raises:
            ConfigError: The machine breaks a QEMU limit.
        """
        return cls.model_construct(**values)

    def replace(self, **changes: Any) -> VirtConfig:
        """Return a copy with *changes* applied, fully re-validated.

        Raises:
            ConfigError: The changed configuration is invalid.
        """
        return VirtConfig(**{**self.field_values(), **changes})

    @classmethod
    def from_options(
        cls,
        machine: str | Mapping[str, str] | None = None,
        *,
        smp: str | Mapping[str, str] | None = None,
        memory: str | Mapping[str, str] | None = None,
        cpu: str | None = None,
        accel: str | None = None,
        **extra: Any,
    ) -> VirtConfig:
        """Build a config from QEMU option strings (``None`` = QEMU's default).

        *machine* is the ``-M`` text (``"virt,gic-version=3,its=on"``); *extra*
        takes ``kernel``, ``initrd``, ``append``, ``bios`` and the simulated
        host's ``host_ipa_bits``/``host_psci_version``.

        Raises:
            ConfigError: An option is unknown or malformed, or the machine
                breaks a QEMU limit.
        """
        return config_from_options(
            machine, smp=smp, memory=memory, cpu=cpu, accel=accel, **extra
        )

    def to_qemu_args(self) -> list[str]:
        """Return the ``qemu-system-aarch64`` arguments that build this machine.

        The list reproduces every choice (``-M``, ``-cpu``, ``-smp``, ``-m``,
        ``-accel`` and the boot images); it never contains ``dumpdtb``.
        """
        defaults = {n: f.get_default() for n, f in type(self).model_fields.items()}
        return qemu_args(self.field_values(), defaults)

    def describe(self) -> str:
        """Return a one-line summary (``virt-7.2 tcg cortex-a57 gicv3+its ...``)."""
        gic = f"gicv{self.gic_version}" + ("+its" if self.has_its else "")
        extras = [
            name
            for name in ("secure", "virtualization", "mte", "ras")
            if getattr(self, name)
        ]
        if not self.highmem:
            extras.append("highmem=off")
        if self.iommu != "none":
            extras.append(self.iommu)
        parts = [
            self.machine_type,
            self.accel,
            self.cpu_type,
            gic,
            f"smp {self.cpus}/{self.max_cpus} "
            f"({self.smp.sockets}s*{self.smp.clusters}cl*{self.smp.cores}c*"
            f"{self.smp.threads}t)",
            f"ram {format_size(self.ram_size)}",
            f"pa {self.pa_bits} bits",
            *extras,
        ]
        return " ".join(parts)

    # -- machine type -----------------------------------------------------------

    @property
    def compat(self) -> VirtCompat:
        """Return the flags of the machine type (``virt-6.1`` has no cpu-map, ...)."""
        return self._derived.compat

    @property
    def has_its(self) -> bool:
        """Whether an ITS exists: ``its=on``, GICv3+, and the type gives one."""
        return self.gic_version >= 3 and self._derived.has_its

    @property
    def has_secure_gpio(self) -> bool:
        """Whether ``secure=on`` brought the secure PL061 (virt-6.0 and later)."""
        return "secure_gpio" in self._derived.memmap

    # -- CPU ------------------------------------------------------------------

    @property
    def cpu_model(self) -> CpuModel:
        """Return the CPU model row (``devices.cpu.CPU_MODELS``)."""
        return self._derived.cpu

    @property
    def is_armv8(self) -> bool:
        """Whether the CPU is ARMv8 (armv8 timer, PMUv3 node, 64-bit PSCI IDs)."""
        return self._derived.cpu.aarch64

    @property
    def has_pmu(self) -> bool:
        """Whether a ``/pmu`` node exists (empty for an ARMv7 PMU; ``pmu=off``: no)."""
        return (
            self._derived.compat.pmu
            and self._derived.cpu.pmu != "none"
            and dict(self.cpu_props).get("pmu", True)
        )

    @property
    def dtb_compatible(self) -> str:
        """Return the ``compatible`` of each ``cpu@N`` node."""
        return self._derived.cpu.dtb_compatible

    @property
    def timer_compatible(self) -> tuple[str, ...]:
        """Return the ``/timer`` compatible strings, in order."""
        if self.is_armv8:
            return ("arm,armv8-timer", "arm,armv7-timer")
        return ("arm,armv7-timer",)

    @property
    def topology(self) -> SmpTopology:
        """Return the resolved ``-smp`` topology (the :attr:`smp` field)."""
        return self.smp

    @property
    def cluster_size(self) -> int:
        """Return CPUs per MPIDR Aff1 group: 16 for GICv3/4, 8 for GICv2."""
        if not self._derived.compat.affinity_clusters:
            return 8  # virt-2.6 kept QEMU's default cluster of 8
        return 8 if self.gic_version == 2 else 16

    def mpidr(self, index: int) -> int:
        """Return the MPIDR affinity (DTB ``reg``) of CPU *index*.

        Raises:
            ConfigError: *index* is not below ``max_cpus``.
        """
        self.smp.ids(index)  # bounds check
        return (index // self.cluster_size) << 8 | index % self.cluster_size

    def topology_ids(self, index: int) -> CpuTopologyId:
        """Return socket, cluster, core and thread of CPU *index*.

        Raises:
            ConfigError: *index* is not below ``max_cpus``.
        """
        return CpuTopologyId(*self.smp.ids(index))

    # -- memory ---------------------------------------------------------------

    @property
    def pa_bits(self) -> int:
        """Return the physical address bits the memory map was laid out for."""
        return self._derived.high.pa_bits

    @property
    def memmap(self) -> Mapping[str, MapEntry]:
        """Return the regions this machine maps, in address order (QEMU's names).

        ``mmio`` is one virtio-mmio transport (32 follow each other); ``mem``
        is the initial RAM.
        """
        return self._derived.memmap

    @property
    def irqmap(self) -> Mapping[str, int]:
        """Return the first SPI of each device (``a15irqmap``; secure GPIO reads 0)."""
        return IRQMAP

    @property
    def highmem_redists(self) -> bool:
        """Whether the second redistributor region fits the address space."""
        return self._derived.high.fits["high_gic_redist2"]

    @property
    def highmem_ecam(self) -> bool:
        """Whether PCIe uses the 256-bus high ECAM (else the 16-bus low one)."""
        return self._derived.highmem_ecam

    @property
    def highmem_mmio(self) -> bool:
        """Whether the 512 GiB 64-bit PCI window exists."""
        return self._derived.high.fits["high_pcie_mmio"]

    @property
    def highest_gpa(self) -> int:
        """Return the highest guest physical address in use."""
        return self._derived.high.highest_gpa

    @property
    def device_memory(self) -> MapEntry | None:
        """Return the hot-pluggable RAM window, or ``None`` without ``maxmem``/slots."""
        window = self._derived.high.device_memory
        return window if window.size else None

    @property
    def ecam(self) -> MapEntry:
        """Return the ECAM region PCIe uses."""
        return self._derived.memmap[
            "high_pcie_ecam" if self.highmem_ecam else "pcie_ecam"
        ]

    @property
    def nr_pcie_buses(self) -> int:
        """Return the PCIe bus count (ECAM size / 1 MiB): 256 high, 16 low."""
        return self.ecam.size // ECAM_BUS_SIZE

    @property
    def numa_auto(self) -> bool:
        """Whether QEMU creates one NUMA node by itself (memory hot-plug configured)."""
        hotplug = self.ram_slots > 0 or self.maxram_size > self.ram_size
        return hotplug and self._derived.compat.auto_numa

    # -- GIC --------------------------------------------------------------------

    @property
    def redist_stride(self) -> int:
        """Return the redistributor size per CPU (0 for GICv2)."""
        return REDIST_STRIDE.get(self.gic_version, 0)

    @property
    def redist_region_counts(self) -> tuple[int, ...]:
        """Return the CPUs in each redistributor region (``()`` for GICv2)."""
        return self._derived.redist_counts

    @property
    def max_cpus_for_gic(self) -> int:
        """Return the board's CPU limit for this GIC (8; 635 for v3; 317 for v4)."""
        return virt_max_cpus(self.gic_version)

    # -- boot and PSCI ------------------------------------------------------------

    @property
    def has_kernel(self) -> bool:
        """Whether a Linux kernel is loaded (``-kernel``)."""
        return self.kernel is not None

    @property
    def has_firmware(self) -> bool:
        """Whether firmware is loaded (``-bios``)."""
        return self.bios is not None

    @property
    def uses_acpi_ged(self) -> bool:
        """Whether an ACPI GED replaces the PL061 GPIO and ``gpio-keys``."""
        return "acpi_ged" in self._derived.memmap

    @property
    def boot(self) -> BootFacts:
        """Return the boot level and PSCI facts (conduit, version, function IDs)."""
        return boot_facts(
            secure=self.secure,
            virtualization=self.virtualization,
            has_kernel=self.has_kernel,
            has_firmware=self.has_firmware,
            aarch64=self.is_armv8,
            version=self.host_psci_version if self.accel == "kvm" else TCG_PSCI_VERSION,
        )

    @property
    def psci_conduit(self) -> Conduit:
        """Return the final conduit; ``/psci`` exists unless it is "disabled"."""
        return self.boot.conduit

    @property
    def first_phandle(self) -> int:
        """Return the first phandle allocated (``phandle-start``, 0 meaning 0x8000)."""
        return self.phandle_start or 0x8000


def config_from_options(
    machine: str | Mapping[str, str] | None = None,
    *,
    smp: str | Mapping[str, str] | None = None,
    memory: str | Mapping[str, str] | None = None,
    cpu: str | None = None,
    accel: str | None = None,
    **extra: Any,
) -> VirtConfig:
    """Build a :class:`VirtConfig` from QEMU option strings (``None`` = default).

    Raises:
        ConfigError: An option is unknown or malformed, or the machine breaks
            a QEMU limit.
    """
    parsed = parse_options(
        machine, smp=smp, memory=memory, cpu=cpu, accel=accel, **extra
    )
    # Keywords passed through (*extra*) were not checked by the parser.
    if extra:
        config = VirtConfig(**parsed.values)
    else:
        config = VirtConfig._from_checked(parsed.values)
    notes = list(parsed.warnings)
    if parsed.its_given and config.gic_version == 2:
        notes.append(
            "its has no effect with GICv2: the board always adds a GICv2m frame"
        )
    config._set_warnings(tuple(notes))
    return config


__all__ = [
    "DEFAULT_HOST_IPA_BITS",
    "CpuTopologyId",
    "VirtConfig",
    "config_from_options",
]
