"""Each package's ``__init__`` is its contract: ``__all__`` sorted and complete.

Other packages add themselves to ``PACKAGES`` when their ``__init__`` exports.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = [
    "virtmodel",
    "virtmodel.devices",
    "virtmodel.machine",
    "virtmodel.machine.kvm",
    "virtmodel.notifiers",
]


def _isort_key(name: str) -> tuple[int, str]:
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return (kind, name)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_every_name_exists(package: str) -> None:
    module = importlib.import_module(package)

    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    assert module.__all__ == sorted(module.__all__, key=_isort_key)
    assert len(set(module.__all__)) == len(module.__all__)
    assert all(hasattr(module, name) for name in module.__all__)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_class_or_function_is_in_all(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:  # load lazily exported names (PEP 562)
        getattr(module, name)

    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
    }

    assert public <= set(module.__all__)


def test_notifiers_exports_the_fixed_names() -> None:
    from virtmodel import notifiers

    fixed = {
        "NotifierRegistry",
        "NotifierList",
        "NotifierError",
        "CycleError",
        "UnknownNotifierError",
        "DuplicateNotifierError",
        "LateRegistrationError",
        "NotifierFailedError",
    }

    assert fixed <= set(notifiers.__all__)


def test_machine_kvm_exports_the_fixed_uapi_names() -> None:
    from virtmodel.machine import kvm

    for name in (
        "create_vm",
        "KvmError",
        "KVM_DEV_TYPE_ARM_VGIC_V2",
        "KVM_DEV_TYPE_ARM_VGIC_V3",
        "KVM_DEV_TYPE_ARM_VGIC_ITS",
        "KVM_DEV_ARM_VGIC_GRP_ADDR",
        "KVM_VGIC_V3_ADDR_TYPE_DIST",
        "KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION",
        "KVM_DEV_ARM_VGIC_CTRL_INIT",
    ):
        assert name in kvm.__all__, name
    assert issubclass(kvm.KvmError, OSError)
