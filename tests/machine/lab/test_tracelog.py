"""kvmtrace's log read back, and printed exactly as ``virtmodel run`` prints."""

from __future__ import annotations

import pytest

from virtmodel.machine.kvm.calls import KvmCall
from virtmodel.machine.lab.tracelog import TracedCall, parse_trace_log

# Lines as kvmtrace.so wrote them for real QEMU 7.2 (-M virt,its=on -smp 2
# -cpu host) under Debian's 6.1 kernel, trimmed.
LOG = """\
sys KVM_GET_API_VERSION ret=12 errno=0
sys KVM_CHECK_EXTENSION arg=165 ret=48 errno=0
sys KVM_CREATE_VM type=0x28 ret=9 errno=0
vm0 KVM_CREATE_DEVICE type=7 flags=1 ret=0 errno=0
vm0 KVM_CREATE_DEVICE type=5 flags=1 ret=-1 errno=19
sys KVM_CREATE_VM type=0x30 ret=11 errno=0
vm1 KVM_CREATE_VCPU arg=0 ret=12 errno=0
vm1 KVM_ARM_PREFERRED_TARGET target=5 ret=0 errno=0
vm1.vcpu0 KVM_ARM_VCPU_INIT target=5 features=0x78 ret=0 errno=0
vm1.vcpu0 ONE_REG dir=get count=33 failed=0
vm0 KVM_CREATE_VCPU arg=0 ret=10 errno=0
vm0.vcpu0 KVM_ARM_VCPU_INIT target=5 features=0x7c ret=0 errno=0
vm0 KVM_CREATE_DEVICE type=7 flags=0 fd=12 ret=0 errno=0
vm0.vgic-v3 KVM_HAS_DEVICE_ATTR flags=0 group=0 attr=0x5 ret=0 errno=0
vm0.vgic-v3 KVM_SET_DEVICE_ATTR flags=0 group=3 attr=0x0 value=0x120 ret=0 errno=0
vm0.vgic-v3 KVM_SET_DEVICE_ATTR flags=0 group=4 attr=0x0 addr=NULL ret=0 errno=0
vm0 KVM_SET_GSI_ROUTING nr=4 flags=0 entries=0:irqchip:0:0,1:irqchip:0:1,2:irqchip:0:2,7:msi:0x8090040:0x0:0x5:0x8:1 ret=0 errno=0
vm0 KVM_CREATE_DEVICE type=8 flags=0 fd=13 ret=0 errno=0
vm0.its KVM_SET_DEVICE_ATTR flags=0 group=4 attr=0x0 addr=NULL ret=0 errno=0
vm0.vcpu0 KVM_SET_DEVICE_ATTR flags=0 group=0 attr=0x0 value=0x17 ret=0 errno=0
vm0.vcpu0 KVM_SET_DEVICE_ATTR flags=0 group=0 attr=0x1 addr=NULL ret=0 errno=0
vm0.vcpu0 ONE_REG dir=set count=344 failed=2
vm0.its KVM_SET_DEVICE_ATTR flags=0 group=0 attr=0x4 value=0x8080000 ret=0 errno=0
vm0.vgic-v3 KVM_SET_DEVICE_ATTR flags=0 group=0 attr=0x5 value=0x200000080a0000 ret=0 errno=0
vm0.vgic-v3 KVM_SET_DEVICE_ATTR flags=0 group=0 attr=0x2 value=0x8000000 ret=0 errno=0
vm0.its KVM_SET_DEVICE_ATTR flags=0 group=4 attr=0x4 addr=NULL ret=0 errno=0
vm0.vgic-v3 KVM_GET_DEVICE_ATTR flags=0 group=1 attr=0x4 value=0xaaaa read=0x7a0008 ret=0 errno=0
vm0.vgic-v3 KVM_SET_DEVICE_ATTR flags=0 group=5 attr=0x100000014 value=0x6 ret=0 errno=0
vm0.vgic-v3 KVM_SET_DEVICE_ATTR flags=0 group=2 attr=0x0 value=0x0 ret=-1 errno=6
vm0.its KVM_CREATE_DEVICE type=8 flags=0 fd=14 ret=0 errno=0
"""

EXPECTED = """\
KVM_GET_API_VERSION(kvm) = 12
KVM_CHECK_EXTENSION(kvm, KVM_CAP_ARM_VM_IPA_SIZE) = 48
KVM_CREATE_VM(vm, type=40, fd=9) = 0
KVM_CREATE_DEVICE(vgic-v3, KVM_CREATE_DEVICE_TEST, 7) = 0
KVM_CREATE_DEVICE(vgic-v2, KVM_CREATE_DEVICE_TEST, 5) -> ENODEV
KVM_CREATE_VM(vm, type=48, fd=11) = 0
KVM_CREATE_VCPU(vcpu0, 0) = 0
KVM_ARM_PREFERRED_TARGET(vm) = 5
KVM_ARM_VCPU_INIT(vcpu0, features=0x78, target=5) = 0
KVM_GET_ONE_REG(vcpu0) x 33 = 0
KVM_CREATE_VCPU(vcpu0, 0) = 0
KVM_ARM_VCPU_INIT(vcpu0, features=0x7c, target=5) = 0
KVM_CREATE_DEVICE(vgic-v3, 7) = 0
KVM_HAS_DEVICE_ATTR(vgic-v3, GRP_ADDR, VGIC_V3_ADDR_TYPE_REDIST_REGION) = 0
KVM_SET_DEVICE_ATTR(vgic-v3, GRP_NR_IRQS, 0, 288) = 0
KVM_SET_DEVICE_ATTR(vgic-v3, GRP_CTRL, CTRL_INIT, NULL) = 0
KVM_SET_GSI_ROUTING(vm, 4 entries: gsi 0-2 irqchip 0 pin 0-2, 1 msi) = 0
KVM_CREATE_DEVICE(its, 8) = 0
KVM_SET_DEVICE_ATTR(its, GRP_CTRL, CTRL_INIT, NULL) = 0
KVM_SET_DEVICE_ATTR(vcpu0, PMU_V3_CTRL, PMU_V3_IRQ, 23) = 0
KVM_SET_DEVICE_ATTR(vcpu0, PMU_V3_CTRL, PMU_V3_INIT, NULL) = 0
KVM_SET_ONE_REG(vcpu0, failed=2) x 344 = 0
KVM_SET_DEVICE_ATTR(its, GRP_ADDR, VGIC_ITS_ADDR_TYPE, 0x08080000) = 0
KVM_SET_DEVICE_ATTR(vgic-v3, GRP_ADDR, VGIC_V3_ADDR_TYPE_REDIST_REGION, 0x200000080a0000 {base=0x080a0000, count=2, index=0}) = 0
KVM_SET_DEVICE_ATTR(vgic-v3, GRP_ADDR, VGIC_V3_ADDR_TYPE_DIST, 0x08000000) = 0
KVM_SET_DEVICE_ATTR(its, GRP_CTRL, ITS_CTRL_RESET, NULL) = 0
KVM_GET_DEVICE_ATTR(vgic-v3, GRP_DIST_REGS, GICD_TYPER(mpidr=0x00000000), 0x0000aaaa) = 0x007a0008
KVM_SET_DEVICE_ATTR(vgic-v3, GRP_REDIST_REGS, 0x0014(mpidr=0x00000001), 0x00000006) = 0
KVM_SET_DEVICE_ATTR(vgic-v3, GRP_CPU_REGS, GICC_CTLR(mpidr=0x00000000), 0x00000000) -> ENXIO
KVM_CREATE_DEVICE(its1, 8) = 0
"""


def test_the_log_reads_back_in_virtmodel_notation():
    calls = parse_trace_log(LOG.splitlines())
    assert [str(call) for call in calls] == EXPECTED.splitlines()
    assert [call.seq for call in calls] == list(range(len(calls)))


def test_records_carry_the_vm_and_the_decoded_fields():
    calls = parse_trace_log(LOG.splitlines())
    assert [c.vm for c in calls[:3]] == [None, None, 0]
    assert calls[5].vm == 1
    assert calls[6].vm == 1
    assert calls[10].vm == 0
    get = calls[26]
    assert (get.ioctl, get.device, get.group, get.value, get.result) == (
        "KVM_GET_DEVICE_ATTR", "vgic-v3", "GRP_DIST_REGS", 0xAAAA, 0x7A0008,
    )  # fmt: skip
    failed = calls[28]
    assert (failed.ok, failed.errno, failed.result) == (False, 6, None)
    one_reg = calls[21]
    assert (one_reg.count, one_reg.ioctl) == (344, "KVM_SET_ONE_REG")
    assert calls[1].probe
    assert calls[0].probe
    assert not calls[2].probe


@pytest.mark.parametrize(
    "call",
    [
        KvmCall(
            0, "KVM_CREATE_VCPU", "vcpu1", None, None, 1, "kvm.vcpu.create", result=0
        ),
        KvmCall(
            0,
            "KVM_CREATE_DEVICE",
            "vgic-v3",
            None,
            None,
            7,
            "kvm.vgic.create",
            result=0,
        ),
        KvmCall(
            0,
            "KVM_CREATE_DEVICE",
            "its",
            None,
            "KVM_CREATE_DEVICE_TEST",
            8,
            "r",
            result=0,
        ),
        KvmCall(
            0, "KVM_SET_DEVICE_ATTR", "vgic-v3", "GRP_NR_IRQS", "0", 288, "r", result=0
        ),
        KvmCall(
            0,
            "KVM_SET_DEVICE_ATTR",
            "its",
            "GRP_CTRL",
            "CTRL_INIT",
            None,
            "r",
            result=0,
        ),
        KvmCall(
            0,
            "KVM_SET_DEVICE_ATTR",
            "its",
            "GRP_ADDR",
            "VGIC_ITS_ADDR_TYPE",
            0x8080000,
            "r",
            result=0,
        ),
        KvmCall(
            0,
            "KVM_HAS_DEVICE_ATTR",
            "vgic-v3",
            "GRP_ADDR",
            "VGIC_V3_ADDR_TYPE_DIST",
            None,
            "r",
            result=0,
        ),
        KvmCall(
            0,
            "KVM_GET_DEVICE_ATTR",
            "vgic-v3",
            "GRP_REDIST_REGS",
            "GICR_TYPER(mpidr=0x00000001)",
            0,
            "r",
            result=0x100000110,
        ),
        KvmCall(
            0, "KVM_GET_DEVICE_ATTR", "vgic-v3", "GRP_NR_IRQS", "0", 0, "r", result=64
        ),
        KvmCall(0, "KVM_RUN", "vcpu0", None, None, None, "kvm.vcpu.run", result=0),
    ],
)
def test_spelling_is_the_simulators_for_the_calls_it_has(call):
    traced = TracedCall(
        seq=0, vm=0, ioctl=call.ioctl, device=call.device, group=call.group,
        attr=call.attr, value=call.value, result=call.result, errno=None,
    )  # fmt: skip
    assert str(traced) == str(call)
    assert traced.head() == call.head()


def test_failures_name_the_errno_without_a_made_up_reason():
    traced = TracedCall(0, 0, "KVM_CREATE_DEVICE", "vgic-v2", None, None, 5, None, 19)
    assert str(traced) == "KVM_CREATE_DEVICE(vgic-v2, 5) -> ENODEV"


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("sys", "too short"),
        ("nobody KVM_RUN ret=0 errno=0", "role 'nobody' is unknown"),
        ("vm0 KVM_RUN garbage ret=0 errno=0", "'garbage' is not key=value"),
    ],
)
def test_malformed_lines_are_refused(line, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_trace_log([line])


def test_less_common_calls_get_consistent_spellings():
    log = [
        "sys KVM_GET_VCPU_MMAP_SIZE ret=4096 errno=0",
        "sys KVM_CREATE_VM type=0x31 ret=-1 errno=22",
        "sys KVM_CREATE_VM type=0x0 ret=9 errno=0",
        "vm0 KVM_SET_GSI_ROUTING nr=0 flags=0 entries= ret=0 errno=0",
        "vm0 KVM_SET_GSI_ROUTING nr=4 flags=0 entries=0:irqchip:0:0,1:irqchip:0:5,"
        "2:type9,3:msi:0x0:0x0:0x0:0x0:0 ret=0 errno=0",
        "vm0 KVM_CREATE_DEVICE type=10 flags=0 fd=10 ret=0 errno=0",
        "vm0.device-type-10 KVM_SET_DEVICE_ATTR flags=0 group=0 attr=0x0 value=0x1 ret=-1 errno=6",
        "vm0 KVM_CREATE_DEVICE type=8 flags=0 fd=11 ret=0 errno=0",
        "vm0.its KVM_GET_DEVICE_ATTR flags=0 group=8 attr=0x80 value=0x0 read=0x1 ret=0 errno=0",
        "vm0.its KVM_HAS_DEVICE_ATTR flags=0 group=7 attr=0x3 ret=-1 errno=6",
        "vm0.vcpu0 KVM_SET_DEVICE_ATTR flags=1 group=0 attr=0x2 addr=opaque ret=-1 errno=22",
        "vm0.vcpu0 KVM_HAS_DEVICE_ATTR flags=0 group=9 attr=0x0 ret=-1 errno=6",
        "vm0.vgic-v3 KVM_SET_DEVICE_ATTR flags=0 group=9 attr=0x0 value=0x19 ret=-1 errno=6",
        "vm0.vcpu0 KVM_RUN ret=-1 errno=4",
        "fd KVM_IRQFD gsi=3 flags=0 ret=0 errno=0",
        "vm0.vcpu0 0x4004aeff ret=-1 errno=25",
    ]
    assert [str(c) for c in parse_trace_log(log)] == [
        "KVM_GET_VCPU_MMAP_SIZE(kvm) = 4096",
        "KVM_CREATE_VM(vm, type=49) -> EINVAL",
        "KVM_CREATE_VM(vm, type=0, fd=9) = 0",
        "KVM_SET_GSI_ROUTING(vm, 0 entries) = 0",
        "KVM_SET_GSI_ROUTING(vm, 4 entries: gsi 0 irqchip 0 pin 0, gsi 1 irqchip 0 pin 5, 1 msi, 1 type9) = 0",
        "KVM_CREATE_DEVICE(device-type-10, 10) = 0",
        "KVM_SET_DEVICE_ATTR(device-type-10, GRP_ADDR, VGIC_V2_ADDR_TYPE_DIST, 0x00000001) -> ENXIO",
        "KVM_CREATE_DEVICE(its, 8) = 0",
        "KVM_GET_DEVICE_ATTR(its, GRP_ITS_REGS, 0x0080, 0x00000000) = 0x00000001",
        "KVM_HAS_DEVICE_ATTR(its, GRP_LEVEL_INFO, 3) -> ENXIO",
        "KVM_SET_DEVICE_ATTR(vcpu0, PMU_V3_CTRL, PMU_V3_FILTER, flags=nonzero, addr=opaque) -> EINVAL",
        "KVM_HAS_DEVICE_ATTR(vcpu0, group 9, 0) -> ENXIO",
        "KVM_SET_DEVICE_ATTR(vgic-v3, GRP_MAINT_IRQ, 0, 25) -> ENXIO",
        "KVM_RUN(vcpu0) -> EINTR",
        "KVM_IRQFD(fd, gsi=3, flags=0) = 0",
        "0x4004aeff(vcpu0) -> ENOTTY",
    ]


def test_vm_set_up_calls_read_as_the_simulator_records_them():
    from virtmodel.machine import kvm

    log = [
        "sys KVM_CREATE_VM type=0x28 ret=11 errno=0",
        "vm0 KVM_ENABLE_CAP cap=168 flags=0 args=0x3,0x0 ret=0 errno=0",
        "vm0 KVM_IOEVENTFD addr=0x0 len=2 flags=0x3 datamatch=0x6 ret=0 errno=0",
    ]
    traced = [str(call) for call in parse_trace_log(log)[1:]]
    vm = kvm.create_vm()
    vm.enable_cap(168, 3)
    vm.ioeventfd(vm.eventfd(), 0, 2, 3, 6)
    assert traced == [str(call) for call in vm.calls]


def test_capabilities_print_by_name_and_an_unknown_one_by_number():
    log = [
        "sys KVM_CHECK_EXTENSION arg=136 ret=1 errno=0",
        "sys KVM_CHECK_EXTENSION arg=4095 ret=0 errno=0",
        "sys KVM_CREATE_VM type=0x28 ret=11 errno=0",
        "vm0 KVM_ENABLE_CAP cap=177 flags=0 args=0x0,0x0 ret=0 errno=0",
    ]
    assert [str(call) for call in parse_trace_log(log)] == [
        "KVM_CHECK_EXTENSION(kvm, KVM_CAP_IMMEDIATE_EXIT) = 1",
        "KVM_CHECK_EXTENSION(kvm, 4095) = 0",
        "KVM_CREATE_VM(vm, type=40, fd=11) = 0",
        "KVM_ENABLE_CAP(vm, KVM_CAP_ARM_NISV_TO_USER, flags=0, args=0x0,0x0) = 0",
    ]
