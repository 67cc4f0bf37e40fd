"""The resolved configuration of a ``-M virt`` machine (QEMU 7.2).

:class:`VirtConfig` holds the user's choices as resolved values (GIC version
2/3/4, the CPU topology, RAM sizes) and derives everything the board, the
device tree and the command line need: the memory map, the redistributor
layout, MPIDRs, the PSCI conduit. Every limit QEMU enforces is checked when the
config is built, so a config that exists describes a machine QEMU would start.
Build one from QEMU option strings with :meth:`VirtConfig.from_options`
(``machine/boards/virt_options.py``) or from resolved values directly.

Under KVM the host is simulated: it offers vGICv2 and vGICv3, an IPA size of
:data:`DEFAULT_HOST_IPA_BITS` (what arm64 KVM gives a VM that asks for nothing
larger, ``KVM_VM_TYPE_ARM_IPA_SIZE`` absent) and PSCI 1.1 (mainline KVM's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from virtmodel.devices.cpu import DEFAULT_CPU, CpuModel
from virtmodel.machine.boards.virt_boot import (
    DEFAULT_HOST_PSCI_VERSION,
    TCG_PSCI_VERSION,
    BootFacts,
    Conduit,
    boot_facts,
)
from virtmodel.machine.boards.virt_checks import (
    DEFAULT_HOST_IPA_BITS,
    REDIST_STRIDE,
    Derived,
    derive,
    virt_max_cpus,
)
from virtmodel.machine.boards.virt_memmap import ECAM_BUS_SIZE, IRQMAP, MapEntry
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import DEFAULT_RAM_SIZE, format_size
from virtmodel.machine.smp import SmpTopology


class CpuTopologyId(NamedTuple):
    """Where one CPU sits in the topology (the ``cpu-map`` path components)."""

    socket: int
    cluster: int
    core: int
    thread: int


class VirtConfig(BaseModel):
    """A validated ``-M virt`` machine: options, CPU, topology and RAM, resolved.

    Direct construction checks every QEMU limit and raises
    :class:`~machine.errors.ConfigError` (never a bare pydantic error).

    Example:
        >>> config = VirtConfig(gic_version=3, cpus=4, max_cpus=4, cores=4)
        >>> config.memmap["gic_redist"], hex(config.mpidr(3))
        (MapEntry(base=134873088, size=16121856), '0x3')
        >>> config.redist_region_counts
        (4,)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    accel: Literal["tcg", "kvm"] = Field(default="tcg", description="-accel")
    cpu_type: str = Field(default=DEFAULT_CPU, description="-cpu model")
    gic_version: Literal[2, 3, 4] = Field(default=2, description="resolved GIC version")
    its: bool = Field(default=True, description="ITS with GICv3/4 (ignored for GICv2)")
    highmem: bool = Field(default=True, description="use addresses above 4 GiB")
    secure: bool = Field(default=False, description="EL3 and the secure world (TCG)")
    virtualization: bool = Field(default=False, description="EL2 (TCG)")
    iommu: Literal["none", "smmuv3"] = Field(default="none", description="board IOMMU")
    default_bus_bypass_iommu: bool = Field(
        default=False, description="root bus bypasses it"
    )
    dtb_randomness: bool = Field(
        default=True, description="kaslr-seed/rng-seed in /chosen"
    )
    acpi: Literal["on", "off", "auto"] = Field(
        default="auto", description="ACPI tables"
    )
    ras: bool = Field(default=False, description="RAS (ACPI HEST only)")
    mte: bool = Field(default=False, description="memory tagging (TCG, -cpu max)")
    phandle_start: int = Field(default=0, ge=0, lt=1 << 32, description="0 = 0x8000")
    cpus: int = Field(default=1, ge=1, description="CPUs present at boot")
    max_cpus: int = Field(default=1, ge=1, description="CPUs possible (hot-plug)")
    sockets: int = Field(default=1, ge=1, description="-smp sockets")
    clusters: int = Field(default=1, ge=1, description="-smp clusters")
    cores: int = Field(default=1, ge=1, description="-smp cores")
    threads: int = Field(default=1, ge=1, description="-smp threads")
    ram_size: int = Field(default=DEFAULT_RAM_SIZE, ge=1, description="-m size, bytes")
    ram_slots: int = Field(default=0, ge=0, description="-m slots")
    maxram_size: int = Field(default=0, ge=0, description="-m maxmem; 0 = ram_size")
    kernel: str | None = Field(default=None, description="-kernel image")
    initrd: str | None = Field(default=None, description="-initrd image")
    append: str | None = Field(default=None, description="-append command line")
    bios: str | None = Field(default=None, description="-bios firmware image")
    host_ipa_bits: int = Field(
        default=DEFAULT_HOST_IPA_BITS,
        ge=32,
        le=52,
        description="simulated KVM host IPA size",
    )
    host_psci_version: tuple[int, int] = Field(
        default=DEFAULT_HOST_PSCI_VERSION, description="simulated KVM host PSCI"
    )

    _derived: Derived = PrivateAttr()
    _warnings: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="before")
    @classmethod
    def _default_maxram(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("maxram_size"):
            return {**data, "maxram_size": data.get("ram_size", DEFAULT_RAM_SIZE)}
        return data

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

    def replace(self, **changes: Any) -> VirtConfig:
        """Return a copy with *changes* applied, fully re-validated.

        Raises:
            ConfigError: The changed configuration is invalid.
        """
        return VirtConfig(**{**self.model_dump(), **changes})

    @classmethod
    def from_options(
        cls,
        machine: str | None = None,
        *,
        smp: str | None = None,
        memory: str | None = None,
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
        from virtmodel.machine.boards.virt_options import config_from_options

        return config_from_options(
            machine, smp=smp, memory=memory, cpu=cpu, accel=accel, **extra
        )

    def to_qemu_args(self) -> list[str]:
        """Return the ``qemu-system-aarch64`` arguments that build this machine.

        The list reproduces every choice (``-M``, ``-cpu``, ``-smp``, ``-m``,
        ``-accel`` and the boot images); it never contains ``dumpdtb``.
        """
        from virtmodel.machine.boards.virt_options import qemu_args

        return qemu_args(self)

    def describe(self) -> str:
        """Return a one-line summary (``virt-7.2 tcg cortex-a57 gicv3+its ...``)."""
        gic = f"gicv{self.gic_version}" + (
            "+its" if self.its and self.gic_version >= 3 else ""
        )
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
            "virt-7.2",
            self.accel,
            self.cpu_type,
            gic,
            f"smp {self.cpus}/{self.max_cpus} "
            f"({self.sockets}s*{self.clusters}cl*{self.cores}c*{self.threads}t)",
            f"ram {format_size(self.ram_size)}",
            f"pa {self.pa_bits} bits",
            *extras,
        ]
        return " ".join(parts)

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
        """Whether a ``/pmu`` node exists (empty for an ARMv7 PMU)."""
        return self._derived.cpu.pmu != "none"

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
        """Return the resolved ``-smp`` topology."""
        return self._derived.topology

    @property
    def cluster_size(self) -> int:
        """Return CPUs per MPIDR Aff1 group: 16 for GICv3/4, 8 for GICv2."""
        return 8 if self.gic_version == 2 else 16

    def mpidr(self, index: int) -> int:
        """Return the MPIDR affinity (DTB ``reg``) of CPU *index*.

        Raises:
            ConfigError: *index* is not below ``max_cpus``.
        """
        self._derived.topology.ids(index)  # bounds check
        return (index // self.cluster_size) << 8 | index % self.cluster_size

    def topology_ids(self, index: int) -> CpuTopologyId:
        """Return socket, cluster, core and thread of CPU *index*.

        Raises:
            ConfigError: *index* is not below ``max_cpus``.
        """
        return CpuTopologyId(*self._derived.topology.ids(index))

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
        return self.ram_slots > 0 or self.maxram_size > self.ram_size

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
        return self.acpi != "off" and self.has_firmware and self.is_armv8

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


__all__ = ["DEFAULT_HOST_IPA_BITS", "CpuTopologyId", "VirtConfig"]
