"""The arm64 KVM ABI the host backend packs by hand: structures, register ids.

The request numbers come from :mod:`virtmodel.machine.kvm.uapi`; this module
adds what only a real caller needs: the byte layout of the ioctl argument
structures (little-endian LP64, as on every arm64 Linux), the ``KVM_*_ONE_REG``
ids of the registers the tiny guest uses, the offsets of ``struct kvm_run``
that say why KVM_RUN returned, and the guest's three instructions.
tests/machine/kvm/host/test_abi.py checks the numbers against Debian's 6.1
headers when they are installed.
"""

from __future__ import annotations

import struct
from typing import Final

# struct kvm_userspace_memory_region: slot, flags, guest_phys_addr,
# memory_size, userspace_addr.
MEMORY_REGION: Final = struct.Struct("<IIQQQ")
# struct kvm_vcpu_init: target, features[7].
VCPU_INIT: Final = struct.Struct("<I7I")
# struct kvm_create_device: type, fd (out), flags.
CREATE_DEVICE: Final = struct.Struct("<III")
# struct kvm_device_attr: flags, group, attr, addr (a user pointer).
DEVICE_ATTR: Final = struct.Struct("<IIQQ")
# struct kvm_enable_cap: cap, flags, args[4], padding.
ENABLE_CAP: Final = struct.Struct("<II4Q64x")
# struct kvm_ioeventfd: datamatch, addr, len, fd, flags, padding.
IOEVENTFD: Final = struct.Struct("<QQIiI36x")
# struct kvm_one_reg: id, addr (a user pointer).
ONE_REG: Final = struct.Struct("<QQ")
#: struct kvm_irq_routing's header: nr, flags.
ROUTING: Final = struct.Struct("<II")
#: One struct kvm_irq_routing_entry of type IRQCHIP: gsi, type, flags, pad,
#: then the union (irqchip, pin, and padding to its 32 bytes).
ROUTING_IRQCHIP: Final = struct.Struct("<IIII II24x")

# KVM_*_ONE_REG ids: architecture, size and coprocessor fields.
KVM_REG_ARM64: Final = 0x6000000000000000
KVM_REG_SIZE_U64: Final = 0x0030000000000000
KVM_REG_ARM_CORE: Final = 0x0010 << 16
KVM_REG_ARM64_SYSREG: Final = 0x0013 << 16

#: Offset of ``pc`` in struct kvm_regs (regs[31], sp, then pc).
_PC_OFFSET: Final = 32 * 8


def core_reg(offset: int) -> int:
    """Return the ONE_REG id of the 64-bit core register at *offset* in kvm_regs."""
    return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | offset // 4


def x_reg(number: int) -> int:
    """Return the ONE_REG id of general-purpose register X<number>."""
    if not 0 <= number <= 30:
        msg = f"X{number} is not a general-purpose register (X0..X30)"
        raise ValueError(msg)
    return core_reg(number * 8)


def sys_reg(op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
    """Return the ONE_REG id of the system register with this encoding."""
    fields = op0 << 14 | op1 << 11 | crn << 7 | crm << 3 | op2
    return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM64_SYSREG | fields


REG_PC: Final = core_reg(_PC_OFFSET)
REG_X1: Final = x_reg(1)
REG_X2: Final = x_reg(2)
REG_MPIDR_EL1: Final = sys_reg(3, 0, 0, 0, 5)

# struct kvm_run: where the exit reason and the MMIO exit's fields are.
RUN_EXIT_REASON: Final = 8
RUN_MMIO_PHYS_ADDR: Final = 32
RUN_MMIO_DATA: Final = 40
RUN_MMIO_LEN: Final = 48
RUN_MMIO_IS_WRITE: Final = 52

#: ``str x2, [x1]`` then ``b .``: one MMIO write, then spin (A64 encodings).
GUEST_CODE: Final = struct.pack("<II", 0xF9000022, 0x14000000)
#: What the guest writes, so an MMIO exit can be told from chance.
GUEST_MARK: Final = 0x6B766D2D686F7374  # "kvm-host" in ASCII, big end first


def vcpu_init(target: int, features: int) -> bytearray:
    """Return a struct kvm_vcpu_init with *features* as its first word."""
    return bytearray(VCPU_INIT.pack(target, features, 0, 0, 0, 0, 0, 0))
