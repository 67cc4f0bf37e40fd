"""KVM scripts: the text format ``kvmexec`` runs, checked before a guest boots.

One call per line, ``#`` starts a comment, numbers are decimal or ``0x`` hex,
fields are separated by blanks::

    create_vm IPA_BITS                  KVM_CREATE_VM(KVM_VM_TYPE_ARM_IPA_SIZE)
    create_vcpu ID                      KVM_CREATE_VCPU
    vcpu_init ID FEATURES               KVM_ARM_PREFERRED_TARGET + KVM_ARM_VCPU_INIT
    create_device TYPE TEST             KVM_CREATE_DEVICE; success with TEST=0 -> dN
    set_attr DEV GROUP ATTR VALUE       KVM_SET_DEVICE_ATTR on handle dN
    get_attr DEV GROUP ATTR VALUE       KVM_GET_DEVICE_ATTR, the u64 preloaded
    has_attr DEV GROUP ATTR             KVM_HAS_DEVICE_ATTR
    vcpu_set_attr/vcpu_get_attr ID GROUP ATTR VALUE, vcpu_has_attr ID GROUP ATTR
    run ID                              KVM_RUN
    set_user_memory_region SLOT BASE SIZE FLAGS
                                        KVM_SET_USER_MEMORY_REGION; SIZE 0 deletes
    end                                 close the VM and everything in it

VALUE may be ``NULL`` (a NULL user pointer). ``kvmexec`` answers each call
line with ``<line> <ret> <errno> <value-or-->``; ``end`` prints nothing.
Checking here means a typo is one line on the host, not a guest boot wasted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from virtmodel.machine.errors import MachineError
from virtmodel.machine.kvm.script import OPERATIONS  # one table: the simulator's

__all__ = [
    "OPERATIONS",
    "KvmScriptResult",
    "ScriptCall",
    "ScriptError",
    "parse_results",
    "parse_script",
]


_NUMBER: Final = re.compile(r"^(0x[0-9a-fA-F]+|0|[1-9][0-9]*)$")
_HANDLE: Final = re.compile(r"^d(0|[1-9][0-9]*)$")
_RESULT: Final = re.compile(r"^([1-9][0-9]*) (-?[0-9]+) ([0-9]+) (-|0x[0-9a-f]+)$")
_U64: Final = (1 << 64) - 1
_MAX_LINE: Final = 4000  # kvmexec reads lines of up to 4095 bytes


class ScriptError(MachineError, ValueError):
    """A KVM script line is malformed; the message names the line."""

    def __init__(self, line: int, message: str, where: str = "") -> None:
        self.line = line
        self.detail = message
        super().__init__(f"{where}line {line}: {message}")


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """One call line of a script."""

    #: 1-based line number in its script.
    line: int
    #: The operation, e.g. ``"set_attr"``.
    op: str
    #: Its fields as written (numbers normalized to int, handles and NULL as str).
    args: tuple[int | str, ...]

    def text(self) -> str:
        """Return the line in canonical spelling (hex for values above 9)."""
        fields = [self.op]
        for arg in self.args:
            fields.append(arg if isinstance(arg, str) else _number(arg))
        return " ".join(fields)


def _number(value: int) -> str:
    return str(value) if value < 10 else f"0x{value:x}"


@dataclass(frozen=True, slots=True)
class KvmScriptResult:
    """What the real kernel answered to one call line."""

    #: 1-based line number in the script.
    line: int
    #: The call line in canonical spelling (``ScriptCall.text()``).
    call: str
    #: The ioctl's return value: 0, -1 on failure, a new fd for create_vm and
    #: create_vcpu (create_device returns 0 and puts the fd in its struct).
    ret: int
    #: 0 on success, else the errno.
    errno: int
    #: What a successful get read (the whole preloaded u64), else None.
    value: int | None

    def __str__(self) -> str:
        value = "-" if self.value is None else f"0x{self.value:x}"
        return f"{self.line} {self.ret} {self.errno} {value}  # {self.call}"


def _field(line: int, kind: str, text: str, position: int, op: str) -> int | str:
    where = f"{op} field {position} {text!r}"
    if kind == "d":
        if not _HANDLE.match(text):
            raise ScriptError(line, f"{where} must be a device handle d0, d1, ...")
        return text
    if kind == "v" and text == "NULL":
        return text
    if not _NUMBER.match(text):
        raise ScriptError(line, f"{where} must be a decimal or 0x-hex number")
    value = int(text, 0)
    if value > _U64:
        raise ScriptError(line, f"{where} does not fit in 64 bits")
    return value


def parse_script(text: str) -> list[ScriptCall]:
    """Return the call lines of *text*, checked against the grammar.

    Raises:
        ScriptError: An unknown operation, a wrong field count, a bad number
            or handle, or a line too long for ``kvmexec``.
    """
    calls = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if len(raw) > _MAX_LINE:
            raise ScriptError(number, f"longer than {_MAX_LINE} characters")
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        op, *rest = fields
        kinds = OPERATIONS.get(op)
        if kinds is None:
            known = ", ".join(OPERATIONS)
            raise ScriptError(number, f"unknown operation {op!r} (known: {known})")
        if len(rest) != len(kinds):
            msg = f"{op} takes {len(kinds)} field(s), got {len(rest)}"
            raise ScriptError(number, msg)
        args = tuple(
            _field(number, kind, value, i, op)
            for i, (kind, value) in enumerate(zip(kinds, rest, strict=True), start=1)
        )
        calls.append(ScriptCall(number, op, args))
    return calls


def parse_results(lines: list[str]) -> dict[int, tuple[int, int, int | None]]:
    """Return kvmexec's answers by line number: (ret, errno, value).

    Raises:
        ValueError: A line is not a kvmexec answer, or a line number repeats.
    """
    answers: dict[int, tuple[int, int, int | None]] = {}
    for text in lines:
        match = _RESULT.match(text)
        if match is None:
            msg = f"unexpected kvmexec output {text!r}"
            raise ValueError(msg)
        number, ret, err, value = match.groups()
        if int(number) in answers:
            msg = f"kvmexec answered line {number} twice"
            raise ValueError(msg)
        answers[int(number)] = (
            int(ret),
            int(err),
            None if value == "-" else int(value, 16),
        )
    return answers
