"""A VM on the host's real KVM, with the simulator's API and call record.

:func:`create_host_vm` opens ``/dev/kvm`` and issues KVM_CREATE_VM with the
IPA size as the VM type. The VM then answers ``create_vcpu``,
``create_device``, ``preferred_target`` and ``set_user_memory_region`` like
:class:`virtmodel.machine.kvm.Vm`: each is one :class:`KvmCall` in
``vm.calls``, with the kernel's result or errno, seen by the same observers.
What the backend needs besides (the guest's memory slot and registers, the
kvm_run mapping) is listed in ``vm.plumbing`` and is not a call of the API.

Every fd and mapping is closed by :meth:`HostVm.close`, by leaving a
``with`` block, or when the VM is garbage-collected, also after a failure.
"""

from __future__ import annotations

import errno
import mmap
import weakref
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Final, Literal, TypeVar, final, overload

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.calls import (
    CallLog,
    KvmCall,
    Observer,
    memory_region_args,
)
from virtmodel.machine.kvm.device import check_int
from virtmodel.machine.kvm.device_names import create_resource, device_label
from virtmodel.machine.kvm.errors import KvmError, Refusal
from virtmodel.machine.kvm.host.abi import (
    CREATE_DEVICE,
    ROUTING,
    ROUTING_IRQCHIP,
    VCPU_INIT,
)
from virtmodel.machine.kvm.host.access import DEV_KVM, check_host, open_kvm
from virtmodel.machine.kvm.host.device import HostDevice
from virtmodel.machine.kvm.host.guest import GuestWindow
from virtmodel.machine.kvm.host.memory import GuestMemory, plumbing_call
from virtmodel.machine.kvm.host.resources import Resources
from virtmodel.machine.kvm.host.syscalls import Syscalls, kernel_reason
from virtmodel.machine.kvm.host.vcpu import HostVcpu
from virtmodel.machine.kvm.host.vm_setup import HostVmSetupCalls
from virtmodel.machine.kvm.resource_names import Resource
from virtmodel.machine.kvm.routing import Route, summarize_routes

__all__ = ["DEFAULT_RUN_SECONDS", "HostVm", "create_host_vm"]

_T = TypeVar("_T")

#: How long one KVM_RUN may take before SIGALRM interrupts it (EINTR).
DEFAULT_RUN_SECONDS: Final = 5.0


def create_host_vm(
    ipa_bits: int = c.KVM_DEFAULT_IPA_BITS,
    *,
    path: str = DEV_KVM,
    syscalls: Syscalls | None = None,
    run_seconds: float = DEFAULT_RUN_SECONDS,
    check_arch: bool = True,
) -> HostVm:
    """KVM_CREATE_VM on the host: a real VM with *ipa_bits* of IPA space.

    ``check_arch=False`` skips the arm64 check (for a stand-in *syscalls*).

    Raises:
        KvmUnavailable: No arm64 host, no *path*, or no permission to open it.
        KvmError: The kernel refused KVM_CREATE_VM (its errno).
        ValueError: *ipa_bits* is not a small unsigned integer.
    """
    check_int("ipa_bits", ipa_bits, 8)
    if check_arch:
        check_host()
    syscalls = syscalls if syscalls is not None else Syscalls()
    kvm = open_kvm(syscalls, path)
    try:
        vm_fd = syscalls.ioctl(kvm, u.KVM_CREATE_VM, ipa_bits)
    except OSError as exc:
        syscalls.close(kvm)
        code = exc.errno or errno.EIO
        head = f"KVM_CREATE_VM(ipa_bits={ipa_bits})"
        raise KvmError(code, head, kernel_reason(code)) from None
    return HostVm(syscalls, kvm, vm_fd, ipa_bits, run_seconds)


@final
class HostVm(HostVmSetupCalls):
    """A VM on the host's KVM; create it with :func:`create_host_vm`.

    Raises:
        KvmError: From every call the kernel refuses.
    """

    #: What answers the calls (the simulator's VM says its era here).
    backend = "host"

    def __init__(
        self, syscalls: Syscalls, kvm_fd: int, vm_fd: int, ipa_bits: int, run_s: float
    ) -> None:
        self.syscalls = syscalls
        self._resources = Resources(syscalls)
        self._resources.fd(kvm_fd)
        self._resources.fd(vm_fd)
        self._finalizer = weakref.finalize(self, self._resources.close)
        #: The /dev/kvm fd and the VM fd.
        self.kvm_fd, self.fd = kvm_fd, vm_fd
        #: Guest physical address bits (the KVM_CREATE_VM type).
        self.ipa_bits = ipa_bits
        #: Seconds each KVM_RUN may take.
        self.run_seconds = run_s
        #: vCPUs in creation order.
        self.vcpus: list[HostVcpu] = []
        #: Devices in creation order.
        self.devices: list[HostDevice] = []
        #: The call record and its observers, as the simulator's.
        self.log = CallLog()
        #: The backend's own calls (guest memory, registers), one line each.
        self.plumbing: list[str] = []
        #: Guest memory slots, claimed frames and the code page (plumbing).
        fds = (kvm_fd, vm_fd)
        self.memory = GuestMemory(syscalls, self._resources, fds, self.plumbing)
        self._target: int | None = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd={self.fd}"
        return f"<HostVm ipa_bits={self.ipa_bits} vcpus={len(self.vcpus)} {state}>"

    def __enter__(self) -> HostVm:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Unmap and close everything the VM holds; later calls do nothing."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran (or the finalizer did)."""
        return self._resources.closed

    @property
    def open_fds(self) -> list[int]:
        """The fds the VM still holds (/dev/kvm, VM, vCPUs, devices)."""
        return self._resources.open_fds

    @property
    def ipa_size(self) -> int:
        """Bytes of guest physical address space."""
        return 1 << self.ipa_bits

    @property
    def calls(self) -> list[KvmCall]:
        """Every call this VM received, in order."""
        return self.log.calls

    @property
    def its_devices(self) -> list[HostDevice]:
        """The ITS devices, in creation order."""
        return [d for d in self.devices if d.type_id == c.KVM_DEV_TYPE_ARM_VGIC_ITS]

    def add_observer(self, before: Observer | None, after: Observer | None) -> None:
        """Watch every call, as :meth:`virtmodel.machine.kvm.Vm.add_observer`."""
        self.log.add_observer(before, after)

    # -- the kernel -------------------------------------------------------------

    def kernel_call(self, call: Callable[[], _T], what: str = "") -> _T:
        """Run *call*; turn its OSError into the refusal the record keeps.

        Raises:
            Refusal: The kernel's errno (recorded by the CallLog).
            RuntimeError: The VM is closed (a programming error).
        """
        if self.closed:
            msg = "the host VM is closed"
            raise RuntimeError(msg)
        try:
            return call()
        except OSError as exc:
            code = exc.errno or errno.EIO
            reason = kernel_reason(code)
            raise Refusal(code, f"{what}: {reason}" if what else reason) from None

    def raw(self, line: str, call: Callable[[], int]) -> int:
        """Issue a plumbing call: note it in ``plumbing``; OSError propagates."""
        return plumbing_call(self.plumbing, line, call)

    def note_address(self, type_id: int, attr: int, value: int | None) -> None:
        """Remember the frame a successful GRP_ADDR write claimed."""
        self.memory.note_address(type_id, attr, value)

    # -- API calls ----------------------------------------------------------------

    def _invoke(
        self, ioctl: str, device: str, value: int | None, resource: Resource,
        action: Callable[[], int], attr: str | None = None,
    ) -> int:  # fmt: skip
        pending = KvmCall(
            seq=-1, ioctl=ioctl, device=device, group=None, attr=attr,
            value=value, resource=resource,
        )  # fmt: skip
        return self.log.invoke(pending, action)

    def create_vcpu(self, vcpu_id: int, *, init: bool = True) -> HostVcpu:
        """KVM_CREATE_VCPU, then (unless ``init=False``) KVM_ARM_VCPU_INIT.

        One record, as the simulator's; the init uses the host's preferred
        target and no features, as QEMU's ``-cpu host`` does.

        Raises:
            KvmError: The kernel's errno for either call.
            ValueError: *vcpu_id* is not an unsigned 32-bit integer.
        """
        check_int("vcpu_id", vcpu_id, 32)
        created: list[HostVcpu] = []

        def action() -> int:
            fd = self.kernel_call(
                lambda: self.syscalls.ioctl(self.fd, u.KVM_CREATE_VCPU, vcpu_id)
            )
            vcpu = HostVcpu(self, vcpu_id, self._resources.fd(fd))
            self.vcpus.append(vcpu)
            created.append(vcpu)
            if init:
                target = self.kernel_call(self._preferred, "KVM_ARM_PREFERRED_TARGET")
                self.kernel_call(
                    lambda: vcpu.init_ioctl(0, target), "KVM_ARM_VCPU_INIT"
                )
            return 0

        self._invoke(
            "KVM_CREATE_VCPU", f"vcpu{vcpu_id}", vcpu_id, "kvm.vcpu.create", action
        )
        return created[0]

    def check_extension(self, cap: int) -> int:
        """KVM_CHECK_EXTENSION on the VM (plumbing: not in :attr:`calls`)."""
        return self.raw(
            f"KVM_CHECK_EXTENSION({cap})",
            lambda: self.syscalls.ioctl(self.fd, u.KVM_CHECK_EXTENSION, cap),
        )

    def record_creation(self) -> None:
        """Record the KVM_CREATE_VM that made this VM, as the simulator does."""
        self._invoke("KVM_CREATE_VM", "vm", self.ipa_bits, "kvm.vm.create", lambda: 0)

    def set_gsi_routing(self, routes: Sequence[Route], flags: int = 0) -> None:
        """KVM_SET_GSI_ROUTING with irqchip entries (MSI ones need an address).

        Raises:
            KvmError: The kernel's errno.
            ValueError: A route is not an irqchip route, or a number is not a
                u32.
        """
        check_int("flags", flags, 32)
        table = bytearray(ROUTING.pack(len(routes), flags))
        for route in routes:
            if route.kind != "irqchip":
                msg = f"gsi {route.gsi}: the host backend routes irqchip pins only"
                raise ValueError(msg)
            for name, number in (
                ("gsi", route.gsi),
                ("chip", route.chip),
                ("pin", route.pin),
            ):
                check_int(name, number, 32)
            table += ROUTING_IRQCHIP.pack(
                route.gsi, u.KVM_IRQ_ROUTING_IRQCHIP, 0, 0, route.chip, route.pin
            )

        def action() -> int:
            return self.kernel_call(
                lambda: self.syscalls.ioctl(self.fd, u.KVM_SET_GSI_ROUTING, table)
            )

        self._invoke(
            "KVM_SET_GSI_ROUTING", "vm", None, "kvm.vm.gsi_routing", action,
            attr=summarize_routes(routes),
        )  # fmt: skip

    def _preferred(self) -> int:
        if self._target is None:
            buffer = bytearray(VCPU_INIT.size)
            self.syscalls.ioctl(self.fd, u.KVM_ARM_PREFERRED_TARGET, buffer)
            self._target = VCPU_INIT.unpack(buffer)[0]
        return self._target

    def preferred_target(self) -> int:
        """KVM_ARM_PREFERRED_TARGET: the target KVM_ARM_VCPU_INIT wants.

        Raises:
            KvmError: The kernel's errno (EIO on a dead VM).
        """

        def action() -> int:
            self._target = None
            return self.kernel_call(self._preferred)

        return self._invoke(
            "KVM_ARM_PREFERRED_TARGET", "vm", None, "kvm.vm.preferred_target", action
        )

    @overload
    def create_device(
        self, type_id: int, test: Literal[False] = False
    ) -> HostDevice: ...
    @overload
    def create_device(self, type_id: int, test: Literal[True]) -> None: ...
    @overload
    def create_device(self, type_id: int, test: bool) -> HostDevice | None: ...

    def create_device(self, type_id: int, test: bool = False) -> HostDevice | None:
        """KVM_CREATE_DEVICE; ``test=True`` (KVM_CREATE_DEVICE_TEST) only probes.

        Raises:
            KvmError: The kernel's errno (ENODEV, EEXIST, EBUSY, E2BIG...).
            ValueError: *type_id* is not an unsigned 32-bit integer.
        """
        check_int("type", type_id, 32)
        label = device_label(type_id, len(self.its_devices))  # as the simulator
        created: list[HostDevice] = []
        flags = c.KVM_CREATE_DEVICE_TEST if test else 0

        def action() -> int:
            arg = bytearray(CREATE_DEVICE.pack(type_id, 0, flags))
            self.kernel_call(
                lambda: self.syscalls.ioctl(self.fd, u.KVM_CREATE_DEVICE, arg)
            )
            if not test:
                fd = self._resources.fd(CREATE_DEVICE.unpack(arg)[1])
                created.append(HostDevice(self, type_id, label, fd))
                self.devices.append(created[0])
            return 0

        pending = KvmCall(
            seq=-1,
            ioctl="KVM_CREATE_DEVICE",
            device=label,
            group=None,
            attr="KVM_CREATE_DEVICE_TEST" if test else None,
            value=type_id,
            resource=create_resource(type_id),
        )
        self.log.invoke(pending, action)
        return created[0] if created else None

    def set_user_memory_region(
        self, slot: int, base: int, size: int, flags: int = 0
    ) -> None:
        """KVM_SET_USER_MEMORY_REGION with fresh anonymous memory of *size*.

        Raises:
            KvmError: The kernel's errno (EINVAL for a bad slot, flags or
                range).
            ValueError: *slot* or *flags* is not an unsigned 32-bit integer,
                *base* or *size* not an unsigned 64-bit one.
        """
        check_int("slot", slot, 32)
        check_int("flags", flags, 32)
        for name, number in (("base", base), ("size", size)):
            check_int(name, number, 64)

        def action() -> int:
            self.kernel_call(lambda: self.memory.map(slot, base, size, b"", flags))
            if size:
                self.memory.claimed.append((base, base + size))
            return 0

        pending = KvmCall(
            seq=-1, ioctl="KVM_SET_USER_MEMORY_REGION", device="vm", group=None,
            attr=None, value=base, resource="kvm.vm.memory",
            args=memory_region_args(slot, flags, size),
        )  # fmt: skip
        self.log.invoke(pending, action)

    def guest_window(self) -> GuestWindow:
        """Return the guest's code page, mapping it on first use.

        Raises:
            OSError: The kernel refused the memory slot.
        """
        return self.memory.window(self.ipa_size)

    def run_area(self, vcpu_fd: int) -> mmap.mmap:
        """Map *vcpu_fd*'s kvm_run area (KVM_GET_VCPU_MMAP_SIZE bytes).

        Raises:
            OSError: The kernel refused the size query or the mapping.
        """
        return self.memory.run_area(vcpu_fd)
