"""The KVM_DEV_TYPE_ARM_VGIC_ITS device in the three eras (kvm-vgic.md §2.9, §5).

* Era A (``v4.8-rc1``): CTRL_INIT needs the address first (ENXIO) and maps
  the 128 KiB frame at once; the address cannot change after init (EBUSY).
* Era B (``v4.8``): CTRL_INIT only marks the ITS initialized; the first vCPU
  run registers it, failing EBUSY without init and ENXIO without address.
* Era C (``mainline``): CTRL_INIT is a no-op; setting the address maps it.

ITS register values are not modelled: GRP_ITS_REGS calls run the kernel's
checks (alignment, ITS base set, known offset) and then answer ENXIO.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, final

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm.addresses import check_address
from virtmodel.machine.kvm.device import KvmDevice
from virtmodel.machine.kvm.errors import refuse

if TYPE_CHECKING:
    from virtmodel.machine.kvm.vm import Vm

#: GITS register offsets the kernel knows: CTLR, IIDR, TYPER, CBASER,
#: CWRITER, CREADR, BASER0..7.
_ITS_REGS = (0x0, 0x4, 0x8, 0x80, 0x88, 0x90, *range(0x100, 0x140, 8))
_GITS_TYPER = 0x8
_GITS_PIDR4 = 0xFFD0
_CTRL_RESOURCES = {
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
        elif sem.its_save_restore and attr in (
            c.KVM_DEV_ARM_ITS_SAVE_TABLES,
            c.KVM_DEV_ARM_ITS_RESTORE_TABLES,
            c.KVM_DEV_ARM_ITS_CTRL_RESET,
        ):
            # No guest tables exist in the model (all BASERs invalid), so
            # save and restore have nothing to walk and succeed, as in the kernel.
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
        align = 4 if attr < _GITS_TYPER or attr >= _GITS_PIDR4 else 8
        if attr % align:
            where = f"ITS register offset 0x{attr:x} is not {align}-byte aligned"
            refuse(errno.EINVAL, where)
        if self.base == c.VGIC_ADDR_UNDEF:
            refuse(errno.ENXIO, "the ITS address is not set")
        if attr not in _ITS_REGS:
            refuse(errno.ENXIO, f"no ITS register at offset 0x{attr:x}")
        refuse(errno.ENXIO, f"ITS register 0x{attr:x} values are not modelled")

    def _unknown(self, group: int) -> None:
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
        raise AssertionError  # unreachable: _unknown always refuses

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
            if attr % 4:
                refuse(
                    errno.EINVAL,
                    f"ITS register offset 0x{attr:x} is not 4-byte aligned",
                )
            if attr not in _ITS_REGS:
                refuse(errno.ENXIO, f"no ITS register at offset 0x{attr:x}")
        else:
            self._unknown(group)
