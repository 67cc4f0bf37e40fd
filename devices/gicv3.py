"""ARM GICv3 (and GICv4) interrupt controller: userspace model or in-kernel vGIC.

Under KVM, realize follows QEMU 7.2's ``kvm_arm_gicv3_realize``: create the
vGIC, probe for multiple redistributor regions, set NR_IRQS, CTRL_INIT, and
then only *queue* the distributor and redistributor base addresses; the
machine's address queue writes them at machine-init-done. Under TCG the GIC
is a userspace model and nothing reaches the kernel.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from devices.base import Device, DeviceProps
from devices.errors import DeviceError
from machine import kvm
from machine.irq import IrqMap

#: Bytes per redistributor: RD_base + SGI_base frames (GICv4 adds two more).
REDIST_STRIDE = {3: 0x20000, 4: 0x40000}
#: Size of the distributor frame.
DIST_SIZE = 0x10000


class GicV3Props(DeviceProps):
    """Properties of a :class:`GicV3`."""

    num_cpu: int = Field(default=1, ge=1, le=512, description="CPU interfaces")
    num_irq: int = Field(
        default=288, ge=64, le=1020, description="interrupts incl. the 32 private ones"
    )
    revision: Literal[3, 4] = Field(default=3, description="architecture revision")
    redist_region_count: tuple[int, ...] = Field(
        default=(1,), min_length=1, description="redistributors in each region"
    )
    has_security_extensions: bool = Field(default=False, description="TrustZone")
    has_lpi: bool = Field(default=False, description="LPIs (an ITS is attached)")

    @model_validator(mode="after")
    def _capacity_matches_cpus(self) -> GicV3Props:
        if self.num_irq % 32:
            msg = f"num_irq {self.num_irq} must be a multiple of 32"
            raise ValueError(msg)
        if sum(self.redist_region_count) != self.num_cpu:
            msg = (
                f"redistributor capacity {sum(self.redist_region_count)} "
                f"does not match num_cpu {self.num_cpu}"
            )
            raise ValueError(msg)
        return self


class GicV3(Device[GicV3Props]):
    """A GICv3/v4 distributor with its redistributor regions.

    The board maps ``<name>.dist`` and ``<name>.redist<i>`` after realize;
    :meth:`region_sizes` says how big each one is.
    """

    props_model = GicV3Props

    def __init__(self, name: str = "gic", **props: Any) -> None:
        super().__init__(name, **props)
        self.kvm_device: Any = None

    def region_sizes(self) -> dict[str, int]:
        """Return the MMIO regions this GIC needs, by region name."""
        stride = REDIST_STRIDE[self.props.revision]
        sizes = {f"{self.name}.dist": DIST_SIZE}
        for i, count in enumerate(self.props.redist_region_count):
            sizes[f"{self.name}.redist{i}"] = count * stride
        return sizes

    @property
    def in_kernel(self) -> bool:
        """Whether the machine's accelerator puts this GIC in the kernel."""
        return bool(self.machine is not None and self.machine.accel.in_kernel_irqchip)

    def on_realize(self) -> None:
        """Create the userspace model or the in-kernel vGIC (QEMU's order)."""
        p = self.props
        if self.machine is not None:
            self.machine.irqs = IrqMap(num_spis=p.num_irq - 32, num_cpus=p.num_cpu)
        if not self.in_kernel:
            return
        if p.revision != 3:
            raise DeviceError(
                self.name,
                f"device {self.name!r}: KVM has no GICv4 model (revision {p.revision})",
            )
        if p.has_security_extensions:
            raise DeviceError(
                self.name,
                f"device {self.name!r}: KVM cannot emulate the security extensions",
            )
        vm = self.machine.accel.vm
        dev = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
        self.kvm_device = dev
        multi = dev.check_attr(
            kvm.KVM_DEV_ARM_VGIC_GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION
        )
        regions = p.redist_region_count
        if len(regions) > 1 and not multi:
            msg = (
                f"device {self.name!r}: this kernel has no multiple redistributor "
                f"regions; at most {regions[0]} vCPUs fit in one"
            )
            raise DeviceError(self.name, msg)
        dev.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, p.num_irq)
        dev.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT, 0)
        self._queue_addresses(dev, multi)

    def _queue_addresses(self, dev: Any, multi: bool) -> None:
        queue = self.machine.kvm_addresses
        addr = kvm.KVM_DEV_ARM_VGIC_GRP_ADDR
        queue.register(
            f"{self.name}-dist",
            f"{self.name}.dist",
            dev,
            addr,
            kvm.KVM_VGIC_V3_ADDR_TYPE_DIST,
            resource="kvm.vgic.addr.dist",
        )
        counts = self.props.redist_region_count
        if not multi:
            queue.register(
                f"{self.name}-redist",
                f"{self.name}.redist0",
                dev,
                addr,
                kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST,
                resource="kvm.vgic.addr.redist",
            )
            return
        # QEMU registers the regions from the last index down so that its
        # newest-first list writes them 0, 1, ...; ordered mode says so instead.
        indices = range(len(counts))
        if queue.mode == "qemu-lifo":
            indices = reversed(indices)  # type: ignore[assignment]  # a reversed range iterates the same way
        for i in indices:
            queue.register(
                f"{self.name}-redist{i}",
                f"{self.name}.redist{i}",
                dev,
                addr,
                kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION,
                ormask=i | (counts[i] << 52),
                resource="kvm.vgic.addr.redist",
                after=(f"{self.name}-redist{i - 1}",) if i else (),
            )
