"""ARM GICv3 Interrupt Translation Service: userspace model or in-kernel ITS.

Under KVM, realize follows QEMU's ``kvm_arm_its_realize``: create the ITS
device, then CTRL_INIT, then queue the base address for machine-init-done.
The ``its_init`` property moves CTRL_INIT out of realize into a notifier of
its own, ``its-ctrl-init``, declared ``after=`` the address write -- the
arrangement proposed in the July 2016 thread, which QEMU's newest-first list
could not honour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from virtmodel.devices.base import Device, DeviceProps, FdtContext
from virtmodel.devices.gic_fdt import msi_node
from virtmodel.devices.its_init import ItsInit

if TYPE_CHECKING:
    from virtmodel.machine.accel import KvmDeviceHandle
    from virtmodel.machine.fdt import Fdt

#: Size of the ITS control and translation frames.
ITS_SIZE = 0x20000
#: GITS_CTLR's offset: QEMU's probe for ITS register access.
GITS_CTLR = 0x0000
#: Name of the notifier that initialises the ITS when ``its_init="init-done"``.
ITS_INIT_NOTIFIER = "its-ctrl-init"


class ItsProps(DeviceProps):
    """Properties of an :class:`Its`."""

    base: int = Field(default=0x0808_0000, ge=0, description="control frame base")
    its_init: ItsInit = Field(
        default="realize",
        description="where CTRL_INIT happens: in realize (QEMU >= 2.8) or a notifier",
    )


class Its(Device[ItsProps]):
    """An ITS attached to a GICv3; the board maps ``<name>.ctrl`` after realize."""

    props_model = ItsProps
    type_name = "arm-gicv3-its"

    def __init__(self, name: str = "its", **props: Any) -> None:
        super().__init__(name, **props)
        #: The in-kernel device, once realize set it up completely.
        self.kvm_device: KvmDeviceHandle | None = None
        #: The kernel can save and restore the ITS's registers.
        self.kvm_state = False

    def regions(self) -> dict[str, tuple[int, int]]:
        """Return the MMIO region to map: ``(base, size)`` by name."""
        return {f"{self.name}.ctrl": (self.props.base, ITS_SIZE)}

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write ``/intc/its@<base>`` and publish its phandle as "msi"."""
        frame = (self.props.base, ITS_SIZE)
        msi_node(fdt, ctx, "its", frame, "arm,gic-v3-its", msi_cells=True)

    def on_realize(self) -> None:
        """Create the in-kernel ITS and queue (or place) its initialisation."""
        from virtmodel.machine import kvm  # only a KVM realize needs it

        ctx = self.context
        vm = ctx.kvm_vm if ctx is not None else None
        if ctx is None or vm is None:
            return
        dev = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
        if self.props.its_init == "realize":
            self._ctrl_init(dev)  # may fail: then we keep no handle to dev
        ctx.queue_kvm_address(
            self.name,
            f"{self.name}.ctrl",
            dev,
            kvm.KVM_DEV_ARM_VGIC_GRP_ADDR,
            kvm.KVM_VGIC_ITS_ADDR_TYPE,
            resource="kvm.its.addr",
        )
        if self.props.its_init == "init-done":
            ctx.add_init_done(
                ITS_INIT_NOTIFIER,
                lambda: self._ctrl_init(dev),
                after=ctx.address_writer(self.name),
                reads=("kvm.its.addr",),
                writes=("kvm.its.ctrl.init",),
            )
        self.kvm_device = dev

        # Can the ITS's state be saved? (QEMU blocks migration if not.)
        self.kvm_state = dev.check_attr(kvm.KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_CTLR)

    def on_reset(self) -> None:
        """Reset the in-kernel ITS as QEMU 7.2 does: ITS_CTRL_RESET if available.

        Without it QEMU warns that a full reset is impossible and, if the
        kernel can restore ITS registers, writes its own ITS state back. No
        kernel modelled here has ITS registers without ITS_CTRL_RESET (both
        came with ITS save/restore), so that path ends at the probe.
        """
        dev = self.kvm_device
        if dev is None:
            return
        from virtmodel.machine import kvm  # only an in-kernel ITS resets here

        ctrl = kvm.KVM_DEV_ARM_VGIC_GRP_CTRL
        if dev.check_attr(ctrl, kvm.KVM_DEV_ARM_ITS_CTRL_RESET):
            dev.set_attr(ctrl, kvm.KVM_DEV_ARM_ITS_CTRL_RESET, None)
            return
        dev.check_attr(kvm.KVM_DEV_ARM_VGIC_GRP_ITS_REGS, GITS_CTLR)

    @staticmethod
    def _ctrl_init(dev: KvmDeviceHandle) -> None:
        from virtmodel.machine import kvm  # only a KVM realize needs it

        dev.set_attr(
            kvm.KVM_DEV_ARM_VGIC_GRP_CTRL, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT, None
        )
