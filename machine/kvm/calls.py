"""Recording of simulated ioctls, and observers that may veto them.

Every call a VM receives becomes one frozen :class:`KvmCall` in
``vm.calls``, in the order the calls were made. Observers see each call
twice: ``before`` gets the pending record (no result) and may raise to
refuse it -- a refused call never reaches the kernel model and is not
recorded -- and ``after`` gets the finished record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, final

from virtmodel.machine.kvm.constants import errno_name
from virtmodel.machine.kvm.encoding import decode_redist_region
from virtmodel.machine.kvm.errors import KvmError, Refusal
from virtmodel.machine.kvm.resource_names import RESOURCES
from virtmodel.machine.kvm.uapi import CAPABILITY_NAMES

__all__ = ["RESOURCES", "CallLog", "KvmCall", "Observer", "memory_region_args"]

#: Observer callback type.
Observer = Callable[["KvmCall"], None]


@final
@dataclass(frozen=True, slots=True)
class KvmCall:
    """One simulated ioctl: what was asked, what it touched, how it ended.

    ``result`` and ``errno`` are both None while the call is pending (as
    ``before`` observers see it); afterwards exactly one is set.
    """

    #: Position in ``vm.calls`` (0-based).
    seq: int
    #: The ioctl, e.g. ``"KVM_SET_DEVICE_ATTR"``.
    ioctl: str
    #: Device label (``"vgic-v3"``, ``"its"``, ``"vcpu0"``).
    device: str
    #: Group by UAPI name (``"GRP_ADDR"``), None for non-attribute calls.
    group: str | None
    #: Attribute by UAPI name (``"VGIC_V3_ADDR_TYPE_DIST"``), or None.
    attr: str | None
    #: The input value (None: a NULL user pointer, or no value).
    value: int | None
    #: Stable dotted name of what the call touches, e.g. ``kvm.vgic.addr.dist``:
    #: one of :data:`~virtmodel.machine.kvm.resource_names.RESOURCES`, or for an
    #: attribute KVM does not define, a name by pattern.
    resource: str
    #: The value returned (0 for a plain success, the read value for gets).
    result: int | None = None
    #: The errno on failure.
    errno: int | None = None
    #: Why it failed.
    reason: str | None = None
    #: Arguments the fields above do not hold, printed after the value as
    #: ``key=value, ...`` (a memory slot's ``slot=2, flags=0, size=0x1000``).
    args: str | None = None

    @property
    def pending(self) -> bool:
        """Whether the call has not executed yet."""
        return self.result is None and self.errno is None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.result is not None

    def head(self) -> str:
        """Return ``IOCTL(device, group, attr)``, the name used in errors."""
        parts = [self.device]
        parts += [p for p in (self.group, self.attr) if p is not None]
        return f"{self.ioctl}({', '.join(parts)})"

    def __str__(self) -> str:
        args = self.head()[:-1]
        if self.ioctl in _NAMED_VALUES and self.value is not None:
            # Spelled as the lab's tracer spells real QEMU's calls.
            args += f", {_NAMED_VALUES[self.ioctl](self.value)}"
        elif self.value is not None:
            args += f", {self._show(self.value)}{self._decoded(self.value)}"
        elif self.group is not None and self.ioctl != "KVM_HAS_DEVICE_ATTR":
            args += ", NULL"
        if self.args is not None:
            args += f", {self.args}"
        line = f"{args})"
        if self.errno is not None:
            return f"{line} -> {errno_name(self.errno)} ({self.reason})"
        if self.result is None:
            return f"{line} = ?"
        if self.ioctl != "KVM_GET_DEVICE_ATTR":
            return f"{line} = {self.result}"
        return f"{line} = {self._show(self.result)}"

    def _decoded(self, value: int) -> str:
        # A REDIST_REGION value packs four fields; show them next to it.
        if self.attr != "VGIC_V3_ADDR_TYPE_REDIST_REGION":
            return ""
        region = decode_redist_region(value)
        flags = f", flags={region.flags:#x}" if region.flags else ""
        return (
            f" {{base=0x{region.base:08x}, count={region.count}"
            f"{flags}, index={region.index}}}"
        )

    def _show(self, number: int) -> str:
        # Addresses (guest memory, stolen-time records), register contents
        # and MPIDRs read best in hex.
        hexadecimal = self.ioctl in _HEX_IOCTLS or (
            self.group is not None
            and (self.group in _HEX_GROUPS or self.group.endswith("_REGS"))
        )
        return f"0x{number:08x}" if hexadecimal else str(number)


#: Calls whose value is an address or a register.
_HEX_IOCTLS: Final = frozenset({"KVM_SET_ONE_REG", "KVM_SET_USER_MEMORY_REGION"})


def _capability(number: int) -> str:
    return CAPABILITY_NAMES.get(number, str(number))


#: Calls whose value is best named: the IPA size a VM asks for, the vCPU
#: feature bitmap, the capability asked about or enabled.
_NAMED_VALUES: Final[dict[str, Callable[[int], str]]] = {
    "KVM_CREATE_VM": "type={}".format,
    "KVM_ARM_VCPU_INIT": "features={:#x}".format,
    "KVM_CHECK_EXTENSION": _capability,
    "KVM_ENABLE_CAP": _capability,
}
#: Attribute groups whose value is a guest address.
_HEX_GROUPS: Final = frozenset({"GRP_ADDR", "PVTIME_CTRL"})


def memory_region_args(slot: int, flags: int, size: int) -> str:
    """Return a KVM_SET_USER_MEMORY_REGION record's ``args``.

    The spelling of the lab's tracer (``slot=2, flags=0, size=0x10000000``),
    so a simulated call and real QEMU's read the same; the base is the
    record's value.
    """
    return f"slot={slot}, flags={flags}, size=0x{size:x}"


@final
class CallLog:
    """The VM's call record and its observers."""

    def __init__(self, guard: Callable[[], None] | None = None) -> None:
        self.calls: list[KvmCall] = []
        #: Run before every action; refuses all calls of a dead VM.
        self._guard = guard
        self._observers: list[tuple[Observer | None, Observer | None]] = []

    def add_observer(self, before: Observer | None, after: Observer | None) -> None:
        """Add callbacks run before each call (may veto) and after it."""
        self._observers.append((before, after))

    def invoke(self, pending: KvmCall, action: Callable[[], int]) -> int:
        """Run *action* as the call *pending*, record it and tell observers.

        Raises:
            KvmError: The model refused the call.
        """
        pending = dataclasses.replace(pending, seq=len(self.calls))
        for before, _ in self._observers:
            if before is not None:
                before(pending)
        error: KvmError | None = None
        try:
            if self._guard is not None:
                self._guard()
            done = dataclasses.replace(pending, result=action())
        except Refusal as refusal:
            done = dataclasses.replace(
                pending, errno=refusal.code, reason=refusal.reason
            )
            error = KvmError(refusal.code, done.head(), refusal.reason, done)
        self.calls.append(done)
        for _, after in self._observers:
            if after is not None:
                after(done)
        if error is not None:
            raise error
        assert done.result is not None
        return done.result
