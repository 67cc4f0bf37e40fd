"""The KVM ioctl ABI beyond the device attributes: request numbers, vCPU attrs.

A real backend (the lab's executor, a future ``ioctl`` driver) needs the
request numbers; the simulator needs the vCPU attribute groups and feature
bits QEMU uses. The request numbers are computed here with the generic
``_IOC`` layout (8-bit number, 8-bit type, 14-bit size, 2-bit direction,
lowest to highest) from the size of the argument structure on arm64 (LP64).
tests/machine/kvm/test_uapi_headers.py checks every number in this module
and in :mod:`constants` against Debian's 6.1 ``linux/kvm.h`` and
``asm/kvm.h``, parsed from the files.
"""

from __future__ import annotations

from typing import Final

_IOC_NRSHIFT: Final = 0
_IOC_TYPESHIFT: Final = 8
_IOC_SIZESHIFT: Final = 16
_IOC_DIRSHIFT: Final = 30
_IOC_NONE: Final = 0
_IOC_WRITE: Final = 1
_IOC_READ: Final = 2

#: The ioctl type byte of every KVM request.
KVMIO: Final = 0xAE


def ioc(direction: int, nr: int, size: int) -> int:
    """Encode a KVM ioctl request number (type :data:`KVMIO`)."""
    return (
        direction << _IOC_DIRSHIFT
        | KVMIO << _IOC_TYPESHIFT
        | nr << _IOC_NRSHIFT
        | size << _IOC_SIZESHIFT
    )


# Sizes in bytes of the ioctl argument structures on arm64.
#: struct kvm_userspace_memory_region: slot, flags, gpa, size, uaddr.
SIZEOF_KVM_USERSPACE_MEMORY_REGION: Final = 32
#: struct kvm_vcpu_init: target and seven feature words.
SIZEOF_KVM_VCPU_INIT: Final = 32
#: struct kvm_create_device: type, fd, flags.
SIZEOF_KVM_CREATE_DEVICE: Final = 12
#: struct kvm_device_attr: flags, group, attr, addr.
SIZEOF_KVM_DEVICE_ATTR: Final = 24
#: struct kvm_one_reg: id, addr.
SIZEOF_KVM_ONE_REG: Final = 16
#: struct kvm_irq_routing: nr, flags (the entries follow it).
SIZEOF_KVM_IRQ_ROUTING: Final = 8
#: struct kvm_irq_level: irq, level.
SIZEOF_KVM_IRQ_LEVEL: Final = 8
#: struct kvm_irqfd: fd, gsi, flags, resamplefd, 16 bytes of padding.
SIZEOF_KVM_IRQFD: Final = 32
#: struct kvm_msi: address_lo/hi, data, flags, devid, 12 bytes of padding.
SIZEOF_KVM_MSI: Final = 32
#: struct kvm_enable_cap: cap, flags, args[4], 64 bytes of padding.
SIZEOF_KVM_ENABLE_CAP: Final = 104
#: struct kvm_ioeventfd: datamatch, addr, len, fd, flags, 36 bytes of padding.
SIZEOF_KVM_IOEVENTFD: Final = 64

# /dev/kvm requests.
KVM_GET_API_VERSION: Final = ioc(_IOC_NONE, 0x00, 0)
KVM_CREATE_VM: Final = ioc(_IOC_NONE, 0x01, 0)
KVM_CHECK_EXTENSION: Final = ioc(_IOC_NONE, 0x03, 0)
KVM_GET_VCPU_MMAP_SIZE: Final = ioc(_IOC_NONE, 0x04, 0)
# VM requests.
KVM_CREATE_VCPU: Final = ioc(_IOC_NONE, 0x41, 0)
KVM_SET_USER_MEMORY_REGION: Final = ioc(
    _IOC_WRITE, 0x46, SIZEOF_KVM_USERSPACE_MEMORY_REGION
)
KVM_IRQ_LINE: Final = ioc(_IOC_WRITE, 0x61, SIZEOF_KVM_IRQ_LEVEL)
KVM_SET_GSI_ROUTING: Final = ioc(_IOC_WRITE, 0x6A, SIZEOF_KVM_IRQ_ROUTING)
KVM_IRQFD: Final = ioc(_IOC_WRITE, 0x76, SIZEOF_KVM_IRQFD)
KVM_IOEVENTFD: Final = ioc(_IOC_WRITE, 0x79, SIZEOF_KVM_IOEVENTFD)
KVM_ENABLE_CAP: Final = ioc(_IOC_WRITE, 0xA3, SIZEOF_KVM_ENABLE_CAP)
KVM_SIGNAL_MSI: Final = ioc(_IOC_WRITE, 0xA5, SIZEOF_KVM_MSI)
KVM_ARM_PREFERRED_TARGET: Final = ioc(_IOC_READ, 0xAF, SIZEOF_KVM_VCPU_INIT)
KVM_CREATE_DEVICE: Final = ioc(_IOC_READ | _IOC_WRITE, 0xE0, SIZEOF_KVM_CREATE_DEVICE)
# vCPU requests.
KVM_RUN: Final = ioc(_IOC_NONE, 0x80, 0)
KVM_GET_ONE_REG: Final = ioc(_IOC_WRITE, 0xAB, SIZEOF_KVM_ONE_REG)
KVM_SET_ONE_REG: Final = ioc(_IOC_WRITE, 0xAC, SIZEOF_KVM_ONE_REG)
KVM_ARM_VCPU_INIT: Final = ioc(_IOC_WRITE, 0xAE, SIZEOF_KVM_VCPU_INIT)
KVM_ARM_VCPU_FINALIZE: Final = ioc(_IOC_WRITE, 0xC2, 4)  # an int: the feature
# Device requests (also answered by a vCPU fd for the vCPU attributes).
KVM_SET_DEVICE_ATTR: Final = ioc(_IOC_WRITE, 0xE1, SIZEOF_KVM_DEVICE_ATTR)
KVM_GET_DEVICE_ATTR: Final = ioc(_IOC_WRITE, 0xE2, SIZEOF_KVM_DEVICE_ATTR)
KVM_HAS_DEVICE_ATTR: Final = ioc(_IOC_WRITE, 0xE3, SIZEOF_KVM_DEVICE_ATTR)

_REQUESTS: Final = (
    ("KVM_GET_API_VERSION", KVM_GET_API_VERSION),
    ("KVM_CREATE_VM", KVM_CREATE_VM),
    ("KVM_CHECK_EXTENSION", KVM_CHECK_EXTENSION),
    ("KVM_GET_VCPU_MMAP_SIZE", KVM_GET_VCPU_MMAP_SIZE),
    ("KVM_CREATE_VCPU", KVM_CREATE_VCPU),
    ("KVM_SET_USER_MEMORY_REGION", KVM_SET_USER_MEMORY_REGION),
    ("KVM_IRQ_LINE", KVM_IRQ_LINE),
    ("KVM_SET_GSI_ROUTING", KVM_SET_GSI_ROUTING),
    ("KVM_IRQFD", KVM_IRQFD),
    ("KVM_IOEVENTFD", KVM_IOEVENTFD),
    ("KVM_ENABLE_CAP", KVM_ENABLE_CAP),
    ("KVM_SIGNAL_MSI", KVM_SIGNAL_MSI),
    ("KVM_ARM_PREFERRED_TARGET", KVM_ARM_PREFERRED_TARGET),
    ("KVM_CREATE_DEVICE", KVM_CREATE_DEVICE),
    ("KVM_RUN", KVM_RUN),
    ("KVM_GET_ONE_REG", KVM_GET_ONE_REG),
    ("KVM_SET_ONE_REG", KVM_SET_ONE_REG),
    ("KVM_ARM_VCPU_INIT", KVM_ARM_VCPU_INIT),
    ("KVM_ARM_VCPU_FINALIZE", KVM_ARM_VCPU_FINALIZE),
    ("KVM_SET_DEVICE_ATTR", KVM_SET_DEVICE_ATTR),
    ("KVM_GET_DEVICE_ATTR", KVM_GET_DEVICE_ATTR),
    ("KVM_HAS_DEVICE_ATTR", KVM_HAS_DEVICE_ATTR),
)
#: The request names, by number (a trace prints names, not numbers).
IOCTL_NAMES: Final[dict[int, str]] = {number: name for name, number in _REQUESTS}

# kvm_irq_routing_entry types.
KVM_IRQ_ROUTING_IRQCHIP: Final = 1
KVM_IRQ_ROUTING_MSI: Final = 2

# KVM_CREATE_VM type: the IPA size in bits 7..0 (0 means the default 40).
KVM_VM_TYPE_ARM_IPA_SIZE_MASK: Final = 0xFF

# Capabilities asked with KVM_CHECK_EXTENSION: every one QEMU 7.2 asks an
# arm64 kernel about (the lab's traces), so traces can name them.
KVM_CAP_IRQCHIP: Final = 0
KVM_CAP_USER_MEMORY: Final = 3
KVM_CAP_NR_VCPUS: Final = 9
KVM_CAP_NR_MEMSLOTS: Final = 10
KVM_CAP_MP_STATE: Final = 14
KVM_CAP_COALESCED_MMIO: Final = 15
KVM_CAP_SYNC_MMU: Final = 16
KVM_CAP_DESTROY_MEMORY_REGION_WORKS: Final = 21
KVM_CAP_SET_GUEST_DEBUG: Final = 23
KVM_CAP_IRQ_ROUTING: Final = 25
KVM_CAP_IRQ_INJECT_STATUS: Final = 26
KVM_CAP_JOIN_MEMORY_REGIONS_WORKS: Final = 30
KVM_CAP_IRQFD: Final = 32
KVM_CAP_IOEVENTFD: Final = 36
KVM_CAP_VCPU_EVENTS: Final = 41
KVM_CAP_X86_ROBUST_SINGLESTEP: Final = 51
KVM_CAP_MAX_VCPUS: Final = 66
KVM_CAP_PCI_2_3: Final = 75
KVM_CAP_SIGNAL_MSI: Final = 77
KVM_CAP_READONLY_MEM: Final = 81
KVM_CAP_IRQFD_RESAMPLE: Final = 82
KVM_CAP_DEVICE_CTRL: Final = 89
KVM_CAP_VM_ATTRIBUTES: Final = 101
KVM_CAP_ARM_PSCI_0_2: Final = 102
KVM_CAP_MULTI_ADDRESS_SPACE: Final = 118
KVM_CAP_GUEST_DEBUG_HW_BPS: Final = 119
KVM_CAP_GUEST_DEBUG_HW_WPS: Final = 120
KVM_CAP_IOEVENTFD_ANY_LENGTH: Final = 122
KVM_CAP_ARM_PMU_V3: Final = 126
KVM_CAP_VCPU_ATTRIBUTES: Final = 127
KVM_CAP_MAX_VCPU_ID: Final = 128
KVM_CAP_IMMEDIATE_EXIT: Final = 136
KVM_CAP_NESTED_STATE: Final = 157
KVM_CAP_ARM_INJECT_SERROR_ESR: Final = 158
KVM_CAP_COALESCED_PIO: Final = 162
KVM_CAP_ARM_VM_IPA_SIZE: Final = 165
KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: Final = 168
KVM_CAP_ARM_SVE: Final = 170
KVM_CAP_ARM_PTRAUTH_ADDRESS: Final = 171
KVM_CAP_ARM_PTRAUTH_GENERIC: Final = 172
KVM_CAP_ARM_NISV_TO_USER: Final = 177
KVM_CAP_ARM_INJECT_EXT_DABT: Final = 178
KVM_CAP_STEAL_TIME: Final = 187
KVM_CAP_SET_GUEST_DEBUG2: Final = 195
KVM_CAP_BINARY_STATS_FD: Final = 203

# KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2's bits (its KVM_CHECK_EXTENSION answer
# and its KVM_ENABLE_CAP args[0]).
KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE: Final = 1 << 0
KVM_DIRTY_LOG_INITIALLY_SET: Final = 1 << 1

# struct kvm_ioeventfd flags.
KVM_IOEVENTFD_FLAG_DATAMATCH: Final = 1 << 0
KVM_IOEVENTFD_FLAG_PIO: Final = 1 << 1
KVM_IOEVENTFD_FLAG_DEASSIGN: Final = 1 << 2
KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY: Final = 1 << 3

# kvm_run exit reasons a first run ends with.
KVM_EXIT_MMIO: Final = 6
KVM_EXIT_INTR: Final = 10

#: The only vCPU target a 6.1 kernel offers through KVM_ARM_PREFERRED_TARGET.
KVM_ARM_TARGET_GENERIC_V8: Final = 5

# KVM_ARM_VCPU_INIT feature bits (word 0).
KVM_ARM_VCPU_POWER_OFF: Final = 0
KVM_ARM_VCPU_EL1_32BIT: Final = 1
KVM_ARM_VCPU_PSCI_0_2: Final = 2
KVM_ARM_VCPU_PMU_V3: Final = 3
KVM_ARM_VCPU_SVE: Final = 4
KVM_ARM_VCPU_PTRAUTH_ADDRESS: Final = 5
KVM_ARM_VCPU_PTRAUTH_GENERIC: Final = 6

# vCPU attribute groups and attributes (KVM_SET/GET/HAS_DEVICE_ATTR on a vCPU).
KVM_ARM_VCPU_PMU_V3_CTRL: Final = 0
KVM_ARM_VCPU_PMU_V3_IRQ: Final = 0
KVM_ARM_VCPU_PMU_V3_INIT: Final = 1
KVM_ARM_VCPU_PMU_V3_FILTER: Final = 2
KVM_ARM_VCPU_PMU_V3_SET_PMU: Final = 3
KVM_ARM_VCPU_TIMER_CTRL: Final = 1
KVM_ARM_VCPU_TIMER_IRQ_VTIMER: Final = 0
KVM_ARM_VCPU_TIMER_IRQ_PTIMER: Final = 1
KVM_ARM_VCPU_PVTIME_CTRL: Final = 2
KVM_ARM_VCPU_PVTIME_IPA: Final = 0

#: vCPU attribute group names, for traces.
VCPU_GROUP_NAMES: Final[dict[int, str]] = {
    0: "PMU_V3_CTRL",
    1: "TIMER_CTRL",
    2: "PVTIME_CTRL",
}
#: vCPU attribute names by (group, attr).
VCPU_ATTR_NAMES: Final[dict[tuple[int, int], str]] = {
    (0, 0): "PMU_V3_IRQ",
    (0, 1): "PMU_V3_INIT",
    (0, 2): "PMU_V3_FILTER",
    (0, 3): "PMU_V3_SET_PMU",
    (1, 0): "TIMER_IRQ_VTIMER",
    (1, 1): "TIMER_IRQ_PTIMER",
    (2, 0): "PVTIME_IPA",
}


#: KVM_CAP_* name by number, for traces (``KVM_CHECK_EXTENSION(kvm,
#: KVM_CAP_IMMEDIATE_EXIT)``); a number not here prints as the number.
CAPABILITY_NAMES: Final[dict[int, str]] = {
    value: name
    for name, value in sorted(globals().items())
    if name.startswith("KVM_CAP_") and isinstance(value, int)
}
