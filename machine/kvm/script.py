"""KVM scripts run on the simulator, answering exactly as the lab's ``kvmexec``.

A script is one call per line (``#`` starts a comment; numbers decimal or
``0x`` hex)::

    create_vm IPA_BITS              KVM_CREATE_VM, type = IPA_BITS & 0xff (0: 40 bits)
    create_vcpu ID                  KVM_CREATE_VCPU
    vcpu_init ID FEATURES           KVM_ARM_PREFERRED_TARGET, KVM_ARM_VCPU_INIT
    create_device TYPE TEST         KVM_CREATE_DEVICE; a success with TEST=0 is dN
    set_attr DEV GROUP ATTR VALUE   KVM_SET_DEVICE_ATTR on handle dN (VALUE may be NULL)
    get_attr DEV GROUP ATTR VALUE   KVM_GET_DEVICE_ATTR on a u64 preloaded with VALUE
    has_attr DEV GROUP ATTR         KVM_HAS_DEVICE_ATTR
    vcpu_set_attr / vcpu_get_attr ID GROUP ATTR VALUE, vcpu_has_attr ID GROUP ATTR
    run ID                          KVM_RUN
    set_user_memory_region SLOT BASE SIZE FLAGS
                                    KVM_SET_USER_MEMORY_REGION (SIZE 0 deletes)
    set_gsi_routing FLAGS COUNT GSI STEP TYPE CHIP PIN
                                    KVM_SET_GSI_ROUTING: COUNT entries, entry i
                                    gsi GSI+i*STEP, TYPE (1 irqchip, 2 MSI with
                                    an all-zero message), irqchip CHIP, pin PIN+i
    end                             close the VM

Each call line answers ``<line> <ret> <errno> <value-or-->``: ``ret`` is the
ioctl's return (a new fd for create_vm and create_vcpu), ``errno`` is 0 on
success, ``value`` is the whole u64 a successful get left at its address. A
call on a handle that does not exist answers ``-1 9`` (EBADF).

The executor's own actions are part of what a script means, so they are
modelled here, not in the kernel model: file descriptors are the lowest free
numbers after the five ``kvmexec`` holds (stdin, stdout, stderr, the script,
/dev/kvm); before a VM's first ``run`` it maps a 64 KiB memory slot at 2 GiB
holding a guest that stores to 0x10000000 and then loops, and before a
vCPU's first ``run`` it points the vCPU's PC at that guest (which fails
silently on an uninitialised vCPU). So a vCPU's first run exits to userspace
with an MMIO exit (0), unless the store lands in an in-kernel device; the
next run loops until the executor's alarm (EINTR); so does a vCPU whose PC
is 0 (never pointed at the guest, or reset by a later KVM_ARM_VCPU_INIT):
measured on the lab, its fetches outside memory never return to userspace.
Every ``set_user_memory_region`` passes the same user address (a 1 GiB
reservation at 16 TiB), so an existing slot keeps its address and only its
base, size or flags can differ from the slot's first call.
"""

from __future__ import annotations

import contextlib
import errno
import re
from dataclasses import dataclass, field
from typing import Final

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm.device import KvmDevice
from virtmodel.machine.kvm.eras import DEFAULT_ERA, SemanticsName
from virtmodel.machine.kvm.errors import KvmError
from virtmodel.machine.kvm.routing import KVM_MAX_IRQ_ROUTES, Route
from virtmodel.machine.kvm.semantics import LAB_HOST, HostCaps
from virtmodel.machine.kvm.vcpu import Vcpu
from virtmodel.machine.kvm.vcpu_attrs import value_bytes as vcpu_value_bytes
from virtmodel.machine.kvm.vm import Vm, create_vm

#: Operation -> its field kinds: n number, d device handle, v number or NULL.
OPERATIONS: Final[dict[str, str]] = {
    "create_vm": "n",
    "create_vcpu": "n",
    "vcpu_init": "nn",
    "create_device": "nn",
    "set_attr": "dnnv",
    "get_attr": "dnnv",
    "has_attr": "dnn",
    "vcpu_set_attr": "nnnv",
    "vcpu_get_attr": "nnnv",
    "vcpu_has_attr": "nnn",
    "run": "n",
    "set_user_memory_region": "nnnn",
    "set_gsi_routing": "nnnnnnn",
    "end": "",
}
#: The guest's memory slot and the address its store goes to.
GUEST_IPA: Final = 0x80000000
GUEST_SIZE: Final = 0x10000
MMIO_STORE_IPA: Final = 0x10000000
#: Descriptors kvmexec holds before the first VM: 0-2, the script, /dev/kvm.
FIRST_FREE_FD: Final = 5
_MAX_VCPUS: Final = 1024  # kvmexec's table of vCPU fds
_MAX_DEVICES: Final = 64
_NUMBER: Final = re.compile(r"^(0x[0-9a-fA-F]+|0|[1-9][0-9]*)$")
_HANDLE: Final = re.compile(r"^d(0|[1-9][0-9]*)$")
_U64: Final = (1 << 64) - 1
_U32: Final = 0xFFFFFFFF
#: Routing entry types (KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQ_ROUTING_MSI).
_ROUTE_TYPES: Final = {1: "irqchip", 2: "msi"}


class ScriptSyntaxError(ValueError):
    """A script line is malformed; the message names the line."""


@dataclass(frozen=True, slots=True)
class Call:
    """One call line: its number, operation and fields (NULL and dN as str)."""

    line: int
    op: str
    args: tuple[int | str, ...]


@dataclass(frozen=True, slots=True)
class Result:
    """What one call line answered: ``<line> <ret> <errno> <value-or-->``."""

    line: int
    ret: int
    errno: int
    value: int | None = None

    def __str__(self) -> str:
        value = "-" if self.value is None else f"0x{self.value:x}"
        return f"{self.line} {self.ret} {self.errno} {value}"


def parse(text: str) -> list[Call]:
    """Return the call lines of *text* (``end`` included).

    Raises:
        ScriptSyntaxError: An unknown operation, a wrong field count, a bad
            number or handle.
    """
    calls = []
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        op, *rest = fields
        kinds = OPERATIONS.get(op)
        if kinds is None:
            msg = f"line {number}: unknown operation {op!r}"
            raise ScriptSyntaxError(msg)
        if len(rest) != len(kinds):
            msg = f"line {number}: {op} takes {len(kinds)} field(s), got {len(rest)}"
            raise ScriptSyntaxError(msg)
        args: list[int | str] = []
        for kind, value in zip(kinds, rest, strict=True):
            if (kind == "d" and _HANDLE.match(value)) or (
                kind == "v" and value == "NULL"
            ):
                args.append(value)
            elif kind != "d" and _NUMBER.match(value) and int(value, 0) <= _U64:
                args.append(int(value, 0))
            else:
                msg = f"line {number}: {op}: bad field {value!r}"
                raise ScriptSyntaxError(msg)
        calls.append(Call(number, op, tuple(args)))
    return calls


@dataclass
class _Executor:
    """kvmexec's state: the VM, its handles, and what it did to the guest."""

    host: HostCaps
    semantics: SemanticsName
    interrupted: frozenset[int] = frozenset()
    vm: Vm | None = None
    vcpus: dict[int, Vcpu] = field(default_factory=dict)
    devices: list[KvmDevice] = field(default_factory=list)
    fds: set[int] = field(default_factory=set)
    memory_ready: bool = False
    #: vCPU ids whose first ``run`` happened (the PC was pointed, or tried).
    ran: set[int] = field(default_factory=set)
    #: Where each vCPU's PC is: "store" (at the guest's store), "loop" (past
    #: it) or "zero" (reset value).
    guest: dict[int, str] = field(default_factory=dict)

    def new_fd(self) -> int:
        fd = FIRST_FREE_FD
        while fd in self.fds:
            fd += 1
        self.fds.add(fd)
        return fd

    def close(self) -> None:
        self.vm = None
        self.vcpus.clear()
        self.devices.clear()
        self.fds.clear()
        self.memory_ready = False
        self.ran.clear()
        self.guest.clear()


def run_script(
    text: str,
    *,
    semantics: SemanticsName = DEFAULT_ERA,
    host: HostCaps = LAB_HOST,
    interrupted: frozenset[int] = frozenset(),
) -> list[Result]:
    """Run a script on the simulator; one :class:`Result` per call line.

    *interrupted* names ``run`` lines whose guest the executor's alarm
    stopped before it reached its store (timing, which a simulator cannot
    know): they answer EINTR and leave the guest where it was.

    Raises:
        ScriptSyntaxError: The script is malformed.
    """
    state = _Executor(host, semantics, interrupted=interrupted)
    results = []
    for call in parse(text):
        if call.op == "end":
            state.close()
            continue
        results.append(_execute(state, call))
    return results


def _fail(line: int, error: KvmError) -> Result:
    return Result(line, -1, error.errno or 0)


def _execute(state: _Executor, call: Call) -> Result:
    line, args = call.line, call.args
    if call.op == "create_vm":
        state.close()
        bits = int(args[0]) & 0xFF
        try:
            state.vm = create_vm(
                bits or c.KVM_DEFAULT_IPA_BITS, state.semantics, state.host
            )
        except KvmError as error:
            return _fail(line, error)
        return Result(line, state.new_fd(), 0)
    if state.vm is None:
        return Result(line, -1, errno.EBADF)
    try:
        return _vm_call(state, state.vm, call)
    except KvmError as error:
        return _fail(line, error)


def _vm_call(state: _Executor, vm: Vm, call: Call) -> Result:
    line, op, args = call.line, call.op, call.args
    if op == "create_vcpu":
        vcpu_id = int(args[0])
        created_vcpu = vm.create_vcpu(vcpu_id & 0xFFFFFFFF, init=False)
        if vcpu_id < _MAX_VCPUS:
            state.vcpus[vcpu_id] = created_vcpu
        state.guest[vcpu_id] = "zero"
        return Result(line, state.new_fd(), 0)
    if op == "set_user_memory_region":
        slot, base, size, flags = (int(a) for a in args)
        vm.set_user_memory_region(slot & _U32, base, size, flags & _U32)
        return Result(line, 0, 0)
    if op == "set_gsi_routing":
        flags, count, gsi, step, kind, chip, pin = (int(a) for a in args)
        vm.set_gsi_routing(_routes(count, gsi, step, kind, chip, pin), flags & _U32)
        return Result(line, 0, 0)
    if op == "create_device":
        created = vm.create_device(int(args[0]) & 0xFFFFFFFF, test=args[1] != 0)
        if created is not None and len(state.devices) < _MAX_DEVICES:
            state.devices.append(created)
            state.new_fd()
        return Result(line, 0, 0)
    if op.startswith("vcpu_") or op == "run":
        vcpu = state.vcpus.get(int(args[0]))
        if vcpu is None:
            return Result(line, -1, errno.EBADF)
        if op == "vcpu_init":
            vm.preferred_target()
            vcpu.init(int(args[1]) & 0xFFFFFFFF)
            state.guest[vcpu.vcpu_id] = "zero"  # the reset put the PC at 0
            return Result(line, 0, 0)
        if op == "run":
            return _run(state, vm, vcpu, line)
        return _attr(op[5:], vcpu, args, line)
    index = int(str(args[0])[1:])
    if index >= len(state.devices):
        return Result(line, -1, errno.EBADF)
    return _attr(op, state.devices[index], args, line)


def _routes(
    count: int, gsi: int, step: int, kind: int, chip: int, pin: int
) -> list[Route]:
    """Return the routing table kvmexec builds for one line.

    Past the kernel's limit it is one entry longer than the limit: the
    kernel refuses such a table by its count, unread.
    """
    count &= _U32
    name = _ROUTE_TYPES.get(kind & _U32, f"type{kind & _U32}")
    return [
        Route((gsi + i * step) & _U32, name, chip & _U32, (pin + i) & _U32)
        for i in range(min(count, KVM_MAX_IRQ_ROUTES + 1))
    ]


def _run(state: _Executor, vm: Vm, vcpu: Vcpu, line: int) -> Result:
    vcpu_id = vcpu.vcpu_id
    if not state.memory_ready:
        state.memory_ready = True
        # kvmexec does not report a failure here: the run's own answer shows it.
        with contextlib.suppress(KvmError):
            vm.set_user_memory_region(0, GUEST_IPA, GUEST_SIZE)
    if vcpu_id not in state.ran:
        state.ran.add(vcpu_id)
        if vcpu.initialized and not vm.dead:
            state.guest[vcpu_id] = "store"
    vcpu.run()
    where = state.guest[vcpu_id]
    if line in state.interrupted and where == "store":
        return Result(line, -1, errno.EINTR)
    state.guest[vcpu_id] = "loop"
    if where == "store" and not vm.mmio_claimed(MMIO_STORE_IPA):
        return Result(line, 0, 0)
    return Result(line, -1, errno.EINTR)


def _attr(
    verb: str, target: KvmDevice | Vcpu, args: tuple[int | str, ...], line: int
) -> Result:
    group, attr = int(args[1]) & 0xFFFFFFFF, int(args[2])
    if verb == "has_attr":
        target.has_attr(group, attr)
        return Result(line, 0, 0)
    raw = args[3]
    if isinstance(target, Vcpu):
        width = vcpu_value_bytes(group, attr)
    else:
        width = target.value_bytes(group)
    mask = (1 << (8 * width)) - 1
    value = None if raw == "NULL" else int(raw) & mask
    if verb == "set_attr":
        target.set_attr(group, attr, value)
        return Result(line, 0, 0)
    result = target.get_attr(group, attr, value)
    # A get through a NULL pointer always fails (EFAULT), so *raw* is a number.
    return Result(line, 0, 0, (int(raw) & ~mask) | (result & mask))
