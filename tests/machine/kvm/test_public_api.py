from __future__ import annotations

import errno
import subprocess
import sys

import pytest

from virtmodel.machine import kvm


def test_all_lists_exactly_the_public_names() -> None:
    for name in kvm.__all__:  # exported lazily (PEP 562): load them all
        getattr(kvm, name)
    public = {n for n in vars(kvm) if not n.startswith("_")}
    submodules = {
        "addresses",
        "calls",
        "constants",
        "creation",
        "device",
        "device_names",
        "differential",
        "encoding",
        "eras",
        "errors",
        "first_run",
        "host",
        "gicv3_regs",
        "gicv3_sysregs",
        "irqs",
        "its",
        "its_regs",
        "memslots",
        "registers",
        "resource_names",
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
        "vmcaps",
        "annotations",
    }

    lazy_import = {"importlib", "TYPE_CHECKING"}

    assert len(kvm.__all__) == len(set(kvm.__all__))
    assert set(kvm.__all__) == public - submodules - lazy_import


def test_names_load_on_first_use_and_unknown_ones_are_attribute_errors() -> None:
    code = (
        "import sys; from virtmodel.machine import kvm; "
        "assert 'virtmodel.machine.kvm.vm' not in sys.modules; "
        "kvm.create_vm; assert 'virtmodel.machine.kvm.vm' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

    with pytest.raises(AttributeError, match=r"'machine\.kvm' has no attribute 'Vmm'"):
        kvm.Vmm  # noqa: B018  # the access is the test
    assert dir(kvm) == sorted({*vars(kvm), *kvm.__all__})
    assert {"create_vm", "__getattr__"} <= set(dir(kvm))


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
