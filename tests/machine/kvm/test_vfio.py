"""The KVM-VFIO pseudo device, as Linux 6.1 answers it."""

from __future__ import annotations

import errno

import pytest

from tests.machine.kvm.helpers import fails
from virtmodel.machine import kvm
from virtmodel.machine.kvm.vfio import (
    KVM_DEV_VFIO_GROUP,
    KVM_DEV_VFIO_GROUP_ADD,
    KVM_DEV_VFIO_GROUP_DEL,
)

ADD, DEL = KVM_DEV_VFIO_GROUP_ADD, KVM_DEV_VFIO_GROUP_DEL


def vfio_vm(open_fds: frozenset[int] = frozenset()) -> tuple[kvm.Vm, kvm.KvmDevice]:
    vm = kvm.create_vm()
    vm.open_file = lambda fd: fd in open_fds
    return vm, vm.create_device(kvm.KVM_DEV_TYPE_VFIO)


def test_has_attr_knows_group_add_and_delete_only() -> None:
    _, vfio = vfio_vm()

    vfio.has_attr(KVM_DEV_VFIO_GROUP, ADD)
    vfio.has_attr(KVM_DEV_VFIO_GROUP, DEL)
    fails(errno.ENXIO, vfio.has_attr, KVM_DEV_VFIO_GROUP, 3)
    fails(errno.ENXIO, vfio.has_attr, 2, ADD)


@pytest.mark.parametrize(("attr", "code"), [(ADD, errno.EINVAL), (DEL, errno.ENOENT)])
def test_an_open_descriptor_is_no_vfio_group(attr: int, code: int) -> None:
    _, vfio = vfio_vm(frozenset({7}))

    error = fails(code, vfio.set_attr, KVM_DEV_VFIO_GROUP, attr, 7)

    assert "descriptor 7" in str(error)


@pytest.mark.parametrize("attr", [ADD, DEL])
@pytest.mark.parametrize(("value", "fd"), [(8, 8), (0xFFFFFFFF, -1)])
def test_a_closed_or_negative_descriptor_is_ebadf(
    attr: int, value: int, fd: int
) -> None:
    _, vfio = vfio_vm(frozenset({7}))

    error = fails(errno.EBADF, vfio.set_attr, KVM_DEV_VFIO_GROUP, attr, value)

    assert f"descriptor {fd} is not open" in str(error)


def test_unknown_attribute_then_null_pointer_then_descriptor() -> None:
    _, vfio = vfio_vm()

    fails(errno.ENXIO, vfio.set_attr, KVM_DEV_VFIO_GROUP, 3, None)
    fails(errno.ENXIO, vfio.set_attr, 2, ADD, None)
    fails(errno.EFAULT, vfio.set_attr, KVM_DEV_VFIO_GROUP, ADD, None)


def test_the_device_has_nothing_to_read_and_a_vm_holds_one() -> None:
    vm, vfio = vfio_vm()

    fails(errno.EPERM, vfio.get_attr, KVM_DEV_VFIO_GROUP, ADD)
    fails(errno.EBUSY, vm.create_device, kvm.KVM_DEV_TYPE_VFIO)
    assert [call.resource for call in vm.calls][-2] == "kvm.vfio.group1"
