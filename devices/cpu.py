"""Arm CPU models the ``virt`` board accepts, and the CPU device.

:data:`CPU_MODELS` is the table of QEMU 7.2's ``-cpu`` names valid for
``-M virt`` with the facts the board and the device tree need (physical
address bits from ``ID_AA64MMFR0.PARange``, the DTB ``compatible``, timer and
PMU kind, EL2/EL3/MTE support). Each row was checked against the installed
``qemu-system-aarch64`` (address-limit errors and dumped DTBs).

:class:`ArmCpu` is the CPU device: its properties are what the board sets
before realize (``mp-affinity``, ``has_el3``, ``psci-conduit``, ...). Its
``on_realize`` hook is where an accelerator creates the vCPU (KVM); under TCG
nothing more is needed. Reset powers secondaries off when PSCI starts them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from pydantic import Field, model_validator

from virtmodel.devices.base import Device, DeviceProps
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import suggest

PmuKind = Literal["none", "armv7", "armv8"]
PsciConduit = Literal["disabled", "hvc", "smc"]


@dataclass(frozen=True, slots=True)
class CpuModel:
    """One ``-cpu`` model: what the board and the device tree need to know."""

    #: The ``-cpu`` name (``cortex-a57``).
    name: str
    #: Whether the CPU implements AArch64 (ARMv8); else it is a 32-bit ARMv7 CPU.
    aarch64: bool
    #: Physical address bits the CPU can address (``arm_pamax``).
    pa_bits: int
    #: The ``compatible`` of its ``/cpus/cpu@N`` node.
    dtb_compatible: str
    #: The PMU the CPU has: "armv8" (full node), "armv7" (empty node) or "none".
    pmu: PmuKind
    #: Whether the CPU can run at EL2 (``virtualization=on``).
    has_el2: bool = True
    #: Whether the CPU can run at EL3 (``secure=on``).
    has_el3: bool = True
    #: Whether the CPU implements MTE (``mte=on``).
    has_mte: bool = False
    #: Only available under KVM (``host``).
    kvm_only: bool = False
    #: Whether KVM can run it: QEMU 7.2 gives only ``host``, ``max``,
    #: cortex-a53 and cortex-a57 a KVM target (``kvm_target``).
    kvm_ok: bool = False

    @property
    def qom_type(self) -> str:
        """Return QEMU's type name (``cortex-a57-arm-cpu``)."""
        return f"{self.name}-arm-cpu"

    @property
    def armv8_timer(self) -> bool:
        """Whether ``/timer`` lists ``arm,armv8-timer`` before ``arm,armv7-timer``."""
        return self.aarch64


def _model(
    name: str, pa_bits: int, compatible: str | None = None, **extra: bool
) -> CpuModel:
    aarch64 = name not in ("cortex-a7", "cortex-a15")
    return CpuModel(
        name=name,
        aarch64=aarch64,
        pa_bits=pa_bits,
        dtb_compatible=compatible or f"arm,{name}",
        pmu="armv8" if aarch64 else "armv7",
        **extra,
    )


#: The CPU models valid for ``-M virt`` in QEMU 7.2, in QEMU's list order.
CPU_MODELS: Final[Mapping[str, CpuModel]] = MappingProxyType(
    {
        m.name: m
        for m in (
            _model("cortex-a7", 40),
            _model("cortex-a15", 40),
            _model("cortex-a35", 40),
            _model("cortex-a53", 40, kvm_ok=True),
            _model("cortex-a57", 44, kvm_ok=True),
            _model("cortex-a72", 44),
            _model("cortex-a76", 40),
            _model("a64fx", 40, "arm,a64fx"),
            _model("neoverse-n1", 48),
            # `host` takes the host's IPA size; the board supplies it.
            _model("host", 40, "arm,armv8", kvm_only=True, kvm_ok=True),
            # `max` reports itself as a Cortex-A57 in the device tree.
            _model("max", 52, "arm,cortex-a57", has_mte=True, kvm_ok=True),
        )
    }
)

#: QEMU 7.2's default CPU for ``-M virt`` (a 32-bit CPU).
DEFAULT_CPU: Final = "cortex-a15"


def cpu_model(name: str) -> CpuModel:
    """Return the model called *name*.

    Raises:
        ConfigError: *name* is not a CPU model the virt board accepts.
    """
    try:
        return CPU_MODELS[name]
    except KeyError:
        valid = ", ".join(CPU_MODELS)
        hint = suggest(name, CPU_MODELS)
        msg = f"CPU model {name!r} is not supported by virt{hint} (valid: {valid})"
        raise ConfigError(option="cpu", value=name, problem=msg) from None


#: ``mp-affinity`` value meaning "not set by the board" (QEMU's ARM64_AFFINITY_INVALID).
AFFINITY_UNSET: Final = -1


class ArmCpuProps(DeviceProps):
    """Properties of an :class:`ArmCpu`, set by the board before realize."""

    cpu_type: str = Field(default=DEFAULT_CPU, description="-cpu model name")
    index: int = Field(default=0, ge=0, description="CPU index (cpu@N)")
    mp_affinity: int = Field(
        default=AFFINITY_UNSET,
        ge=AFFINITY_UNSET,
        lt=1 << 40,
        description="MPIDR affinity Aff3<<32|Aff2<<16|Aff1<<8|Aff0; -1 = from index",
    )
    has_el3: bool | None = Field(
        default=None, description="EL3; None = the model's default"
    )
    has_el2: bool | None = Field(
        default=None, description="EL2; None = the model's default"
    )
    psci_conduit: PsciConduit = Field(
        default="disabled", description="PSCI call instruction"
    )
    reset_cbar: int = Field(
        default=0, ge=0, lt=1 << 64, description="CPU peripheral base"
    )
    start_powered_off: bool = Field(
        default=False, description="held off until PSCI CPU_ON"
    )
    pmu: bool = Field(default=True, description="PMU present (if the model has one)")
    mte: bool = Field(default=False, description="memory tagging enabled")

    @model_validator(mode="after")
    def _check_model(self) -> ArmCpuProps:
        model = CPU_MODELS.get(self.cpu_type)
        if model is None:
            hint = suggest(self.cpu_type, CPU_MODELS)
            msg = f"unknown CPU model {self.cpu_type!r}{hint}"
            raise ValueError(msg)
        for feature, wanted, available in (
            ("has_el3", self.has_el3, model.has_el3),
            ("has_el2", self.has_el2, model.has_el2),
            ("mte", self.mte, model.has_mte),
        ):
            if wanted and not available:
                msg = f"{feature}=True but {self.cpu_type!r} does not implement it"
                raise ValueError(msg)
        return self


# The default cluster size QEMU uses when the board sets no mp-affinity.
_DEFAULT_CLUSTER: Final = 8


class ArmCpu(Device[ArmCpuProps]):
    """An Arm CPU core (``<model>-arm-cpu``).

    Example:
        >>> cpu = ArmCpu("cpu16", cpu_type="cortex-a57", index=16, mp_affinity=0x100)
        >>> cpu.realize()
        >>> hex(cpu.mpidr), cpu.model.dtb_compatible
        ('0x100', 'arm,cortex-a57')
    """

    props_model = ArmCpuProps
    type_name = "arm-cpu"
    reset_handler = True

    def __init__(self, name: str, **props: object) -> None:
        super().__init__(name, **props)
        #: Whether the core runs; ``reset`` holds it off if ``start_powered_off``.
        self.powered_on = False
        #: Run at every CPU reset before the vCPU's own: registers other
        #: devices hang on the CPU (the in-kernel GIC's CPU interface).
        self.reset_hooks: list[Callable[[ArmCpu], None]] = []

    @property
    def model(self) -> CpuModel:
        """Return the CPU model row for this core."""
        return CPU_MODELS[self.props.cpu_type]

    @property
    def mpidr(self) -> int:
        """Return the affinity value of ``MPIDR`` (and the DTB ``reg``)."""
        if self.props.mp_affinity != AFFINITY_UNSET:
            return self.props.mp_affinity
        index = self.props.index
        return (index // _DEFAULT_CLUSTER) << 8 | index % _DEFAULT_CLUSTER

    @property
    def has_el3(self) -> bool:
        """Whether EL3 is enabled on this core."""
        return self.model.has_el3 if self.props.has_el3 is None else self.props.has_el3

    @property
    def has_el2(self) -> bool:
        """Whether EL2 is enabled on this core."""
        return self.model.has_el2 if self.props.has_el2 is None else self.props.has_el2

    @property
    def has_pmu(self) -> bool:
        """Whether the core exposes a PMU."""
        return self.props.pmu and self.model.pmu != "none"

    @property
    def boot_el(self) -> int:
        """Return the exception level the core resets into (highest enabled)."""
        return 3 if self.has_el3 else 2 if self.has_el2 else 1

    def on_realize(self) -> None:
        """Create the vCPU and reset the CPU once, as QEMU's CPU realize does.

        Under KVM that is KVM_CREATE_VCPU and KVM_ARM_VCPU_INIT, then the
        reset's second KVM_ARM_VCPU_INIT; under TCG nothing reaches a kernel.
        """
        if self.context is None:
            return
        self.context.create_vcpu(
            self.props.index,
            self.mpidr,
            pmu=self.has_pmu,
            host_cpu=self.props.cpu_type in ("host", "max"),
        )
        self._cpu_reset()

    def on_reset(self) -> None:
        """Power the core on, unless PSCI must start it (``start_powered_off``)."""
        self.powered_on = not self.props.start_powered_off
        self._cpu_reset()

    def _cpu_reset(self) -> None:
        # QEMU's CPU reset: the registers' reset functions (hooks), then the
        # vCPU's re-initialisation.
        for hook in self.reset_hooks:
            hook(self)
        if self.context is not None:
            self.context.reset_vcpu(self.props.index)
