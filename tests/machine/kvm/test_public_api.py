from __future__ import annotations

import errno

from virtmodel.machine import kvm


def test_all_lists_exactly_the_public_names() -> None:
    public = {n for n in vars(kvm) if not n.startswith("_")}
    submodules = {
        "addresses",
        "calls",
        "constants",
        "device",
        "differential",
        "encoding",
        "errors",
        "first_run",
        "host",
        "gicv3_regs",
        "gicv3_sysregs",
        "irqs",
        "its",
        "its_regs",
        "registers",
        "routing",
        "script",
        "scriptgen",
        "semantics",
        "state",
        "uapi",
        "vcpu",
        "vcpu_attrs",
        "vfio",
        "vgic",
        "vm",
        "annotations",
    }

    assert len(kvm.__all__) == len(set(kvm.__all__))
    assert set(kvm.__all__) == public - submodules


def test_uapi_numbers_match_the_linux_headers() -> None:
    numbers = (
        kvm.KVM_DEV_TYPE_ARM_VGIC_V2,
        kvm.KVM_DEV_TYPE_ARM_VGIC_V3,
        kvm.KVM_DEV_TYPE_ARM_VGIC_ITS,
        kvm.KVM_CREATE_DEVICE_TEST,
        kvm.KVM_DEV_ARM_VGIC_GRP_ITS_REGS,
        kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION,
        kvm.KVM_DEV_ARM_ITS_CTRL_RESET,
    )

    assert numbers == (5, 7, 8, 1, 8, 5, 4)
    assert kvm.errno_name(errno.EEXIST) == "EEXIST"
