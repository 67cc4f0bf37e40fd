"""The host backend's ABI numbers, checked by the arm64 C compiler itself.

Every structure size and field offset, register id and kvm_run offset the
backend packs by hand becomes a ``_Static_assert`` in a C file that
includes Debian's 6.1 ``linux/kvm.h``; ``aarch64-linux-gnu-gcc
-fsyntax-only`` compiles it, so the expected values are the compiler's
reading of the kernel's headers, never our own constants. The guest's
instructions are checked by the arm64 disassembler.
"""

from __future__ import annotations

import subprocess

from tests.conftest import require_tool
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.host import abi


def _c_checks() -> list[tuple[str, int]]:
    return [
        ("sizeof(struct kvm_userspace_memory_region)", abi.MEMORY_REGION.size),
        ("offsetof(struct kvm_userspace_memory_region, guest_phys_addr)", 8),
        ("offsetof(struct kvm_userspace_memory_region, memory_size)", 16),
        ("offsetof(struct kvm_userspace_memory_region, userspace_addr)", 24),
        ("sizeof(struct kvm_vcpu_init)", abi.VCPU_INIT.size),
        ("offsetof(struct kvm_vcpu_init, features)", 4),
        ("sizeof(struct kvm_create_device)", abi.CREATE_DEVICE.size),
        ("offsetof(struct kvm_create_device, fd)", 4),
        ("offsetof(struct kvm_create_device, flags)", 8),
        ("sizeof(struct kvm_device_attr)", abi.DEVICE_ATTR.size),
        ("offsetof(struct kvm_device_attr, group)", 4),
        ("offsetof(struct kvm_device_attr, attr)", 8),
        ("offsetof(struct kvm_device_attr, addr)", 16),
        ("sizeof(struct kvm_one_reg)", abi.ONE_REG.size),
        ("offsetof(struct kvm_one_reg, addr)", 8),
        ("offsetof(struct kvm_run, exit_reason)", abi.RUN_EXIT_REASON),
        ("offsetof(struct kvm_run, mmio.phys_addr)", abi.RUN_MMIO_PHYS_ADDR),
        ("offsetof(struct kvm_run, mmio.data)", abi.RUN_MMIO_DATA),
        ("offsetof(struct kvm_run, mmio.len)", abi.RUN_MMIO_LEN),
        ("offsetof(struct kvm_run, mmio.is_write)", abi.RUN_MMIO_IS_WRITE),
        ("KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE"
         " | KVM_REG_ARM_CORE_REG(regs.pc)", abi.REG_PC),
        ("KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE"
         " | KVM_REG_ARM_CORE_REG(regs.regs[1])", abi.REG_X1),
        ("KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE"
         " | KVM_REG_ARM_CORE_REG(regs.regs[2])", abi.REG_X2),
        ("ARM64_SYS_REG(3, 0, 0, 0, 5)", abi.REG_MPIDR_EL1),
        ("KVM_EXIT_MMIO", u.KVM_EXIT_MMIO),
        ("KVM_EXIT_INTR", u.KVM_EXIT_INTR),
        ("KVM_GET_API_VERSION", u.KVM_GET_API_VERSION),
        ("KVM_CREATE_VM", u.KVM_CREATE_VM),
        ("KVM_GET_VCPU_MMAP_SIZE", u.KVM_GET_VCPU_MMAP_SIZE),
        ("KVM_CREATE_VCPU", u.KVM_CREATE_VCPU),
        ("KVM_SET_USER_MEMORY_REGION", u.KVM_SET_USER_MEMORY_REGION),
        ("KVM_ARM_PREFERRED_TARGET", u.KVM_ARM_PREFERRED_TARGET),
        ("KVM_ARM_VCPU_INIT", u.KVM_ARM_VCPU_INIT),
        ("KVM_CREATE_DEVICE", u.KVM_CREATE_DEVICE),
        ("KVM_SET_DEVICE_ATTR", u.KVM_SET_DEVICE_ATTR),
        ("KVM_GET_DEVICE_ATTR", u.KVM_GET_DEVICE_ATTR),
        ("KVM_HAS_DEVICE_ATTR", u.KVM_HAS_DEVICE_ATTR),
        ("KVM_SET_ONE_REG", u.KVM_SET_ONE_REG),
        ("KVM_GET_ONE_REG", u.KVM_GET_ONE_REG),
        ("KVM_RUN", u.KVM_RUN),
    ]  # fmt: skip


def test_every_packed_layout_and_number_matches_the_kernel_headers(tmp_path):
    gcc = require_tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu")
    lines = ["#include <stddef.h>", "#include <linux/kvm.h>"]
    lines += [
        f'_Static_assert(({expr}) == {value}ULL, "{expr} is not {value:#x}");'
        for expr, value in _c_checks()
    ]
    source = tmp_path / "abi.c"
    source.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        [gcc, "-fsyntax-only", str(source)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_guest_is_a_store_of_x2_to_x1_then_a_branch_to_itself(tmp_path):
    objdump = require_tool("aarch64-linux-gnu-objdump", "binutils-aarch64-linux-gnu")
    blob = tmp_path / "guest.bin"
    blob.write_bytes(abi.GUEST_CODE)
    done = subprocess.run(
        [objdump, "-D", "-b", "binary", "-m", "aarch64", str(blob)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    words = [line.split("\t")[2:] for line in done.stdout.splitlines() if ":\t" in line]
    assert [" ".join(w).split() for w in words] == [
        ["str", "x2,", "[x1]"],
        ["b", "0x4"],
    ]
