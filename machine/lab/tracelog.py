"""Read kvmtrace.so's log into records printed in virtmodel's trace notation.

A log line is ``<ROLE> <IOCTL> [key=value ...] ret=<r> errno=<e>`` (see
``guest/kvmtrace.c``); a run of per-register calls is one line
``<ROLE> ONE_REG dir=set|get count=<n> failed=<m>``.

:class:`TracedCall` mirrors :class:`~virtmodel.machine.kvm.calls.KvmCall`:
the same fields, and ``str()`` spells a call exactly as ``virtmodel run``
does (``KVM_SET_DEVICE_ATTR(vgic-v3, GRP_ADDR, VGIC_V3_ADDR_TYPE_DIST,
0x08000000) = 0``), so the two can be diffed. Where the simulator has no
record, or the real call carries more than its record holds, the spelling
extends it in the same style:

- ``KVM_CREATE_VM(vm, type=40, fd=9) = 0``: the type argument (the IPA size, 0
  for the default). VM-level calls are on ``vm``, as in the simulator; the
  record's ``vm`` counts the VMs the process created, QEMU's ``-cpu host``
  scratch VMs included.
- ``KVM_ARM_VCPU_INIT(vcpu0, features=0x7c, target=5) = 0`` (the features, as the
  simulator's record), ``KVM_ARM_PREFERRED_TARGET(vm) = 5``,
  ``KVM_SET_USER_MEMORY_REGION(vm, 0x40000000, slot=2, flags=0,
  size=0x10000000) = 0`` (the base, as the simulator's record).
- ``KVM_SET_GSI_ROUTING(vm, 256 entries: gsi 0-255 irqchip 0 pin 0-255) = 0``.
- ``KVM_ENABLE_CAP(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, flags=0, args=0x3,0x0) = 0``
  (capabilities by their UAPI name, a number the table lacks as the number) and
  ``KVM_IOEVENTFD(vm, addr=0x0, len=2, flags=0x3, datamatch=0x0) = 0``:
  every field the tracer prints, as the simulator's record spells it.
- ``KVM_SET_ONE_REG(vcpu0) x 57 = 0``: a run of 57 register writes.
- Anything else: ``IOCTL(device, key=value, ...) = ret``.

Creates report ``= 0`` on success (the new fd is in ``extra``), as the
simulator does; failures are ``-> ENAME``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm import uapi
from virtmodel.machine.kvm.calls import KvmCall
from virtmodel.machine.kvm.registers import register_attr_name
from virtmodel.machine.kvm.routing import Route, summarize_routes

__all__ = ["PROBES", "TracedCall", "parse_trace_log"]

#: Capability and size probes: printed only on request.
PROBES: Final = frozenset(
    {"KVM_CHECK_EXTENSION", "KVM_GET_API_VERSION", "KVM_GET_VCPU_MMAP_SIZE"}
)
_ROLE: Final = re.compile(r"^(sys|fd|vm(\d+)(?:\.(.+))?)$")
_REG_GROUPS: Final = frozenset({1, 2, 5, 6, 7})


@dataclass(frozen=True, slots=True)
class TracedCall:
    """One real ioctl of a traced QEMU (or a run of per-register ones)."""

    #: Position in the trace (0-based).
    seq: int
    #: The VM it belongs to (index in creation order), None for /dev/kvm.
    vm: int | None
    #: The ioctl, e.g. ``"KVM_SET_DEVICE_ATTR"``.
    ioctl: str
    #: Label as the simulator spells it: ``vgic-v3``, ``its``, ``vcpu0``,
    #: ``vm1``, ``kvm`` (the system fd).
    device: str
    #: Attribute group by UAPI name, None for non-attribute calls.
    group: str | None
    #: Attribute by UAPI name (or the CREATE_DEVICE TEST flag), or None.
    attr: str | None
    #: The input value (None: a NULL pointer, or no value).
    value: int | None
    #: The value returned (0 for a plain success, the value read for gets).
    result: int | None
    #: The errno on failure.
    errno: int | None
    #: Further decoded arguments, printed ``key=value`` after the others.
    extra: tuple[tuple[str, str], ...] = ()
    #: How many calls this record stands for (a ONE_REG run).
    count: int = 1
    #: The tracer's line.
    raw: str = ""

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.errno is None

    @property
    def probe(self) -> bool:
        """Whether the call only asks the kernel what it supports."""
        return self.ioctl in PROBES

    def head(self) -> str:
        """Return ``IOCTL(device, group, attr)``, as ``KvmCall.head`` does."""
        parts = [self.device]
        parts += [p for p in (self.group, self.attr) if p is not None]
        return f"{self.ioctl}({', '.join(parts)})"

    def __str__(self) -> str:
        # KvmCall spells the common part, so both traces always agree on it;
        # what the simulator has no field for is added around it.
        text = str(
            KvmCall(
                seq=self.seq, ioctl=self.ioctl, device=self.device,
                group=self.group, attr=self.attr, value=self.value, resource="",
                result=self.result, errno=self.errno,
            )
        )  # fmt: skip
        if self.errno is not None:
            text = text.removesuffix(" (None)")  # the kernel gives no reason
        cut = max(text.rfind(") = "), text.rfind(") -> "))
        args, outcome = text[:cut], text[cut + 1 :]
        if any(key == "addr" for key, _ in self.extra):
            args = args.removesuffix(", NULL")  # a pointer, just not a value
        args += "".join(
            f", {key}={value}" if key else f", {value}" for key, value in self.extra
        )
        count = f" x {self.count}" if self.count != 1 else ""
        return f"{args}){count}{outcome}"


def _fields(words: list[str]) -> dict[str, str]:
    fields = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            msg = f"kvmtrace field {word!r} is not key=value"
            raise ValueError(msg)
        fields[key] = value
    return fields


def _device_label(type_id: int, its_seen: int) -> str:
    if type_id == c.KVM_DEV_TYPE_ARM_VGIC_V2:
        return "vgic-v2"
    if type_id == c.KVM_DEV_TYPE_ARM_VGIC_V3:
        return "vgic-v3"
    if type_id == c.KVM_DEV_TYPE_ARM_VGIC_ITS:
        return f"its{its_seen}" if its_seen else "its"
    return f"device-type-{type_id}"


def _attr_names(device: str, group: int, attr: int) -> tuple[str, str]:
    if device.startswith("vcpu"):
        return (
            uapi.VCPU_GROUP_NAMES.get(group, f"group {group}"),
            uapi.VCPU_ATTR_NAMES.get((group, attr), str(attr)),
        )
    name = c.group_name(group)
    if group == c.KVM_DEV_ARM_VGIC_GRP_ADDR:
        return name, c.ADDR_NAMES.get(attr, str(attr))
    if group == c.KVM_DEV_ARM_VGIC_GRP_CTRL:
        return name, c.CTRL_NAMES.get(attr, str(attr))
    if device.startswith("its"):
        if group == c.KVM_DEV_ARM_VGIC_GRP_ITS_REGS:
            return name, f"0x{attr:04x}"
        return name, str(attr)
    if device.startswith("vgic") and group in _REG_GROUPS:
        return name, register_attr_name(device == "vgic-v3", group, attr)
    return name, str(attr)


def _routing(entries: str) -> str:
    """Summarize the tracer's routing entries as :func:`summarize_routes` does."""
    routes = []
    for item in entries.split(",") if entries else ():
        fields = item.split(":")
        if fields[1] == "irqchip":
            routes.append(
                Route(int(fields[0]), "irqchip", int(fields[2]), int(fields[3]))
            )
        else:
            routes.append(Route(int(fields[0]), fields[1]))
    return summarize_routes(routes)


class _Reader:
    """Turns log lines into TracedCalls, tracking VMs and device labels."""

    def __init__(self) -> None:
        self.vms = 0
        self.its: dict[int, int] = {}
        self.calls: list[TracedCall] = []

    def line(self, text: str) -> None:
        words = text.split()
        if len(words) < 2:
            msg = f"kvmtrace line {text!r} is too short"
            raise ValueError(msg)
        role, name, fields = words[0], words[1], _fields(words[2:])
        match = _ROLE.match(role)
        if match is None:
            msg = f"kvmtrace role {role!r} is unknown"
            raise ValueError(msg)
        vm = int(match.group(2)) if match.group(2) is not None else None
        # "fd": a KVM call on an fd no create call returned (not seen here).
        system = "kvm" if role == "sys" else "fd"
        # VM-level calls are on "vm", as the simulator labels them; which VM
        # is in the record's ``vm`` (and in print_traces' "# vmN" lines).
        device = match.group(3) or ("vm" if vm is not None else system)
        if name == "ONE_REG":
            self._one_reg(vm, device, fields, text)
            return
        ret, err = int(fields.pop("ret")), int(fields.pop("errno"))
        call: dict[str, Any] = {
            "seq": len(self.calls), "vm": vm, "ioctl": name, "device": device,
            "group": None, "attr": None, "value": None,
            "result": None if err else 0, "errno": err or None, "raw": text,
        }  # fmt: skip
        extra = self._decode(name, fields, call, ret)
        self.calls.append(TracedCall(**call, extra=tuple(extra)))

    def _one_reg(
        self, vm: int | None, device: str, fields: dict[str, str], text: str
    ) -> None:
        failed = int(fields["failed"])
        ioctl = "KVM_SET_ONE_REG" if fields["dir"] == "set" else "KVM_GET_ONE_REG"
        self.calls.append(
            TracedCall(
                seq=len(self.calls), vm=vm, ioctl=ioctl,
                device=device, group=None, attr=None, value=None, result=0,
                errno=None, count=int(fields["count"]), raw=text,
                extra=(("failed", str(failed)),) if failed else (),
            )
        )  # fmt: skip

    def _decode(
        self, name: str, fields: dict[str, str], call: dict[str, Any], ret: int
    ) -> list[tuple[str, str]]:
        extra: list[tuple[str, str]] = []
        ok = call["errno"] is None
        if name == "KVM_CREATE_VM":
            call["value"] = int(fields.pop("type"), 16)
            call["device"] = "vm"
            call["vm"] = self.vms
            if ok:
                extra.append(("fd", str(ret)))
                self.vms += 1
        elif name == "KVM_CREATE_VCPU":
            vcpu = int(fields.pop("arg"))
            call["device"], call["value"] = f"vcpu{vcpu}", vcpu
        elif name == "KVM_CREATE_DEVICE":
            type_id, flags = int(fields.pop("type")), int(fields.pop("flags"))
            vm = call["vm"] if isinstance(call["vm"], int) else -1
            test = bool(flags & c.KVM_CREATE_DEVICE_TEST)
            seen = self.its.get(vm, 0)
            call["device"] = _device_label(type_id, seen)
            call["value"] = type_id
            call["attr"] = "KVM_CREATE_DEVICE_TEST" if test else None
            fields.pop("fd", None)
            if ok and not test and type_id == c.KVM_DEV_TYPE_ARM_VGIC_ITS:
                self.its[vm] = seen + 1
        elif name in (
            "KVM_SET_DEVICE_ATTR",
            "KVM_GET_DEVICE_ATTR",
            "KVM_HAS_DEVICE_ATTR",
        ):
            group, attr = int(fields.pop("group")), int(fields.pop("attr"), 16)
            call["group"], call["attr"] = _attr_names(str(call["device"]), group, attr)
            if fields.pop("flags", "0") != "0":
                extra.append(("flags", "nonzero"))
            if "value" in fields:
                call["value"] = int(fields.pop("value"), 16)
            if fields.pop("addr", None) == "opaque":
                extra.append(("addr", "opaque"))
            if "read" in fields:
                call["result"] = int(fields.pop("read"), 16)
        elif name == "KVM_SET_GSI_ROUTING":
            fields.pop("nr")
            fields.pop("flags", None)
            # An unnamed extra: printed as is.
            extra.append(("", _routing(fields.pop("entries", ""))))
        elif name == "KVM_ARM_PREFERRED_TARGET" and ok:
            call["result"] = int(fields.pop("target"))
        elif name == "KVM_ARM_VCPU_INIT":
            call["value"] = int(fields.pop("features"), 16)
        elif name == "KVM_SET_USER_MEMORY_REGION":
            call["value"] = int(fields.pop("gpa"), 16)
        elif name == "KVM_ENABLE_CAP":
            call["value"] = int(fields.pop("cap"))
        elif name == "KVM_CHECK_EXTENSION":
            call["value"] = int(fields.pop("arg"))
            if ok:
                call["result"] = ret
        elif name in ("KVM_GET_API_VERSION", "KVM_GET_VCPU_MMAP_SIZE") and ok:
            call["result"] = ret
        extra += list(fields.items())
        return extra


def parse_trace_log(lines: list[str]) -> list[TracedCall]:
    """Return the calls of a kvmtrace log, in log order.

    Raises:
        ValueError: A line does not have the tracer's shape.
    """
    reader = _Reader()
    for text in lines:
        # '#' lines are the guest job's markers, not calls.
        if text.strip() and not text.startswith("#"):
            reader.line(text.strip())
    return reader.calls
