"""Every UAPI number machine.kvm uses, checked against Debian's 6.1 headers.

The expected values come from ``linux/kvm.h``, ``asm/kvm.h``,
``asm-generic/ioctl.h`` and the errno headers of Debian's
``linux-libc-dev-arm64-cross`` (the arm64 UAPI of Linux 6.1), read by
:mod:`tests.machine.kvm.cheader` -- never from the constants under test. Every
integer constant of the package's constant modules must be either checked
here or listed as kernel-internal (not part of the UAPI) with where it comes
from, so a new number cannot slip past.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import require_file
from tests.machine.kvm.cheader import Headers
from virtmodel.machine.kvm import constants, encoding, uapi

INCLUDE = Path("/usr/aarch64-linux-gnu/include")
PACKAGE = Path(constants.__file__).parent

#: The uapi header uses SZ_64K (from the kernel's linux/sizes.h) without
#: defining it; "64K" is its whole meaning.
_UNDEFINED_IN_UAPI = {"SZ_64K": "0x10000"}

#: Our name -> the header's name, where they differ.
_RENAMED = {
    "V2_CPUID_SHIFT": "KVM_DEV_ARM_VGIC_CPUID_SHIFT",
    "V2_CPUID_MASK": "KVM_DEV_ARM_VGIC_CPUID_MASK",
    "V3_MPIDR_SHIFT": "KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT",
    "V3_MPIDR_MASK": "KVM_DEV_ARM_VGIC_V3_MPIDR_MASK",
    "OFFSET_MASK": "KVM_DEV_ARM_VGIC_OFFSET_MASK",
    "_IOC_NRSHIFT": "_IOC_NRSHIFT",
}

#: Numbers that are not UAPI: where in the 6.1 kernel source they come from.
_INTERNAL = {
    "SZ_4K": "include/linux/sizes.h",
    "SZ_64K": "include/linux/sizes.h",
    "VGIC_ADDR_UNDEF": "include/kvm/arm_vgic.h (all ones)",
    "VGIC_V2_MAX_CPUS": "include/kvm/arm_vgic.h",
    "VGIC_V3_MAX_CPUS": "include/kvm/arm_vgic.h",
    "VGIC_NR_PRIVATE_IRQS": "include/kvm/arm_vgic.h",
    "VGIC_NR_IRQS_LEGACY": "include/kvm/arm_vgic.h",
    "VGIC_MAX_RESERVED": "include/kvm/arm_vgic.h",
    "KVM_MAX_VCPU_IDS": "arch/arm64/include/asm/kvm_host.h (KVM_MAX_VCPUS)",
    "KVM_MIN_IPA_BITS": "arch/arm64/include/asm/sysreg.h (ARM64_MIN_PARANGE_BITS)",
    "KVM_DEFAULT_IPA_BITS": "arch/arm64/include/asm/kvm_mmu.h (KVM_PHYS_SHIFT)",
    "GICD_CTLR": "include/linux/irqchip/arm-gic-v3.h",
    "GICD_TYPER": "include/linux/irqchip/arm-gic-v3.h",
    "GICD_IIDR": "include/linux/irqchip/arm-gic-v3.h",
    "GICD_TYPER2": "include/linux/irqchip/arm-gic-v3.h",
    "GICD_TYPER2_NASSGICAP": "include/linux/irqchip/arm-gic-v3.h",
    "GICR_TYPER": "include/linux/irqchip/arm-gic-v3.h",
    "GICR_TYPER_HI": "GICR_TYPER + 4, its upper 32 bits",
    "GICR_TYPER_PLPIS": "include/linux/irqchip/arm-gic-v3.h",
    "GICR_TYPER_LAST": "include/linux/irqchip/arm-gic-v3.h",
    "GICC_CTLR": "include/linux/irqchip/arm-gic.h",
    "IMPLEMENTER_ARM": "arch/arm64/kvm/vgic/vgic.h",
    "PRODUCT_ID_KVM": "arch/arm64/kvm/vgic/vgic.h",
    "REDIST_INDEX_MASK": "arch/arm64/kvm/vgic/vgic.h (KVM_VGIC_V3_RDIST_INDEX_MASK)",
    "REDIST_FLAGS_SHIFT": "arch/arm64/kvm/vgic/vgic.h",
    "REDIST_FLAGS_MASK": "arch/arm64/kvm/vgic/vgic.h",
    "REDIST_BASE_MASK": "arch/arm64/kvm/vgic/vgic.h",
    "REDIST_COUNT_SHIFT": "arch/arm64/kvm/vgic/vgic.h",
    "REDIST_COUNT_MASK": "arch/arm64/kvm/vgic/vgic.h",
    "MPIDR_HWID_MASK": "arch/arm64/include/asm/cputype.h",
    "MPIDR_RES1": "the Arm architecture (MPIDR_EL1 bit 31 is RES1)",
    "KVM_DEV_ARM_VGIC_GRP_MAINT_IRQ": "later kernels (nested virt.); absent from 6.1",
    "KVM_DEV_TYPE_RISCV_AIA": "later kernels (RISC-V AIA); absent from 6.1",
}

#: Struct sizes uapi.py states, by the struct they measure.
_STRUCTS = {
    "SIZEOF_KVM_USERSPACE_MEMORY_REGION": "struct kvm_userspace_memory_region",
    "SIZEOF_KVM_VCPU_INIT": "struct kvm_vcpu_init",
    "SIZEOF_KVM_CREATE_DEVICE": "struct kvm_create_device",
    "SIZEOF_KVM_DEVICE_ATTR": "struct kvm_device_attr",
    "SIZEOF_KVM_ONE_REG": "struct kvm_one_reg",
    "SIZEOF_KVM_IRQ_ROUTING": "struct kvm_irq_routing",
    "SIZEOF_KVM_IRQ_LEVEL": "struct kvm_irq_level",
    "SIZEOF_KVM_IRQFD": "struct kvm_irqfd",
    "SIZEOF_KVM_MSI": "struct kvm_msi",
    "SIZEOF_KVM_ENABLE_CAP": "struct kvm_enable_cap",
    "SIZEOF_KVM_IOEVENTFD": "struct kvm_ioeventfd",
}


@pytest.fixture(scope="module")
def headers() -> Headers:
    """Debian's arm64 6.1 UAPI headers, parsed."""
    kvm_h = require_file(
        INCLUDE / "linux" / "kvm.h",
        "Debian's arm64 UAPI headers (package linux-libc-dev-arm64-cross)",
    )
    return Headers.load(
        INCLUDE / "linux" / "version.h",
        INCLUDE / "asm-generic" / "ioctl.h",
        INCLUDE / "asm-generic" / "errno-base.h",
        INCLUDE / "asm-generic" / "errno.h",
        INCLUDE / "asm" / "kvm.h",
        kvm_h,
        extra=_UNDEFINED_IN_UAPI,
    )


def _numbers(module: ModuleType) -> dict[str, int]:
    return {
        name: value
        for name, value in sorted(vars(module).items())
        if re.fullmatch(r"_?[A-Z][A-Z0-9_]*", name)
        and isinstance(value, int)
        and not isinstance(value, bool)
    }


def test_the_headers_are_linux_6_1(headers: Headers) -> None:
    assert (
        headers.value("LINUX_VERSION_MAJOR"),
        headers.value("LINUX_VERSION_PATCHLEVEL"),
    ) == (6, 1)


@pytest.mark.parametrize(
    "module", [constants, encoding, uapi], ids=lambda m: m.__name__
)
def test_every_number_matches_the_header_or_is_listed_internal(
    headers: Headers, module: ModuleType
) -> None:
    wrong, unclassified = [], []
    for name, value in _numbers(module).items():
        if name in _INTERNAL:
            assert not (name.startswith("KVM_") and headers.defined(name)), (
                f"{name} is listed internal but the 6.1 UAPI defines it"
            )
            continue
        if name in _STRUCTS:
            expected = headers.sizeof(_STRUCTS[name])
        else:
            header_name = _RENAMED.get(name, name)
            if not headers.defined(header_name):
                unclassified.append(name)
                continue
            expected = headers.value(header_name)
        if value != expected:
            wrong.append(f"{name} = {value:#x}, the 6.1 header says {expected:#x}")
    assert not wrong, "\n".join(wrong)
    assert not unclassified, (
        f"neither in the 6.1 UAPI nor listed internal: {unclassified}"
    )


def test_ioctl_request_numbers_match(headers: Headers) -> None:
    for number, name in uapi.IOCTL_NAMES.items():
        assert number == headers.value(name), name
    needed = {
        "KVM_CREATE_VM", "KVM_CREATE_VCPU", "KVM_ARM_VCPU_INIT", "KVM_ARM_PREFERRED_TARGET",
        "KVM_CREATE_DEVICE", "KVM_SET_DEVICE_ATTR", "KVM_GET_DEVICE_ATTR",
        "KVM_HAS_DEVICE_ATTR", "KVM_RUN", "KVM_SET_USER_MEMORY_REGION",
        "KVM_SET_ONE_REG", "KVM_CHECK_EXTENSION", "KVM_SET_GSI_ROUTING",
    }  # fmt: skip
    assert needed <= set(uapi.IOCTL_NAMES.values())


def test_ipa_size_vm_type_matches(headers: Headers) -> None:
    for bits in (0, 32, 40, 44, 48):
        assert headers.eval(f"KVM_VM_TYPE_ARM_IPA_SIZE({bits})") == (
            bits & uapi.KVM_VM_TYPE_ARM_IPA_SIZE_MASK
        )


@pytest.mark.parametrize(
    ("table", "prefixes"),
    [
        (constants.GROUP_NAMES, ("KVM_DEV_ARM_VGIC_",)),
        (constants.ADDR_NAMES, ("KVM_",)),
        (constants.CTRL_NAMES, ("KVM_DEV_ARM_VGIC_", "KVM_DEV_ARM_")),
        (constants.DEVICE_TYPE_NAMES, ("",)),
        (uapi.VCPU_GROUP_NAMES, ("KVM_ARM_VCPU_",)),
    ],
    ids=["groups", "addr", "ctrl", "device-types", "vcpu-groups"],
)
def test_name_tables_name_the_header_numbers(
    headers: Headers, table: dict[int, str], prefixes: tuple[str, ...]
) -> None:
    for number, name in table.items():
        if any(p + name in _INTERNAL for p in ("KVM_DEV_ARM_VGIC_", "")):
            continue
        candidates = [p + name for p in prefixes if headers.defined(p + name)]
        assert candidates, f"{name} is not a 6.1 UAPI name"
        assert headers.value(candidates[0]) == number, name


def test_every_errno_the_package_raises_is_linux_asm_generic(headers: Headers) -> None:
    used = set()
    for path in sorted(PACKAGE.glob("*.py")):
        used |= set(re.findall(r"\berrno\.(E[A-Z0-9]+)\b", path.read_text()))
    assert used, "the package raises no errno at all?"
    for name in sorted(used):
        assert getattr(errno, name) == headers.value(name), name
