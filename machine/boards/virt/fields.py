"""The fields of a ``-M virt`` machine: what the user chose, before any rule.

:class:`VirtFields` is the data half of
:class:`~virtmodel.machine.boards.virt.config.VirtConfig`: plain values with
their defaults and the ``-smp`` topology as one resolved value. The rules and
the memory map (``layout``) read these fields, and ``config`` adds them on top,
so neither needs to import the other in a circle.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from virtmodel.devices.cpu import DEFAULT_CPU
from virtmodel.machine.boards.virt.devopts import GuestLoader
from virtmodel.machine.boards.virt.numa import NumaConfig
from virtmodel.machine.boards.virt.psci import DEFAULT_HOST_PSCI_VERSION
from virtmodel.machine.options import DEFAULT_RAM_SIZE
from virtmodel.machine.smp import SmpTopology, parse_smp

#: The IPA size arm64 KVM gives a VM that does not ask for one (``KVM_PHYS_SHIFT``
#: 40, kept for compatibility); the simulated host offers exactly this.
DEFAULT_HOST_IPA_BITS = 40


class VirtFields(BaseModel):
    """The user's choices for a ``-M virt`` machine, resolved to values."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    machine_type: str = Field(default="virt-7.2", description="-M type, versioned")
    accel: Literal["tcg", "kvm"] = Field(default="tcg", description="-accel")
    cpu_type: str = Field(default=DEFAULT_CPU, description="-cpu model")
    cpu_props: tuple[tuple[str, bool], ...] = Field(
        default=(), description="-cpu model,prop=on|off... in order"
    )
    gic_version: Literal[2, 3, 4] = Field(default=2, description="resolved GIC version")
    gic_auto: bool = Field(
        default=False,
        description="gic-version not given under KVM: GICv3 if the host has no GICv2",
    )
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
    smp: SmpTopology = Field(
        default_factory=SmpTopology, description="-smp topology, resolved once"
    )
    ram_size: int = Field(default=DEFAULT_RAM_SIZE, ge=1, description="-m size, bytes")
    ram_slots: int = Field(default=0, ge=0, description="-m slots")
    maxram_size: int = Field(default=0, ge=0, description="-m maxmem; 0 = ram_size")
    virtio_iommu: int | None = Field(
        default=None, ge=1, lt=256, description="-device virtio-iommu-pci devfn"
    )
    guest_loaders: tuple[GuestLoader, ...] = Field(
        default=(), description="-device guest-loader blobs, in order"
    )
    numa: NumaConfig | None = Field(default=None, description="-numa nodes, distances")
    kernel: str | None = Field(default=None, description="-kernel image")
    initrd: str | None = Field(default=None, description="-initrd image")
    append: str | None = Field(default=None, description="-append command line")
    bios: str | None = Field(default=None, description="-bios firmware image")
    dtb: str | None = Field(
        default=None, description="-dtb blob QEMU edits instead of its own tree"
    )
    host_ipa_bits: int = Field(
        default=DEFAULT_HOST_IPA_BITS,
        ge=32,
        le=52,
        description="simulated KVM host IPA size",
    )
    host_psci_version: tuple[int, int] = Field(
        default=DEFAULT_HOST_PSCI_VERSION, description="simulated KVM host PSCI"
    )

    @model_validator(mode="before")
    @classmethod
    def _default_maxram(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("maxram_size"):
            return {**data, "maxram_size": data.get("ram_size", DEFAULT_RAM_SIZE)}
        return data

    @field_validator("smp", mode="before")
    @classmethod
    def _parse_smp(cls, value: Any) -> Any:
        # ``-smp`` text is parsed here, once; a topology passes as it is.
        return parse_smp(value) if value is None or isinstance(value, str) else value

    @property
    def cpus(self) -> int:
        """Return the CPUs present at boot (``-smp cpus``)."""
        return self.smp.cpus

    @property
    def max_cpus(self) -> int:
        """Return the CPUs possible, hot-pluggable included (``-smp maxcpus``)."""
        return self.smp.max_cpus

    def field_values(self) -> dict[str, Any]:
        """Return every field by name, values as they are (not serialised)."""
        return {name: getattr(self, name) for name in type(self).model_fields}
