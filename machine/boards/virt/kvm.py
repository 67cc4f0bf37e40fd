"""The ``virt`` board's own KVM calls: the vGIC probe and the CPUs' post-init.

Facts of QEMU 7.2's ``hw/arm/virt.c`` under ``-accel kvm``:

- Before any CPU exists, ``finalize_gic_version`` asks the kernel which
  vGICs it can create: KVM_CREATE_DEVICE with the TEST flag, GICv3 then
  GICv2. A version the kernel cannot create ends QEMU with an error.
- Once the CPUs and the GIC (with its ITS) are realized,
  ``virt_cpu_post_init`` gives each vCPU, in CPU order, its PMU (overflow
  interrupt = the PMU PPI, then PMU INIT) when the CPU has one, and its
  stolen-time record (PVTIME_IPA, 64 bytes per CPU from the ``pvtime``
  region) when the host offers stolen time. Each attribute is probed with
  KVM_HAS_DEVICE_ATTR before it is set; a "no" ends QEMU. The ``pvtime``
  region is RAM mapped into the system address space first, so KVM's memory
  listener gives it a memory slot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from virtmodel.machine.accel import KvmAccel
from virtmodel.machine.boards.virt.memmap import (
    BASE_MEMMAP,
    PVTIME_SIZE_PER_CPU,
    pvtime_size,
    steals_time,
)
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.kvm import uapi

if TYPE_CHECKING:
    from virtmodel.devices.cpu import ArmCpu
    from virtmodel.machine.accel import KvmVcpu
    from virtmodel.machine.boards.virt.config import VirtConfig
    from virtmodel.machine.machine import Machine

#: First PPI interrupt ID: a PPI's number on the GIC is 16 + its index.
PPI_BASE: Final = 16


def probe_vgic(machine: Machine, config: VirtConfig) -> None:
    """Probe the kernel's vGICs and refuse a GIC version it cannot create.

    Raises:
        ConfigError: The configured ``gic-version`` is not among them.
    """
    accel = machine.accel
    if not isinstance(accel, KvmAccel):
        return
    versions = accel.probe_vgic()
    wanted = 3 if config.gic_version >= 3 else 2
    if wanted not in versions:
        problem = f"host does not support in-kernel GICv{wanted} emulation"
        raise ConfigError(
            option="gic-version", value=config.gic_version, problem=problem
        )


def cpu_post_init(
    machine: Machine, config: VirtConfig, cpus: list[ArmCpu], pmu_ppi: int
) -> None:
    """Give every vCPU its PMU and stolen-time attributes, in CPU order.

    Raises:
        KvmError: The kernel lacks or refuses an attribute (QEMU aborts).
    """
    accel = machine.accel
    if not isinstance(accel, KvmAccel):
        return
    steal_time = steals_time(config, accel.host.pvtime)
    base = BASE_MEMMAP["pvtime"].base
    if steal_time:
        pvtime = pvtime_size(config)
        # RAM in the system address space: KVM's memory listener gives it
        # the lowest free slot (3 after the flash banks and one RAM block).
        machine.memory.add("pvtime", base, pvtime, owner="/machine", kind="ram")
    for n, cpu in enumerate(cpus):
        vcpu = accel.vcpus[cpu.props.index]
        if accel.features[cpu.props.index] >> uapi.KVM_ARM_VCPU_PMU_V3 & 1:
            _set(vcpu, uapi.KVM_ARM_VCPU_PMU_V3_CTRL, uapi.KVM_ARM_VCPU_PMU_V3_IRQ,
                 PPI_BASE + pmu_ppi)  # fmt: skip
            _set(
                vcpu, uapi.KVM_ARM_VCPU_PMU_V3_CTRL, uapi.KVM_ARM_VCPU_PMU_V3_INIT, None
            )
        if steal_time:
            _set(vcpu, uapi.KVM_ARM_VCPU_PVTIME_CTRL, uapi.KVM_ARM_VCPU_PVTIME_IPA,
                 base + n * PVTIME_SIZE_PER_CPU)  # fmt: skip


def _set(vcpu: KvmVcpu, group: int, attr: int, value: int | None) -> None:
    # QEMU's kvm_arm_set_device_attr: probe, then set.
    vcpu.has_attr(group, attr)
    vcpu.set_attr(group, attr, value)
