"""The KVM_DEV_TYPE_ARM_VGIC_ITS device in the three eras (kvm-vgic.md §2.9, §5).

* Era A (``v4.8-rc1``): CTRL_INIT needs the address first (ENXIO) and maps
  the 128 KiB frame at once; the address cannot change after init (EBUSY).
* Era B (``v4.8``): CTRL_INIT only marks the ITS initialized; the first vCPU
  run registers it, failing EBUSY without init and ENXIO without address.
* Era C (``v6.1``): CTRL_INIT is a no-op; setting the address maps it; an
  unknown control attribute is accepted (6.1's switch falls through).

GRP_ITS_REGS reaches the register file of :mod:`its_regs` (Linux 6.1).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Final, NoReturn, final

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm.addresses import check_address
from virtmodel.machine.kvm.device import KvmDevice
from virtmodel.machine.kvm.errors import refuse
from virtmodel.machine.kvm.its_regs import ItsRegisters, alignment, find
from virtmodel.machine.kvm.resource_names import Resource

if TYPE_CHECKING:
    from virtmodel.machine.kvm.vm import Vm

_CTRL_RESOURCES: Final[dict[int, Resource]] = {
    c.KVM_DEV_ARM_VGIC_CTRL_INIT: "kvm.its.ctrl.init",
    c.KVM_DEV_ARM_ITS_SAVE_TABLES: "kvm.its.ctrl.save_tables",
    c.KVM_DEV_ARM_ITS_RESTORE_TABLES: "kvm.its.ctrl.restore_tables",
    c.KVM_DEV_ARM_ITS_CTRL_RESET: "kvm.its.ctrl.reset",
}


@final
class ItsDevice(KvmDevice):
    """An in-kernel ITS (``vm.create_device(KVM_DEV_TYPE_ARM_VGIC_ITS)``).

    Raises:
        KvmError: From every attribute call the kernel refuses.
    """

    def __init__(self, vm: Vm, label: str) -> None:
        super().__init__(vm, c.KVM_DEV_TYPE_ARM_VGIC_ITS, label)
        #: Base of the 128 KiB ITS frame, VGIC_ADDR_UNDEF while unset.
        self.base = c.VGIC_ADDR_UNDEF
        #: Era A/B ``its->initialized`` (set by CTRL_INIT).
        self.initialized = False
        #: Whether the frame is registered on the KVM MMIO bus.
        self.mapped = False
        #: The registers userspace saves and restores.
        self.regs = ItsRegisters()

    def _attr_name(self, group: int, attr: int) -> str:
        if group == c.KVM_DEV_ARM_VGIC_GRP_ADDR:
            return c.ADDR_NAMES.get(attr, str(attr))
        if group == c.KVM_DEV_ARM_VGIC_GRP_CTRL:
            return c.CTRL_NAMES.get(attr, str(attr))
        if group == c.KVM_DEV_ARM_VGIC_GRP_ITS_REGS:
            return f"0x{attr:04x}"
        return str(attr)

    def _resource(self, group: int, attr: int) -> str:
        if group == c.KVM_DEV_ARM_VGIC_GRP_ADDR:
            return "kvm.its.addr"
        if group == c.KVM_DEV_ARM_VGIC_GRP_CTRL:
            return _CTRL_RESOURCES.get(attr, f"kvm.its.ctrl.{attr}")
        if group == c.KVM_DEV_ARM_VGIC_GRP_ITS_REGS:
            return "kvm.its.regs"
        return f"kvm.its.group{group}"

    def _set(self, group: int, attr: int, value: int | None) -> None:
        era = self.vm.semantics.its_era
        if group == c.KVM_DEV_ARM_VGIC_GRP_ADDR:
            if attr != c.KVM_VGIC_ITS_ADDR_TYPE:
                refuse(errno.ENODEV, f"no address attribute {attr} on an ITS")
            if era == "A" and self.initialized:
                refuse(errno.EBUSY, "the ITS is already initialized by CTRL_INIT")
            if value is None:
                refuse(errno.EFAULT, "NULL value pointer")
            check_address(self.vm, self.base, value, c.SZ_64K, c.KVM_VGIC_V3_ITS_SIZE)
            self.base = value
            self.mapped = era == "C"
        elif group == c.KVM_DEV_ARM_VGIC_GRP_CTRL:
            self._ctrl(attr)
        elif (
            group == c.KVM_DEV_ARM_VGIC_GRP_ITS_REGS
            and self.vm.semantics.its_save_restore
        ):
            self._regs(attr, value, write=True)
        else:
            self._unknown(group)

    def _ctrl(self, attr: int) -> None:
        sem = self.vm.semantics
        if attr == c.KVM_DEV_ARM_VGIC_CTRL_INIT:
            if sem.its_era == "A" and not self.initialized:
                if self.base == c.VGIC_ADDR_UNDEF:
                    refuse(errno.ENXIO, "the ITS address is not set")
                self.mapped = True
            self.initialized = sem.its_era != "C"
        elif attr == c.KVM_DEV_ARM_ITS_CTRL_RESET and sem.its_save_restore:
            self.regs.reset()
        elif sem.its_save_restore and attr in (
            c.KVM_DEV_ARM_ITS_SAVE_TABLES,
            c.KVM_DEV_ARM_ITS_RESTORE_TABLES,
        ):
            # The model keeps no guest tables (no valid BASER points at
            # guest memory), so save and restore have nothing to walk.
            return
        elif sem.its_unknown_ctrl_ok:
            return
        else:
            refuse(
                errno.ENXIO,
                f"no control attribute {attr} on an ITS in kernel {sem.name}",
            )

    def _regs(self, attr: int, value: int | None, write: bool) -> int:
        # A set reads the user value first; a get writes it back last (§2.9).
        if write and value is None:
            refuse(errno.EFAULT, "NULL value pointer")
        align = alignment(attr)
        if attr % align:
            where = f"ITS register offset 0x{attr:x} is not {align}-byte aligned"
            refuse(errno.EINVAL, where)
        if self.base == c.VGIC_ADDR_UNDEF:
            refuse(errno.ENXIO, "the ITS address is not set")
        if not find(attr):
            refuse(errno.ENXIO, f"no ITS register at offset 0x{attr:x}")
        if write:
            assert value is not None
            self.regs.write(attr, value)
            return 0
        result = self.regs.read(attr)
        if value is None:
            refuse(errno.EFAULT, "NULL value pointer")
        return result

    def _unknown(self, group: int) -> NoReturn:
        sem = self.vm.semantics
        refuse(
            errno.ENXIO,
            f"{c.group_name(group)} is not an ITS group in kernel {sem.name}",
        )

    def _get(self, group: int, attr: int, value: int | None) -> int:
        if group == c.KVM_DEV_ARM_VGIC_GRP_ADDR:
            if attr != c.KVM_VGIC_ITS_ADDR_TYPE:
                refuse(errno.ENODEV, f"no address attribute {attr} on an ITS")
            if value is None:
                refuse(errno.EFAULT, "NULL value pointer")
            return self.base
        if (
            group == c.KVM_DEV_ARM_VGIC_GRP_ITS_REGS
            and self.vm.semantics.its_save_restore
        ):
            return self._regs(attr, value, write=False)
        self._unknown(group)

    def _has(self, group: int, attr: int, value: int | None = None) -> None:
        sem = self.vm.semantics
        if group == c.KVM_DEV_ARM_VGIC_GRP_ADDR:
            if attr != c.KVM_VGIC_ITS_ADDR_TYPE:
                refuse(errno.ENXIO, f"no address attribute {attr} on an ITS")
        elif group == c.KVM_DEV_ARM_VGIC_GRP_CTRL:
            known = [c.KVM_DEV_ARM_VGIC_CTRL_INIT]
            if sem.its_save_restore:
                known += [
                    c.KVM_DEV_ARM_ITS_SAVE_TABLES,
                    c.KVM_DEV_ARM_ITS_RESTORE_TABLES,
                    c.KVM_DEV_ARM_ITS_CTRL_RESET,
                ]
            if attr not in known:
                refuse(errno.ENXIO, f"no control attribute {attr} on an ITS")
        elif group == c.KVM_DEV_ARM_VGIC_GRP_ITS_REGS and sem.its_save_restore:
            if attr % alignment(attr):
                refuse(
                    errno.EINVAL,
                    f"ITS register offset 0x{attr:x} is misaligned",
                )
            if not find(attr):
                refuse(errno.ENXIO, f"no ITS register at offset 0x{attr:x}")
        else:
            self._unknown(group)
