"""ARM GICv2 interrupt controller: userspace model or in-kernel vGIC.

Under KVM, realize follows QEMU's ``kvm_arm_gic_realize``: create the vGIC,
set NR_IRQS and CTRL_INIT where the kernel has them, then queue the
distributor and CPU-interface addresses (written CPU interface first by
QEMU's newest-first queue).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from virtmodel.devices.base import Device, DeviceProps, FdtContext
from virtmodel.devices.gic_fdt import intc_node

if TYPE_CHECKING:
    from virtmodel.machine.accel import KvmDeviceHandle, KvmVm
    from virtmodel.machine.device_context import DeviceContext
    from virtmodel.machine.fdt import Fdt

#: What each block decodes, as QEMU's arm_gic and KVM's vGICv2 map it: a
#: 4 KiB distributor and virtual interface control, an 8 KiB CPU interface
#: and virtual CPU interface.
DIST_SIZE = 0x1000
CPU_SIZE = 0x2000
HYP_SIZE = 0x1000
VCPU_SIZE = 0x2000
#: What the board reserves for each block and the device tree's ``reg`` says.
FRAME_SIZE = 0x10000
#: The GICv2 architecture limit on CPU interfaces.
MAX_CPUS = 8


class GicV2Props(DeviceProps):
    """Properties of a :class:`GicV2`."""

    num_cpu: int = Field(default=1, ge=1, le=MAX_CPUS, description="CPU interfaces")
    num_irq: int = Field(
        default=288, ge=64, le=1020, description="interrupts incl. private"
    )
    has_security_extensions: bool = Field(default=False, description="TrustZone")
    has_virtualization_extensions: bool = Field(default=False, description="GICH/GICV")
    dist_base: int = Field(default=0x0800_0000, ge=0, description="distributor base")
    cpu_base: int = Field(default=0x0801_0000, ge=0, description="CPU interface base")
    hyp_base: int = Field(default=0x0803_0000, ge=0, description="GICH base (virt ext)")
    vcpu_base: int = Field(
        default=0x0804_0000, ge=0, description="GICV base (virt ext)"
    )


class GicV2(Device[GicV2Props]):
    """A GICv2; the board maps ``<name>.dist`` and ``<name>.cpu`` after realize."""

    props_model = GicV2Props
    type_name = "arm_gic"

    def __init__(self, name: str = "gic", **props: Any) -> None:
        super().__init__(name, **props)
        #: The in-kernel device, once realize set it up completely.
        self.kvm_device: KvmDeviceHandle | None = None

    def regions(self) -> dict[str, tuple[int, int]]:
        """Return the MMIO regions to map, by name: ``(base, size)``."""
        p = self.props
        out = {
            f"{self.name}.dist": (p.dist_base, DIST_SIZE),
            f"{self.name}.cpu": (p.cpu_base, CPU_SIZE),
        }
        if p.has_virtualization_extensions:
            out[f"{self.name}.hyp"] = (p.hyp_base, HYP_SIZE)
            out[f"{self.name}.vcpu"] = (p.vcpu_base, VCPU_SIZE)
        return out

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/intc@<dist>`` for a Cortex-A15-style GICv2."""
        intc_node(
            fdt,
            ctx,
            compatible="arm,cortex-a15-gic",
            frames=[(base, FRAME_SIZE) for base, _ in self.regions().values()],
            redist_regions=None,
            maintenance_irq=self.props.has_virtualization_extensions,
        )

    def on_realize(self) -> None:
        """Create the userspace model or the in-kernel vGIC (QEMU's order)."""
        p = self.props
        ctx = self.context
        if ctx is None:
            return
        vm = ctx.kvm_vm
        if vm is not None:
            self._create_in_kernel(ctx, vm)
        # Last, once nothing can fail: wires made before the GIC stay.
        ctx.register_irq_sink(num_spis=p.num_irq - 32, num_cpus=p.num_cpu)

    def _create_in_kernel(self, ctx: DeviceContext, vm: KvmVm) -> None:
        from virtmodel.machine import kvm  # only a KVM realize needs it

        p = self.props
        dev = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V2)
        dev.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, p.num_irq)
        dev.set_attr(
            kvm.KVM_DEV_ARM_VGIC_GRP_CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT, None
        )
        addr = kvm.KVM_DEV_ARM_VGIC_GRP_ADDR
        ctx.queue_kvm_address(
            f"{self.name}-dist",
            f"{self.name}.dist",
            dev,
            addr,
            kvm.KVM_VGIC_V2_ADDR_TYPE_DIST,
            resource="kvm.vgic.addr.dist",
        )
        ctx.queue_kvm_address(
            f"{self.name}-cpu",
            f"{self.name}.cpu",
            dev,
            addr,
            kvm.KVM_VGIC_V2_ADDR_TYPE_CPU,
            resource="kvm.vgic.addr.cpu",
        )
        self.kvm_device = dev  # only a fully set-up device is kept
