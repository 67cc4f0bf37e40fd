"""Device calls: the part of a KVM trace virtmodel reproduces call for call.

Real QEMU's trace (:class:`~virtmodel.machine.lab.tracelog.TracedCall`) and
``virtmodel run``'s (:class:`~virtmodel.machine.kvm.KvmCall`) are brought to
one spelling, one line per call, and compared as lists. A *device call* is
one of :data:`DEVICE_IOCTLS` on the machine's VM: the VM's creation and
type, its set-up (KVM_ENABLE_CAP with capability, flags and arguments; the
KVM_IOEVENTFD probe with address, length, flags and datamatch), vCPU
creation, init (with features) and finalization, every create device (TEST
probes included), every set/get/has attribute on the vGIC, the ITS and the
vCPUs, the GSI routing table, and every memory slot (base, slot number,
flags, size).

Left out, and said so in docs/kvm.md: the per-register KVM_GET/SET_ONE_REG
flood and KVM_GET_REG_LIST (QEMU's copy of the CPU registers), vCPU events
and MP state, capability probes, KVM_ARM_PREFERRED_TARGET, the scratch VMs
of ``-cpu host``, and KVM_RUN (QEMU under ``-S`` never runs). The input buffer of a
KVM_GET_DEVICE_ATTR is left out too: QEMU passes whatever its variable held.

Line spelling: ``IOCTL(device[, group, attr][, key=value]) = result`` or
``-> ERRNO``; numbers in hex, VM calls on ``vm``; a memory slot is
``KVM_SET_USER_MEMORY_REGION(vm, 0x40000000, slot=2, flags=0,
size=0x10000000) = 0``.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm.calls import KvmCall
from virtmodel.machine.lab.tracelog import TracedCall

if TYPE_CHECKING:
    from virtmodel.machine.kvm.eras import SemanticsName
    from virtmodel.machine.machine import Machine
    from virtmodel.machine.notifier_modes import NotifierMode

__all__ = [
    "DEVICE_IOCTLS",
    "boot_virtmodel",
    "from_kvm_calls",
    "from_traced_calls",
    "line_diff",
    "virtmodel_device_calls",
]

#: The ioctls compared.
DEVICE_IOCTLS: Final = frozenset(
    {
        "KVM_CREATE_VM",
        "KVM_ENABLE_CAP",
        "KVM_IOEVENTFD",
        "KVM_CREATE_VCPU",
        "KVM_ARM_VCPU_INIT",
        "KVM_ARM_VCPU_FINALIZE",
        "KVM_CREATE_DEVICE",
        "KVM_SET_DEVICE_ATTR",
        "KVM_GET_DEVICE_ATTR",
        "KVM_HAS_DEVICE_ATTR",
        "KVM_SET_GSI_ROUTING",
        "KVM_SET_USER_MEMORY_REGION",
    }
)


def _line(
    ioctl: str,
    device: str,
    group: str | None,
    attr: str | None,
    argument: str | None,
    result: int | None,
    errno: int | None,
) -> str:
    if device.startswith("vm"):
        device = "vm"
    parts = [device, *(p for p in (group, attr) if p is not None)]
    if argument is not None:
        parts.append(argument)
    head = f"{ioctl}({', '.join(parts)})"
    if errno is not None:
        return f"{head} -> {c.errno_name(errno)}"
    return (
        f"{head} = 0x{result or 0:x}"
        if ioctl == "KVM_GET_DEVICE_ATTR"
        else f"{head} = 0"
    )


def _argument(
    ioctl: str, value: int | None, attr: str | None, more: str | None = None
) -> str | None:
    if ioctl == "KVM_SET_USER_MEMORY_REGION":
        # The base, then slot, flags and size as both records spell them.
        return f"0x{value or 0:x}, {more}"
    if ioctl == "KVM_ENABLE_CAP":
        return f"cap={value}, {more}"  # the capability by number, as captured
    if ioctl == "KVM_IOEVENTFD":
        return more  # every argument, as both records spell them
    if ioctl == "KVM_CREATE_VM":
        return f"type={value}"
    if ioctl == "KVM_ARM_VCPU_INIT":
        return f"features=0x{value or 0:x}"
    if ioctl == "KVM_ARM_VCPU_FINALIZE":
        return f"what={value}"
    if ioctl == "KVM_CREATE_DEVICE":
        return "TEST" if attr == "KVM_CREATE_DEVICE_TEST" else None
    if ioctl == "KVM_SET_DEVICE_ATTR":
        return "NULL" if value is None else f"0x{value:x}"
    return None


def from_traced_calls(calls: Iterable[TracedCall]) -> list[str]:
    """Return the device calls of real QEMU's machine VM, one line each."""
    lines = []
    for call in calls:
        if call.ioctl not in DEVICE_IOCTLS:
            continue
        extra = dict(call.extra)
        value = call.value
        # The tracer records VCPU_INIT's features and FINALIZE's feature as
        # the call's value; older logs carried them as key=value.
        if call.ioctl == "KVM_ARM_VCPU_INIT" and "features" in extra:
            value = int(extra["features"], 16)
        elif call.ioctl == "KVM_ARM_VCPU_FINALIZE" and "what" in extra:
            value = int(extra["what"])
        # The create's TEST flag becomes the argument; the routing summary
        # stands where the simulator keeps it, in the attr.
        attr = {"KVM_CREATE_DEVICE": None, "KVM_SET_GSI_ROUTING": extra.get("")}.get(
            call.ioctl, call.attr
        )
        more = ", ".join(f"{key}={text}" for key, text in call.extra)
        argument = _argument(call.ioctl, value, call.attr, more)
        lines.append(
            _line(
                call.ioctl,
                call.device,
                call.group,
                attr,
                argument,
                call.result,
                call.errno,
            )
        )
    return lines


def from_kvm_calls(calls: Iterable[KvmCall]) -> list[str]:
    """Return the device calls the simulated kernel received, one line each."""
    lines = []
    for call in calls:
        if call.ioctl not in DEVICE_IOCTLS:
            continue
        argument = _argument(call.ioctl, call.value, call.attr, call.args)
        attr = None if call.ioctl == "KVM_CREATE_DEVICE" else call.attr
        lines.append(
            _line(
                call.ioctl,
                call.device,
                call.group,
                attr,
                argument,
                call.result,
                call.errno,
            )
        )
    return lines


def boot_virtmodel(
    qemu_args: Sequence[str],
    *,
    kernel: SemanticsName = "v6.1",
    notifiers: NotifierMode = "qemu-lifo",
) -> Machine:
    """Boot virtmodel's virt on QEMU's ``-M/-smp/-m/-cpu`` arguments under KVM.

    ``-object`` (memory backends) and ``-numa`` are taken too, read as the
    command line reads them. Other arguments (the lab's fixed ``-accel kvm
    -S ...``) are skipped. The boot may fail part way; the machine keeps
    what it did.

    Raises:
        ConfigError: The machine options are bad.
    """
    from virtmodel.machine.boards.virt.board import boot_virt, create_virt
    from virtmodel.machine.boards.virt.cmdline import (
        config_from_command_line,
        parse_argv,
        read_command_line,
    )
    from virtmodel.machine.boards.virt.config import config_from_options
    from virtmodel.machine.errors import MachineFailedError

    options: dict[str, Any] = {}
    names = {"-M": "machine", "-machine": "machine", "-smp": "smp", "-m": "memory",
             "-cpu": "cpu"}  # fmt: skip
    words = list(qemu_args)
    kept: list[str] = []
    for option, value in zip(words, [*words[1:], ""], strict=True):
        if option in names:
            options[names[option]] = value
        if option in (*names, "-object", "-numa"):
            kept += [option, value]
    if "-numa" in kept:
        line = read_command_line(parse_argv([*kept, "-accel", "kvm"]))
        config = config_from_command_line(line, images=False)
    else:
        config = config_from_options(accel="kvm", **options)
    machine = create_virt(config, kernel_semantics=kernel, notifiers=notifiers)
    with contextlib.suppress(MachineFailedError):  # the calls up to it count
        boot_virt(machine)
    return machine


def virtmodel_device_calls(
    qemu_args: Sequence[str],
    *,
    kernel: SemanticsName = "v6.1",
    notifiers: NotifierMode = "qemu-lifo",
) -> list[str]:
    """Return the device calls of :func:`boot_virtmodel` on *qemu_args*.

    Raises:
        ConfigError: The machine options are bad.
    """
    machine = boot_virtmodel(qemu_args, kernel=kernel, notifiers=notifiers)
    return from_kvm_calls(machine.accel.vm.calls)  # type: ignore[attr-defined]


def line_diff(
    expected: Sequence[str], actual: Sequence[str], *, context: int = 3
) -> str:
    """Return a unified diff of two device-call lists, numbered by call."""
    return "\n".join(
        difflib.unified_diff(
            list(expected),
            list(actual),
            "real QEMU",
            "virtmodel",
            n=context,
            lineterm="",
        )
    )
