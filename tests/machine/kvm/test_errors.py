from __future__ import annotations

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.machine.kvm.helpers import ERAS, IPA40
from virtmodel.machine import kvm
from virtmodel.machine.kvm.eras import SemanticsName

E = errno
#: What the kernel can answer, per (ioctl, device kind, group).
ADDR_SET = {E.EFAULT, E.ENXIO, E.EEXIST, E.EINVAL, E.E2BIG}
REG_ACCESS = {E.EINVAL, E.EFAULT, E.EBUSY, E.ENXIO}
ALLOWED: dict[tuple[str, str, int | None], set[int]] = {
    ("KVM_CREATE_VCPU", "vm", None): {E.EINVAL, E.EBUSY, E.EEXIST},
    ("KVM_CREATE_DEVICE", "vm", None): {E.ENODEV, E.EEXIST, E.EBUSY, E.E2BIG},
    ("KVM_RUN", "vcpu", None): {E.ENXIO, E.EINVAL, E.EBUSY},
    ("KVM_SET_DEVICE_ATTR", "vgic", 0): ADDR_SET,
    ("KVM_GET_DEVICE_ATTR", "vgic", 0): {E.EFAULT, E.ENXIO, E.ENOENT},
    ("KVM_SET_DEVICE_ATTR", "vgic", 3): {E.EFAULT, E.EINVAL, E.EBUSY},
    ("KVM_GET_DEVICE_ATTR", "vgic", 3): {E.EFAULT},
    ("KVM_SET_DEVICE_ATTR", "vgic", 4): {E.ENXIO},
    ("KVM_GET_DEVICE_ATTR", "vgic", 4): {E.ENXIO},
    ("KVM_SET_DEVICE_ATTR", "vgic", 9): {E.EFAULT, E.EBUSY, E.EINVAL, E.ENXIO},
    ("KVM_GET_DEVICE_ATTR", "vgic", 9): {E.EFAULT, E.ENXIO},
    ("KVM_SET_DEVICE_ATTR", "its", 0): {E.ENODEV, E.EBUSY, *ADDR_SET},
    ("KVM_GET_DEVICE_ATTR", "its", 0): {E.ENODEV, E.EFAULT},
    ("KVM_SET_DEVICE_ATTR", "its", 4): {E.ENXIO},
    ("KVM_SET_DEVICE_ATTR", "its", 8): {E.EINVAL, E.EFAULT, E.ENXIO},
    ("KVM_GET_DEVICE_ATTR", "its", 8): {E.EINVAL, E.EFAULT, E.ENXIO},
}
for ioctl in ("KVM_SET_DEVICE_ATTR", "KVM_GET_DEVICE_ATTR"):
    for group in (1, 2, 5, 6, 7):
        ALLOWED[(ioctl, "vgic", group)] = REG_ACCESS


def allowed(call: kvm.KvmCall, kind: str, group: int | None) -> set[int]:
    # Any call on a VM whose first run failed (6.1 kills it) answers EIO.
    if call.ioctl == "KVM_HAS_DEVICE_ATTR":
        return {E.ENXIO, E.EINVAL, E.EIO}
    return ALLOWED.get((call.ioctl, kind, group), {E.ENXIO}) | {E.EIO}


def test_kvm_error_is_an_oserror_with_the_kernel_errno_and_one_line() -> None:
    vm = kvm.create_vm()

    with pytest.raises(kvm.KvmError) as excinfo:
        vm.create_device(0)

    caught = excinfo.value
    assert isinstance(caught, OSError)
    assert caught.errno == errno.ENODEV
    assert str(caught) == (
        "KVM_CREATE_DEVICE(device-type-0) failed: ENODEV"
        " (device type 0 is not available on this host)"
    )
    assert "\n" not in str(caught)


ADDRESSES = [0, 0x8000000, 0x8010000, 0x80A0000, 0x8001000, IPA40 - 0x10000, IPA40]
REGIONS = [
    kvm.redist_region_attr(n, 0x100000 * (i + 1), f, i)
    for n in (0, 1, 2)
    for f in (0, 1)
    for i in (0, 1, 2)
]
VALUES = st.one_of(
    st.none(),
    st.sampled_from([*ADDRESSES, (1 << 64) - 1, *REGIONS]),
    st.sampled_from([25, 64, 96, 288, 1023, 0x100]),
)
GROUPS = st.sampled_from([0, 0, 0, 0, 3, 4, 4, 1, 2, 5, 6, 7, 8, 9, 10])
ATTRS = st.one_of(
    st.integers(0, 5),
    st.integers(0, 9),
    st.sampled_from(
        [
            0xC,
            0x100,
            0x82,
            1 << 10,
            33,
            kvm.v3_reg_attr(0x80000001, 8),
            kvm.v2_reg_attr(1, 0),
        ]
    ),
)
#: Calls that configure a VM properly, so sequences also reach first runs.
GOOD_CALLS = [
    (0, kvm.KVM_VGIC_V3_ADDR_TYPE_DIST, 0x8000000),
    (0, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST, 0x80A0000),
    (0, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION, kvm.redist_region_attr(2, 0x80A0000)),
    (0, kvm.KVM_VGIC_V2_ADDR_TYPE_DIST, 0x8000000),
    (0, kvm.KVM_VGIC_V2_ADDR_TYPE_CPU, 0x8010000),
    (0, kvm.KVM_VGIC_ITS_ADDR_TYPE, 0x8080000),
    (3, 0, 128),
    (4, kvm.KVM_DEV_ARM_VGIC_CTRL_INIT, 0),
]
#: (operation, index, group, attr, value); unused fields are 0.
Op = tuple[str, int, int, int, "int | None"]
OPS: st.SearchStrategy[Op] = st.one_of(
    st.builds(
        lambda i: ("vcpu", i, 0, 0, 0), st.sampled_from([0, 1, 2, 3, 9, 511, 512])
    ),
    st.builds(
        lambda t, p: ("device", t, p, 0, 0),
        st.sampled_from([0, 3, 5, 7, 8]),
        st.integers(0, 1),
    ),
    st.builds(
        lambda how, i, g, a, v: (how, i, g, a, v),
        st.sampled_from(["set", "set", "get", "has"]),
        st.integers(0, 3),
        GROUPS,
        ATTRS,
        VALUES,
    ),
    st.builds(
        lambda i, call: ("set", i, *call),
        st.integers(0, 3),
        st.sampled_from(GOOD_CALLS),
    ),
    st.builds(lambda i: ("run", i, 0, 0, 0), st.integers(0, 3)),
    st.builds(
        lambda i, m: ("mpidr", i, 0, 0, m),
        st.integers(0, 3),
        st.sampled_from([0x80000001, 0x100]),
    ),
)


def apply(vm: kvm.Vm, op: Op) -> tuple[str, int | None]:
    """Run one operation; return (device kind, group) for the errno table."""
    what, index, group, attr, value = op
    if what == "vcpu":
        vm.create_vcpu(index)
    elif what == "device":
        vm.create_device(index, bool(group))
    elif what in ("set", "get", "has") and vm.devices:
        device = vm.devices[index % len(vm.devices)]
        kind = "its" if isinstance(device, kvm.ItsDevice) else "vgic"
        if value is not None and kind == "vgic" and group != 0:
            value &= 0xFFFFFFFF  # the kernel reads a u32 there
        try:
            if what == "set":
                device.set_attr(group, attr, value)
            elif what == "get":
                device.get_attr(group, attr, value)
            else:
                device.has_attr(group, attr)
        except kvm.KvmError as error:
            error.add_note(f"{kind} {group}")
            raise
    elif what == "run" and vm.vcpus:
        vm.vcpus[index % len(vm.vcpus)].run()
    elif what == "mpidr" and vm.vcpus and value is not None:
        vm.vcpus[index % len(vm.vcpus)].mpidr = value
    return "vm", None


def kind_and_group(error: kvm.KvmError) -> tuple[str, int | None]:
    notes = getattr(error, "__notes__", [])
    if not notes:
        return (
            "vcpu" if error.call is not None and error.call.ioctl == "KVM_RUN" else "vm"
        ), None
    kind, group = notes[-1].split()
    return kind, int(group)


@settings(max_examples=200, deadline=None)
@given(
    era=st.sampled_from(ERAS),
    start=st.sampled_from([(), (5,), (7,), (7, 8), (8, 7), (5, 8)]),
    ops=st.lists(OPS, max_size=60),
)
def test_random_call_sequences_raise_only_kernel_errnos(
    era: SemanticsName, start: tuple[int, ...], ops: list[Op]
) -> None:
    vm = kvm.create_vm(semantics=era)
    vm.create_vcpu(0)
    for type_id in start:
        vm.create_device(type_id)
    raised: list[kvm.KvmError] = []
    for op in ops:
        try:
            apply(vm, op)
        except kvm.KvmError as error:
            raised.append(error)

    for failure in raised:
        assert failure.call is not None
        assert failure.call.errno == failure.errno
        expected = allowed(failure.call, *kind_and_group(failure))
        assert failure.errno in expected, str(failure)
        assert "\n" not in str(failure)
    assert [e.call for e in raised] == [c for c in vm.calls if c.errno is not None]
