from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.machine.kvm.helpers import (
    ADDR,
    CTRL,
    DIST,
    INIT,
    NR_IRQS,
    REDIST,
    fails,
    v3_vm,
)
from virtmodel.machine import kvm


def test_every_call_is_recorded_in_order_with_its_outcome() -> None:
    vm, gic = v3_vm()
    gic.set_attr(ADDR, DIST, 0x8000000)
    fails(errno.EEXIST, gic.set_attr, ADDR, DIST, 0x8000000)

    lines = [str(call) for call in vm.calls]

    assert lines == [
        "KVM_CREATE_VCPU(vcpu0, 0) = 0",
        "KVM_CREATE_DEVICE(vgic-v3, 7) = 0",
        "KVM_SET_DEVICE_ATTR(vgic-v3, GRP_ADDR, VGIC_V3_ADDR_TYPE_DIST, 0x08000000)"
        " = 0",
        "KVM_SET_DEVICE_ATTR(vgic-v3, GRP_ADDR, VGIC_V3_ADDR_TYPE_DIST, 0x08000000)"
        " -> EEXIST (address already set)",
    ]
    assert [call.seq for call in vm.calls] == [0, 1, 2, 3]


def test_call_record_carries_names_value_resource_and_result() -> None:
    vm, gic = v3_vm()

    result = gic.get_attr(NR_IRQS, 0)

    call = vm.calls[-1]
    assert (call.ioctl, call.device, call.group, call.attr) == (
        "KVM_GET_DEVICE_ATTR",
        "vgic-v3",
        "GRP_NR_IRQS",
        "0",
    )
    assert (call.value, call.result, call.errno, call.resource) == (
        0,
        result,
        None,
        "kvm.vgic.nr_irqs",
    )
    assert call.ok
    assert not call.pending


def test_failed_call_records_errno_and_reason_and_error_points_at_it() -> None:
    vm, gic = v3_vm()

    error = fails(errno.EFAULT, gic.set_attr, ADDR, DIST, None)

    assert error.call is vm.calls[-1]
    assert (error.call.errno, error.reason) == (errno.EFAULT, "NULL value pointer")
    assert str(error.call).endswith(
        "VGIC_V3_ADDR_TYPE_DIST, NULL) -> EFAULT (NULL value pointer)"
    )
    assert isinstance(error, OSError)


@pytest.mark.parametrize(
    ("group", "attr", "resource"),
    [
        (ADDR, DIST, "kvm.vgic.addr.dist"),
        (ADDR, REDIST, "kvm.vgic.addr.redist"),
        (ADDR, kvm.KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION, "kvm.vgic.addr.redist"),
        (NR_IRQS, 0, "kvm.vgic.nr_irqs"),
        (CTRL, INIT, "kvm.vgic.ctrl.init"),
    ],
)
def test_vgic_calls_name_the_resource_they_touch(
    group: int, attr: int, resource: str
) -> None:
    vm, gic = v3_vm()

    gic.check_attr(group, attr)

    assert vm.calls[-1].resource == resource
    assert resource in kvm.RESOURCES


def test_its_vcpu_and_v2_calls_name_their_resources() -> None:
    vm = kvm.create_vm()
    vcpu = vm.create_vcpu(0)
    its = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_ITS)
    v2 = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V2)
    its.check_attr(ADDR, kvm.KVM_VGIC_ITS_ADDR_TYPE)
    its.check_attr(CTRL, INIT)
    v2.check_attr(ADDR, kvm.KVM_VGIC_V2_ADDR_TYPE_CPU)
    fails(errno.ENXIO, vcpu.run)

    resources = [call.resource for call in vm.calls]

    assert resources == [
        "kvm.vcpu.create",
        "kvm.its.create",
        "kvm.vgic.create",
        "kvm.its.addr",
        "kvm.its.ctrl.init",
        "kvm.vgic.addr.cpu",
        "kvm.vcpu.run",
    ]
    assert set(resources) <= set(kvm.RESOURCES)


def test_before_observer_sees_the_pending_call_and_after_the_result() -> None:
    vm, gic = v3_vm()
    seen: list[kvm.KvmCall] = []
    vm.add_observer(seen.append, seen.append)

    gic.set_attr(CTRL, INIT)

    assert [call.pending for call in seen] == [True, False]
    assert str(seen[0]).endswith("= ?")
    assert seen[1] is vm.calls[-1]


def test_before_observer_can_veto_a_call_which_then_never_runs() -> None:
    vm, gic = v3_vm()

    def strict(call: kvm.KvmCall) -> None:
        if call.resource == "kvm.vgic.ctrl.init":
            raise PermissionError(f"undeclared resource {call.resource!r}")

    vm.add_observer(strict, None)
    count = len(vm.calls)

    with pytest.raises(
        PermissionError, match=r"undeclared resource 'kvm\.vgic\.ctrl\.init'"
    ):
        gic.set_attr(CTRL, INIT)

    assert not vm.vgic.initialized
    assert len(vm.calls) == count


def test_after_observer_sees_failures_too() -> None:
    vm, _ = v3_vm()
    errnos: list[int | None] = []
    vm.add_observer(None, lambda call: errnos.append(call.errno))

    fails(errno.ENXIO, vm.vcpus[0].run)

    assert errnos == [errno.ENXIO]


def test_addresses_and_read_addresses_are_shown_in_hex() -> None:
    vm, gic = v3_vm()
    gic.set_attr(ADDR, DIST, 0x8000000)

    gic.get_attr(ADDR, DIST)

    assert str(vm.calls[-1]).endswith(
        "VGIC_V3_ADDR_TYPE_DIST, 0x00000000) = 0x08000000"
    )


TRACE_SCRIPT = """
from virtmodel.machine import kvm
from tests.machine.kvm.test_its import qemu_virt_gicv3_its
for era in ("mainline", "v4.8", "v4.8-rc1"):
    try:
        vm = qemu_virt_gicv3_its(era, "realize")
    except kvm.KvmError as error:
        print(error)
        continue
    print("\\n".join(str(call) for call in vm.calls))
"""


def test_trace_text_is_identical_whatever_the_hash_seed() -> None:
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", TRACE_SCRIPT],
            env=env,
            cwd=Path(__file__).resolve().parents[3],
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(done.stdout)

    assert len(outputs) == 1
    assert "ENXIO (the ITS address is not set)" in outputs.pop()


def test_before_only_and_after_only_observers_each_see_their_side() -> None:
    vm, gic = v3_vm()
    before: list[bool] = []
    after: list[int | None] = []
    vm.add_observer(lambda call: before.append(call.pending), None)
    vm.add_observer(None, lambda call: after.append(call.result))

    gic.set_attr(CTRL, INIT)

    assert before == [True]
    assert after == [0]
