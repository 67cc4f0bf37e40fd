"""ARM GICv3 (and GICv4) interrupt controller: userspace model or in-kernel vGIC.

Under KVM, realize follows QEMU 7.2's ``kvm_arm_gicv3_realize``: create the
vGIC, probe for multiple redistributor regions, set NR_IRQS, CTRL_INIT, and
then only *queue* the distributor and redistributor base addresses; the
machine's address queue writes them at machine-init-done. Under TCG the GIC
is a userspace model and nothing reaches the kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from virtmodel.devices.base import Device, DeviceProps, FdtContext
from virtmodel.devices.cpu import ArmCpu
from virtmodel.devices.errors import RealizeError
from virtmodel.devices.gic_fdt import intc_node

if TYPE_CHECKING:
    from collections.abc import Mapping

    from virtmodel.machine.accel import KvmDeviceHandle, KvmVcpu, KvmVm
    from virtmodel.machine.device_context import DeviceContext
    from virtmodel.machine.fdt import Fdt

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
    dist_base: int = Field(default=0x0800_0000, ge=0, description="distributor base")
    redist_windows: tuple[tuple[int, int], ...] = Field(
        default=((0x080A_0000, 0xF6_0000),),
        min_length=1,
        description="(base, size) of each redistributor window in the board's map",
    )
    maintenance_irq: bool = Field(
        default=False, description="describe the maintenance PPI (virtualization=on)"
    )

    @model_validator(mode="after")
    def _capacity_matches_cpus(self) -> GicV3Props:
        if self.num_irq % 32:
            msg = f"num_irq {self.num_irq} must be a multiple of 32"
            raise ValueError(msg)
        if len(self.redist_windows) != len(self.redist_region_count):
            msg = (
                f"{len(self.redist_windows)} redist_windows for "
                f"{len(self.redist_region_count)} redistributor regions"
            )
            raise ValueError(msg)
        stride = REDIST_STRIDE[self.revision]
        for (base, size), count in zip(
            self.redist_windows, self.redist_region_count, strict=True
        ):
            if count * stride > size:
                msg = (
                    f"{count} redistributors need 0x{count * stride:x} bytes, but the "
                    f"window at 0x{base:08x} has 0x{size:x}"
                )
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
    type_name = "arm-gicv3"

    def __init__(self, name: str = "gic", **props: Any) -> None:
        super().__init__(name, **props)
        #: The in-kernel device, once realize set it up completely.
        self.kvm_device: KvmDeviceHandle | None = None
        #: The kernel can save and restore the vGIC's registers (QEMU writes
        #: its reset state only then).
        self.kvm_state = False
        #: ICC_CTLR_EL1 each CPU read from the kernel at its last reset.
        self.icc_ctlr: dict[int, int] = {}

    def regions(self) -> dict[str, tuple[int, int]]:
        """Return the MMIO regions to map, by name: ``(base, size)``.

        A redistributor region covers only the frames of its CPUs; the rest of
        its window stays unmapped, as in QEMU.
        """
        p = self.props
        stride = REDIST_STRIDE[p.revision]
        out = {f"{self.name}.dist": (p.dist_base, DIST_SIZE)}
        for i, (count, (base, _)) in enumerate(
            zip(p.redist_region_count, p.redist_windows, strict=True)
        ):
            out[f"{self.name}.redist{i}"] = (base, count * stride)
        return out

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/intc@<dist>`` with every redistributor window (GICv4 too)."""
        p = self.props
        intc_node(
            fdt,
            ctx,
            compatible="arm,gic-v3",
            frames=[(p.dist_base, DIST_SIZE), *p.redist_windows],
            redist_regions=len(p.redist_windows),
            maintenance_irq=p.maintenance_irq,
        )

    @property
    def in_kernel(self) -> bool:
        """Whether the machine's accelerator puts this GIC in the kernel."""
        return self.context is not None and self.context.in_kernel_irqchip

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
        from virtmodel.devices import gicv3_kvm  # only a KVM realize needs it
        from virtmodel.machine import kvm

        p = self.props
        if p.revision != 3:
            raise RealizeError(
                self.name, f"KVM has no GICv4 model (revision {p.revision})"
            )
        if p.has_security_extensions:
            raise RealizeError(self.name, "KVM cannot emulate the security extensions")
        dev = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
        multi = dev.check_attr(
            kvm.KVM_DEV_ARM_VGIC_GRP_ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION
        )
        regions = p.redist_region_count
        if len(regions) > 1 and not multi:
            msg = (
                "this kernel has no multiple redistributor "
                f"regions; at most {regions[0]} vCPUs fit in one"
            )
            raise RealizeError(self.name, msg)
        dev.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, p.num_irq)
        dev.set_attr(
            kvm.KVM_DEV_ARM_VGIC_GRP_CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT, None
        )
        self._queue_addresses(ctx, dev, multi)
        self.kvm_state = gicv3_kvm.after_init(dev, vm, p.num_irq)
        self.kvm_device = dev  # only a fully set-up device is kept
        for cpu in self._cpus(ctx):
            cpu.reset_hooks.append(self._icc_reset)

    def _cpus(self, ctx: DeviceContext) -> list[ArmCpu]:
        cpus = [d for d in ctx.devices() if isinstance(d, ArmCpu)]
        return sorted(cpus, key=lambda cpu: cpu.props.index)[: self.props.num_cpu]

    def _vcpus(self) -> Mapping[int, KvmVcpu]:
        return self.ctx.vcpus

    def _mpidr(self, index: int) -> int:
        # Under KVM, QEMU takes each CPU's affinity from the kernel's MPIDR.
        return int(self._vcpus()[index].mpidr)

    def _icc_reset(self, cpu: ArmCpu) -> None:
        """A CPU reset: QEMU's CPU-interface reset reads ICC_CTLR_EL1 back."""
        if self.kvm_device is not None and self.kvm_state:
            from virtmodel.devices import gicv3_kvm  # set up by a KVM realize

            mpidr = self._mpidr(cpu.props.index)
            self.icc_ctlr[mpidr] = gicv3_kvm.icc_reset(self.kvm_device, mpidr)

    def on_reset(self) -> None:
        """Write QEMU's reset state into the in-kernel vGIC (nothing under TCG)."""
        if self.kvm_device is None or not self.kvm_state:
            return
        from virtmodel.devices import gicv3_kvm  # set up by a KVM realize

        vcpus = self._vcpus()
        mpidrs = [int(vcpus[i].mpidr) for i in sorted(vcpus)[: self.props.num_cpu]]
        for mpidr in mpidrs:
            if mpidr not in self.icc_ctlr:
                # A vCPU made without a CPU device had no CPU reset to read
                # its ICC_CTLR_EL1; the put needs it, so read it now.
                self.icc_ctlr[mpidr] = gicv3_kvm.icc_reset(self.kvm_device, mpidr)
        gicv3_kvm.put_state(self.kvm_device, mpidrs, self.props.num_irq, self.icc_ctlr)

    def _queue_addresses(
        self, ctx: DeviceContext, dev: KvmDeviceHandle, multi: bool
    ) -> None:
        from virtmodel.machine import kvm  # only a KVM realize needs it

        addr = kvm.KVM_DEV_ARM_VGIC_GRP_ADDR
        ctx.queue_kvm_address(
            f"{self.name}-dist",
            f"{self.name}.dist",
            dev,
            addr,
            kvm.KVM_VGIC_V3_ADDR_TYPE_DIST,
            resource="kvm.vgic.addr.dist",
        )
        counts = self.props.redist_region_count
        if not multi:
            ctx.queue_kvm_address(
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
        if ctx.notifier_mode == "qemu-lifo":
            indices = reversed(indices)  # type: ignore[assignment]  # a reversed range iterates the same way
        for i in indices:
            ctx.queue_kvm_address(
                f"{self.name}-redist{i}",
                f"{self.name}.redist{i}",
                dev,
                addr,
                kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION,
                ormask=i | (counts[i] << 52),
                resource="kvm.vgic.addr.redist",
                after=(f"{self.name}-redist{i - 1}",) if i else (),
            )
