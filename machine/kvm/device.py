"""The common shape of a KVM device fd: set, get and has attribute calls.

Each public call validates its Python arguments (a C caller could not pass a
negative number), records itself on the VM as a :class:`KvmCall` and runs
the subclass's model, which signals refusals with an errno.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from virtmodel.machine.kvm.calls import KvmCall
from virtmodel.machine.kvm.constants import group_name
from virtmodel.machine.kvm.errors import KvmError

if TYPE_CHECKING:
    from virtmodel.machine.kvm.vm import Vm

_U64 = 1 << 64


def check_int(what: str, value: object, bits: int) -> int:
    """Return *value* if it is an unsigned integer of *bits* bits.

    Raises:
        ValueError: It is not (a Python-side mistake, not a kernel error).
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value < 1 << bits
    ):
        msg = f"{what} {value!r} is not a {bits}-bit unsigned integer"
        raise ValueError(msg)
    return value


def _zero(action: Callable[..., None], *args: object) -> int:
    action(*args)
    return 0


class KvmDevice:
    """A device created with KVM_CREATE_DEVICE (a vGIC or an ITS).

    Raises:
        KvmError: From :meth:`set_attr`, :meth:`get_attr`, :meth:`has_attr`
            when the simulated kernel refuses the call.
    """

    def __init__(self, vm: Vm, type_id: int, label: str) -> None:
        #: The VM the device belongs to.
        self.vm = vm
        #: KVM_DEV_TYPE_* number.
        self.type_id = type_id
        #: Name used in traces: ``vgic-v2``, ``vgic-v3``, ``its``, ``its1``...
        self.label = label

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label!r}>"

    def set_attr(self, group: int, attr: int, value: int | None = 0) -> None:
        """KVM_SET_DEVICE_ATTR; ``value=None`` models a NULL pointer (EFAULT).

        Raises:
            KvmError: The kernel refuses the attribute or its value.
            ValueError: An argument is not an unsigned integer of its width.
        """
        self._call("KVM_SET_DEVICE_ATTR", group, attr, value, write=True)

    def get_attr(self, group: int, attr: int, value: int | None = 0) -> int:
        """KVM_GET_DEVICE_ATTR; *value* carries any input (a region index).

        Raises:
            KvmError: The kernel refuses the read.
            ValueError: An argument is not an unsigned integer of its width.
        """
        return self._call("KVM_GET_DEVICE_ATTR", group, attr, value, write=False)

    def has_attr(self, group: int, attr: int) -> None:
        """KVM_HAS_DEVICE_ATTR: return if the kernel supports the attribute.

        Raises:
            KvmError: The kernel answers with an errno (ENXIO: unsupported).
            ValueError: An argument is not an unsigned integer of its width.
        """
        group = check_int("group", group, 32)
        attr = check_int("attr", attr, 64)
        pending = self._pending("KVM_HAS_DEVICE_ATTR", group, attr, None)
        self.vm.log.invoke(pending, lambda: _zero(self._has, group, attr, None))

    def check_attr(self, group: int, attr: int) -> bool:
        """Return whether :meth:`has_attr` succeeds, as QEMU's probe does.

        Raises:
            ValueError: An argument is not an unsigned integer of its width.
        """
        try:
            self.has_attr(group, attr)
        except KvmError:
            return False
        return True

    def _call(
        self, ioctl: str, group: int, attr: int, value: int | None, write: bool
    ) -> int:
        group = check_int("group", group, 32)
        attr = check_int("attr", attr, 64)
        if value is not None:
            check_int(f"value for {group_name(group)}", value, self._value_bits(group))
        pending = self._pending(ioctl, group, attr, value)
        if write:
            return self.vm.log.invoke(
                pending, lambda: _zero(self._set, group, attr, value)
            )
        return self.vm.log.invoke(pending, lambda: self._get(group, attr, value))

    def _pending(self, ioctl: str, group: int, attr: int, value: int | None) -> KvmCall:
        return KvmCall(
            seq=-1,
            ioctl=ioctl,
            device=self.label,
            group=group_name(group),
            attr=self._attr_name(group, attr),
            value=value,
            resource=self._resource(group, attr),
        )

    def value_bytes(self, group: int) -> int:
        """Return how many bytes of the user value the kernel reads or writes."""
        return self._value_bits(group) // 8

    # Subclass hooks -----------------------------------------------------

    def _value_bits(self, group: int) -> int:
        """Return the width of the user value the group reads."""
        return 64

    def _attr_name(self, group: int, attr: int) -> str:
        """Return the UAPI-style name of *attr* in *group*."""
        return str(attr)

    def _resource(self, group: int, attr: int) -> str:
        """Return the dotted resource name the call touches."""
        raise NotImplementedError

    def _set(self, group: int, attr: int, value: int | None) -> None:
        """Model KVM_SET_DEVICE_ATTR (raise Refusal to fail)."""
        raise NotImplementedError

    def _get(self, group: int, attr: int, value: int | None) -> int:
        """Model KVM_GET_DEVICE_ATTR (raise Refusal to fail)."""
        raise NotImplementedError

    def _has(self, group: int, attr: int, value: int | None = None) -> None:
        """Model KVM_HAS_DEVICE_ATTR (raise Refusal to fail)."""
        raise NotImplementedError
