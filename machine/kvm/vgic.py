"""The VGIC_V2 / VGIC_V3 device: which group does what, per kernel era.

Groups and their rules are kvm-vgic.md §2.4-§2.7, as Linux 6.1 has them.
Groups a kernel did not have yet answer ENXIO, as that kernel's dispatcher
would: REDIST_REGION (v4.18), the v3 register groups (v4.11) and
SAVE_PENDING_TABLES (v4.12) are unknown to the 2016 eras; GRP_MAINT_IRQ
(after 6.1) is unknown to all of them.
"""

from __future__ import annotations

import errno
from typing import Final, NoReturn, final

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm.addresses import (
    get_vgic_address,
    has_vgic_address,
    set_vgic_address,
)
from virtmodel.machine.kvm.device import KvmDevice
from virtmodel.machine.kvm.errors import refuse
from virtmodel.machine.kvm.registers import (
    access_register,
    has_register,
    register_attr_name,
)
from virtmodel.machine.kvm.resource_names import Resource

_REG_GROUPS_V2 = (c.KVM_DEV_ARM_VGIC_GRP_DIST_REGS, c.KVM_DEV_ARM_VGIC_GRP_CPU_REGS)
_REG_GROUPS_V3 = (
    c.KVM_DEV_ARM_VGIC_GRP_DIST_REGS,
    c.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
    c.KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO,
    c.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
)
#: Groups whose user value is a u32 (CPU_SYSREGS and addresses are u64).
_U32_GROUPS = (
    c.KVM_DEV_ARM_VGIC_GRP_NR_IRQS,
    c.KVM_DEV_ARM_VGIC_GRP_DIST_REGS,
    c.KVM_DEV_ARM_VGIC_GRP_CPU_REGS,
    c.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
    c.KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO,
)
_ADDR_RESOURCES: Final[dict[int, Resource]] = {
    c.KVM_VGIC_V2_ADDR_TYPE_DIST: "kvm.vgic.addr.dist",
    c.KVM_VGIC_V2_ADDR_TYPE_CPU: "kvm.vgic.addr.cpu",
    c.KVM_VGIC_V3_ADDR_TYPE_DIST: "kvm.vgic.addr.dist",
    c.KVM_VGIC_V3_ADDR_TYPE_REDIST: "kvm.vgic.addr.redist",
    c.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION: "kvm.vgic.addr.redist",
}
_GROUP_RESOURCES: Final[dict[int, Resource]] = {
    c.KVM_DEV_ARM_VGIC_GRP_DIST_REGS: "kvm.vgic.dist_regs",
    c.KVM_DEV_ARM_VGIC_GRP_CPU_REGS: "kvm.vgic.cpu_regs",
    c.KVM_DEV_ARM_VGIC_GRP_NR_IRQS: "kvm.vgic.nr_irqs",
    c.KVM_DEV_ARM_VGIC_GRP_REDIST_REGS: "kvm.vgic.redist_regs",
    c.KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS: "kvm.vgic.cpu_sysregs",
    c.KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO: "kvm.vgic.level_info",
}


@final
class VgicDevice(KvmDevice):
    """An in-kernel GICv2 or GICv3 (``vm.create_device(KVM_DEV_TYPE_ARM_VGIC_V3)``).

    Raises:
        KvmError: From every attribute call the kernel refuses.
    """

    @property
    def v3(self) -> bool:
        """Whether this is a GICv3."""
        return self.type_id == c.KVM_DEV_TYPE_ARM_VGIC_V3

    def _reg_groups(self) -> tuple[int, ...]:
        if not self.v3:
            return _REG_GROUPS_V2
        return _REG_GROUPS_V3 if self.vm.semantics.v3_register_groups else ()

    def _value_bits(self, group: int) -> int:
        # The kernel reads a u32 for these groups and a u64 for the others.
        return 32 if group in _U32_GROUPS else 64

    def _attr_name(self, group: int, attr: int) -> str:
        if group == c.KVM_DEV_ARM_VGIC_GRP_ADDR:
            return c.ADDR_NAMES.get(attr, str(attr))
        if group == c.KVM_DEV_ARM_VGIC_GRP_CTRL:
            return c.CTRL_NAMES.get(attr, str(attr))
        if group in _REG_GROUPS_V2 + _REG_GROUPS_V3:
            return register_attr_name(self.v3, group, attr)
        return str(attr)

    def _resource(self, group: int, attr: int) -> str:
        if group == c.KVM_DEV_ARM_VGIC_GRP_ADDR:
            return _ADDR_RESOURCES.get(attr, f"kvm.vgic.addr.{attr}")
        if group == c.KVM_DEV_ARM_VGIC_GRP_CTRL:
            if attr == c.KVM_DEV_ARM_VGIC_CTRL_INIT:
                return "kvm.vgic.ctrl.init"
            if attr == c.KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES:
                return "kvm.vgic.ctrl.save_pending_tables"
            return f"kvm.vgic.ctrl.{attr}"
        return _GROUP_RESOURCES.get(group, f"kvm.vgic.group{group}")

    def _unknown_group(self, group: int) -> NoReturn:
        name = c.group_name(group)
        refuse(
            errno.ENXIO,
            f"{name} is not a group of {self.label} in kernel {self.vm.semantics.name}",
        )

    def _set(self, group: int, attr: int, value: int | None) -> None:
        vm, gic = self.vm, self.vm.vgic
        if group == c.KVM_DEV_ARM_VGIC_GRP_ADDR:
            if value is None:
                refuse(errno.EFAULT, "NULL value pointer")
            set_vgic_address(vm, attr, value)
        elif group == c.KVM_DEV_ARM_VGIC_GRP_NR_IRQS:
            if value is None:
                refuse(errno.EFAULT, "NULL value pointer")
            if value < 64 or value > c.VGIC_MAX_RESERVED or value % 32:
                refuse(errno.EINVAL, f"{value} interrupts: need 64..992 in steps of 32")
            if gic.ready or gic.nr_spis:
                refuse(errno.EBUSY, "the number of interrupts is already fixed")
            gic.nr_spis = value - c.VGIC_NR_PRIVATE_IRQS
        elif group == c.KVM_DEV_ARM_VGIC_GRP_CTRL:
            self._ctrl(attr)
        elif group in self._reg_groups():
            access_register(vm, group, attr, value, write=True)
        else:
            self._unknown_group(group)

    def _ctrl(self, attr: int) -> None:
        vm = self.vm
        if attr == c.KVM_DEV_ARM_VGIC_CTRL_INIT:
            vm.vgic_init()
        elif (
            attr == c.KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES
            and vm.semantics.its_save_restore
        ):
            if not self.v3:
                refuse(errno.ENXIO, "SAVE_PENDING_TABLES needs a GICv3")
            if not vm.vgic.initialized:
                refuse(errno.ENXIO, "the vGIC is not initialized: no CTRL_INIT")
            # No LPI is pending in the model, so there is nothing to write out.
        else:
            refuse(
                errno.ENXIO,
                f"no control attribute {attr} on {self.label}"
                f" in kernel {vm.semantics.name}",
            )

    def _get(self, group: int, attr: int, value: int | None) -> int:
        vm, gic = self.vm, self.vm.vgic
        if group == c.KVM_DEV_ARM_VGIC_GRP_ADDR:
            # Only REDIST_REGION reads its input (the index) first; the
            # others find the address, then write it back (EFAULT last).
            region_attr = c.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION
            if value is None and attr == region_attr and vm.semantics.redist_regions:
                refuse(errno.EFAULT, "NULL value pointer")
            result = get_vgic_address(vm, attr, value or 0)
            if value is None:
                refuse(errno.EFAULT, "NULL value pointer")
            return result
        if group == c.KVM_DEV_ARM_VGIC_GRP_NR_IRQS:
            if value is None:
                refuse(errno.EFAULT, "NULL value pointer")
            return gic.nr_spis + c.VGIC_NR_PRIVATE_IRQS
        if group in self._reg_groups():
            return access_register(vm, group, attr, value, write=False)
        if group == c.KVM_DEV_ARM_VGIC_GRP_CTRL:
            refuse(errno.ENXIO, "control attributes cannot be read")
        self._unknown_group(group)

    def _has(self, group: int, attr: int, value: int | None = None) -> None:
        vm = self.vm
        if group == c.KVM_DEV_ARM_VGIC_GRP_ADDR:
            if not has_vgic_address(vm, attr):
                refuse(errno.ENXIO, f"no address attribute {attr} on {self.label}")
        elif group == c.KVM_DEV_ARM_VGIC_GRP_NR_IRQS:
            return
        elif group == c.KVM_DEV_ARM_VGIC_GRP_CTRL:
            known = [c.KVM_DEV_ARM_VGIC_CTRL_INIT]
            if self.v3 and vm.semantics.its_save_restore:
                known.append(c.KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES)
            if attr not in known:
                refuse(errno.ENXIO, f"no control attribute {attr} on {self.label}")
        elif group in self._reg_groups():
            has_register(vm, group, attr)
        else:
            self._unknown_group(group)
