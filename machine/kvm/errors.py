"""The error a simulated KVM call raises, and the refusal the models signal.

The tree::

    OSError
    └── KvmError          .errno .call .reason   (one per failed ioctl)

The device models raise the private :class:`Refusal` with an errno and a
reason; the call recorder turns it into a :class:`KvmError` whose message
names the ioctl, the device and the attribute by their UAPI names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from virtmodel.machine.kvm.constants import errno_name

if TYPE_CHECKING:
    from virtmodel.machine.kvm.calls import KvmCall


class KvmError(OSError):
    """A simulated KVM ioctl failed; ``.errno`` is the kernel's errno.

    The message has one fixed form, e.g.
    ``KVM_SET_DEVICE_ATTR(vgic-v3, GRP_ADDR, VGIC_V3_ADDR_TYPE_DIST) failed:
    EEXIST (address already set)``. ``.call`` is the recorded
    :class:`~machine.kvm.calls.KvmCall` (None when no VM exists yet) and
    ``.reason`` the parenthesised explanation.
    """

    def __init__(
        self, code: int, head: str, reason: str, call: KvmCall | None = None
    ) -> None:
        message = f"{head} failed: {errno_name(code)} ({reason})"
        super().__init__(code, message)
        self.reason = reason
        self.call = call

    def __str__(self) -> str:
        return str(self.strerror)


class Refusal(Exception):
    """Internal: a model refuses the current call with *code* and *reason*."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


def refuse(code: int, reason: str) -> NoReturn:
    """Refuse the call being executed.

    Raises:
        Refusal: Always; the recorder turns it into a :class:`KvmError`.
    """
    raise Refusal(code, reason)
