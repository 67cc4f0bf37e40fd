"""VM set-up calls: capability answers, KVM_ENABLE_CAP and KVM_IOEVENTFD."""

from __future__ import annotations

import errno

import pytest

from virtmodel.machine import kvm
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.eras import ERAS

DIRTY = u.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2
NISV = u.KVM_CAP_ARM_NISV_TO_USER
PIO = u.KVM_IOEVENTFD_FLAG_PIO
MATCH = u.KVM_IOEVENTFD_FLAG_DATAMATCH
DEASSIGN = u.KVM_IOEVENTFD_FLAG_DEASSIGN
CCW = u.KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY


def _errno(call: object) -> int | None:
    try:
        assert callable(call)
        call()
    except kvm.KvmError as exc:
        return exc.errno
    return None


def test_6_1_offers_both_capabilities_and_2016_kernels_neither() -> None:
    vm = kvm.create_vm()
    assert vm.check_extension(DIRTY) == 3
    assert vm.check_extension(NISV) == 1
    assert vm.check_extension(u.KVM_CAP_ARM_SVE) == 0  # not modelled: "no"
    for era in ERAS[1:]:
        old = kvm.create_vm(semantics=era)
        assert old.check_extension(DIRTY) == 0
        assert old.check_extension(NISV) == 0


def test_enable_cap_is_recorded_as_the_lab_tracer_spells_it() -> None:
    vm = kvm.create_vm()
    vm.enable_cap(DIRTY, 3)
    vm.enable_cap(NISV, 0x55)  # NISV ignores its arguments
    assert [str(call) for call in vm.calls] == [
        "KVM_ENABLE_CAP(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, flags=0, args=0x3,0x0) = 0",
        "KVM_ENABLE_CAP(vm, KVM_CAP_ARM_NISV_TO_USER, flags=0, args=0x55,0x0) = 0",
    ]
    assert {call.resource for call in vm.calls} == {"kvm.vm.enable_cap"}


def test_enable_cap_refusals() -> None:
    vm = kvm.create_vm()
    assert _errno(lambda: vm.enable_cap(DIRTY, 1, flags=1)) == errno.EINVAL
    assert _errno(lambda: vm.enable_cap(DIRTY, 4)) == errno.EINVAL
    assert _errno(lambda: vm.enable_cap(u.KVM_CAP_ARM_SVE)) == errno.EINVAL
    assert _errno(lambda: vm.enable_cap(DIRTY, 1)) is None
    old = kvm.create_vm(semantics="v4.8")
    assert _errno(lambda: old.enable_cap(NISV)) == errno.EINVAL
    assert "cannot enable capability 177" in str(old.calls[-1])
    with pytest.raises(ValueError, match="cap -1"):
        vm.enable_cap(-1)
    with pytest.raises(ValueError, match="args"):
        vm.enable_cap(DIRTY, 1 << 64)


def test_ioeventfd_assign_deassign_and_its_record() -> None:
    vm = kvm.create_vm()
    fd = vm.eventfd()
    vm.ioeventfd(fd, 0, 2, PIO | MATCH, 5)
    assert len(vm.ioeventfds) == 1
    vm.ioeventfd(fd, 0, 2, PIO | MATCH | DEASSIGN, 5)
    assert vm.ioeventfds == []
    assert [str(call) for call in vm.calls] == [
        "KVM_IOEVENTFD(vm, addr=0x0, len=2, flags=0x3, datamatch=0x5) = 0",
        "KVM_IOEVENTFD(vm, addr=0x0, len=2, flags=0x7, datamatch=0x5) = 0",
    ]
    vm.close_eventfd(fd)
    assert fd not in vm.eventfds


@pytest.mark.parametrize(
    ("addr", "length", "flags", "datamatch", "code"),
    [
        (0, 3, PIO, 0, errno.EINVAL),  # not a natural size
        ((1 << 64) - 4, 4, 0, 0, errno.EINVAL),  # wraps
        ((1 << 64) - 4, 2, 0, 0, None),  # ends below the top
        (0x1000, 4, 0x10, 0, errno.EINVAL),  # unknown flag
        (0x1000, 0, MATCH, 7, errno.EINVAL),  # datamatch without a length
        (0x1000, 0, 0, 0, None),  # any length, any value
        (0x1000, 8, CCW, 0, None),
    ],
)
def test_ioeventfd_assign_checks(
    addr: int, length: int, flags: int, datamatch: int, code: int | None
) -> None:
    vm = kvm.create_vm()
    fd = vm.eventfd()
    assert _errno(lambda: vm.ioeventfd(fd, addr, length, flags, datamatch)) == code


def test_ioeventfd_needs_an_eventfd() -> None:
    vm = kvm.create_vm()
    fd = vm.eventfd()
    vm.close_eventfd(fd)
    assert _errno(lambda: vm.ioeventfd(fd, 0, 2, PIO)) == errno.EBADF
    assert _errno(lambda: vm.ioeventfd(fd, 0, 2, PIO | DEASSIGN)) == errno.EBADF
    with pytest.raises(ValueError, match="fd -1"):
        vm.ioeventfd(-1, 0, 2, PIO)
    with pytest.raises(ValueError, match="datamatch"):
        vm.ioeventfd(fd, 0, 2, PIO, 1 << 64)


def test_ioeventfd_collisions_follow_6_1() -> None:
    vm = kvm.create_vm()
    a, b = vm.eventfd(), vm.eventfd()
    vm.ioeventfd(a, 0, 2, PIO | MATCH, 1)
    # Same bus, address and length: another datamatch is fine, the same or
    # a wildcard is not; another length, another bus or address is fine.
    assert _errno(lambda: vm.ioeventfd(b, 0, 2, PIO | MATCH, 2)) is None
    assert _errno(lambda: vm.ioeventfd(b, 0, 2, PIO | MATCH, 1)) == errno.EEXIST
    assert _errno(lambda: vm.ioeventfd(b, 0, 2, PIO)) == errno.EEXIST
    assert _errno(lambda: vm.ioeventfd(b, 0, 4, PIO | MATCH, 1)) is None
    assert _errno(lambda: vm.ioeventfd(b, 0, 2, MATCH, 1)) is None  # MMIO
    assert _errno(lambda: vm.ioeventfd(b, 8, 2, PIO | MATCH, 1)) is None
    # Length 0 catches every length at its address.
    assert _errno(lambda: vm.ioeventfd(b, 0, 0, PIO)) == errno.EEXIST
    vm.ioeventfd(a, 0x40, 0, PIO)
    assert _errno(lambda: vm.ioeventfd(b, 0x40, 1, PIO | MATCH, 9)) == errno.EEXIST
    # A wildcard already there catches every value.
    vm.ioeventfd(a, 0x80, 4, PIO)
    assert _errno(lambda: vm.ioeventfd(b, 0x80, 4, PIO | MATCH, 9)) == errno.EEXIST


def test_ioeventfd_deassign_needs_an_exact_match() -> None:
    vm = kvm.create_vm()
    a, b = vm.eventfd(), vm.eventfd()
    vm.ioeventfd(a, 0, 2, PIO | MATCH, 1)
    for fd, length, flags, match in (
        (b, 2, PIO | MATCH, 1),  # another eventfd
        (a, 4, PIO | MATCH, 1),  # another length
        (a, 2, PIO | MATCH, 2),  # another datamatch
        (a, 2, PIO, 1),  # a wildcard
        (a, 2, MATCH, 1),  # the MMIO bus
    ):
        code = _errno(lambda: vm.ioeventfd(fd, 0, length, flags | DEASSIGN, match))  # noqa: B023
        assert code == errno.ENOENT
    assert len(vm.ioeventfds) == 1


def test_a_dead_vm_refuses_the_set_up_calls() -> None:
    vm = kvm.create_vm()
    fd = vm.eventfd()
    vm.dead = True
    assert _errno(lambda: vm.enable_cap(DIRTY, 3)) == errno.EIO
    assert _errno(lambda: vm.ioeventfd(fd, 0, 2, PIO)) == errno.EIO
