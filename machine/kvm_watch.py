"""What the machine does with each KVM call: check it before, trace it after.

The accelerator routes every ioctl of its VM through a :class:`KvmWatch`. In
strict mode a call must touch only a resource the running machine-init-done
notifier declared (``reads=``/``writes=``); every finished call lands in the
machine trace, nested under the device or notifier that made it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from virtmodel.machine.trace import Kind

if TYPE_CHECKING:
    from virtmodel.machine.init_done import InitDone
    from virtmodel.machine.kvm import KvmCall
    from virtmodel.machine.trace import MachineTrace

__all__ = ["KvmWatch"]


class KvmWatch:
    """The machine's observer of its KVM calls."""

    def __init__(
        self, trace: MachineTrace, init_done: InitDone, *, strict: bool
    ) -> None:
        self._trace = trace
        self._init_done = init_done
        self._strict = strict

    def before(self, call: KvmCall) -> None:
        """Strict mode: refuse a call on a resource the notifier did not declare.

        Raises:
            UndeclaredAccessError: The running notifier declared neither the
                resource nor a family holding it.
        """
        if self._strict:
            self._init_done.check_access(call.resource, f"made {call.head()} on")

    def after(self, call: KvmCall) -> None:
        """Record a finished call in the trace."""
        # A failed KVM_HAS_DEVICE_ATTR or TEST create is a probe's "no", not a
        # failure.
        probe = call.ioctl == "KVM_HAS_DEVICE_ATTR" or (
            call.ioctl == "KVM_CREATE_DEVICE" and call.attr == "KVM_CREATE_DEVICE_TEST"
        )
        ok = call.errno is None or probe
        self._trace.add(
            Kind.KVM,
            str(call),
            ok=ok,
            resource=call.resource,
            ioctl=call.ioctl,
            device=call.device,
            group=call.group,
            result=call.result,
        )
