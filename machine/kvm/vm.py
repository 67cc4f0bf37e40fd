"""A simulated KVM VM: its calls, their record, and what they act on.

The creation rules of vCPUs and devices are in :mod:`.creation`, the first
run's in :mod:`.first_run`.

Example:
    >>> from virtmodel.machine import kvm
    >>> vm = kvm.create_vm(ipa_bits=40)
    >>> vcpu = vm.create_vcpu(0)
    >>> gic = vm.create_device(kvm.KVM_DEV_TYPE_ARM_VGIC_V3)
    >>> dist = kvm.KVM_VGIC_V3_ADDR_TYPE_DIST
    >>> gic.set_attr(kvm.KVM_DEV_ARM_VGIC_GRP_ADDR, dist, 0x8000000)
    >>> print(vm.calls[-1])
    KVM_SET_DEVICE_ATTR(vgic-v3, GRP_ADDR, VGIC_V3_ADDR_TYPE_DIST, 0x08000000) = 0
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, final, overload

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.calls import (
    CallLog,
    KvmCall,
    Observer,
    memory_region_args,
)
from virtmodel.machine.kvm.creation import new_device, new_vcpu
from virtmodel.machine.kvm.device import KvmDevice, check_int
from virtmodel.machine.kvm.device_names import create_resource, device_label
from virtmodel.machine.kvm.eras import (
    BACKENDS,
    DEFAULT_ERA,
    DEFAULT_NAMES,
    Backend,
    SemanticsName,
    is_backend,
)
from virtmodel.machine.kvm.errors import KvmError, refuse
from virtmodel.machine.kvm.first_run import mmio_claimed, vcpu_first_run
from virtmodel.machine.kvm.its import ItsDevice
from virtmodel.machine.kvm.memslots import KVM_MEM_READONLY, Memslots, set_memslot
from virtmodel.machine.kvm.routing import Route, set_gsi_routing
from virtmodel.machine.kvm.semantics import HostCaps, Semantics, get_semantics
from virtmodel.machine.kvm.state import VgicState
from virtmodel.machine.kvm.vcpu import Vcpu
from virtmodel.machine.kvm.vmcaps import Ioeventfd, VmSetupCalls

if TYPE_CHECKING:
    from virtmodel.machine.kvm.host import HostVm


@overload
def create_vm(
    ipa_bits: int = ...,
    semantics: SemanticsName = ...,
    host: HostCaps | None = ...,
    backend: Literal["sim"] = ...,
) -> Vm: ...
@overload
def create_vm(
    ipa_bits: int = ...,
    semantics: SemanticsName = ...,
    host: HostCaps | None = ...,
    *,
    backend: Literal["host"],
) -> HostVm: ...


def create_vm(
    ipa_bits: int = c.KVM_DEFAULT_IPA_BITS,
    semantics: SemanticsName = DEFAULT_ERA,
    host: HostCaps | None = None,
    backend: Backend = "sim",
) -> Vm | HostVm:
    """KVM_CREATE_VM: a VM with *ipa_bits* of guest physical address space.

    ``semantics`` picks the kernel (:data:`~virtmodel.machine.kvm.eras.ERAS`:
    "v6.1", alias "mainline"; "v4.8", "v4.8-rc1"). The 2016 kernels predate
    KVM_VM_TYPE_ARM_IPA_SIZE (v4.20) and only make 40-bit VMs.

    ``backend="host"`` issues the real ioctls on this host's /dev/kvm
    instead (:mod:`virtmodel.machine.kvm.host`); the host's kernel answers,
    so *semantics* and *host* must stay at their defaults.

    Raises:
        KvmError: EINVAL when *ipa_bits* is outside 32..host limit (v6.1)
            or is not 40 (2016 kernels); the host kernel's errno.
        KvmUnavailable: ``backend="host"`` on a host without usable KVM.
        ValueError: *semantics* or *backend* is unknown, or *semantics* or
            *host* is given with ``backend="host"``.
    """
    if backend == "host":
        if semantics not in DEFAULT_NAMES or host is not None:
            msg = "backend='host': the host's own kernel answers; drop semantics/host"
            raise ValueError(msg)
        from virtmodel.machine.kvm.host import create_host_vm

        return create_host_vm(ipa_bits)
    if not is_backend(backend):
        msg = f"KVM backend {backend!r} is not {' or '.join(map(repr, BACKENDS))}"
        raise ValueError(msg)
    sem = get_semantics(semantics)
    host = host if host is not None else HostCaps()
    head = f"KVM_CREATE_VM(ipa_bits={ipa_bits})"
    if sem.ipa_size_type:
        if not c.KVM_MIN_IPA_BITS <= ipa_bits <= host.ipa_limit:
            low, high = c.KVM_MIN_IPA_BITS, host.ipa_limit
            reason = f"IPA size must be {low}..{high} bits on this host"
            raise KvmError(errno.EINVAL, head, reason)
    elif ipa_bits != c.KVM_DEFAULT_IPA_BITS:
        reason = f"kernel {sem.name} has no IPA size VM type; every VM has 40 bits"
        raise KvmError(errno.EINVAL, head, reason)
    return Vm(ipa_bits, sem, host)


@final
class Vm(VmSetupCalls):
    """A VM: its vCPUs, its KVM devices and the record of every call.

    Create it with :func:`create_vm`.

    Raises:
        KvmError: From :meth:`create_vcpu` and :meth:`create_device`.
    """

    def __init__(self, ipa_bits: int, semantics: Semantics, host: HostCaps) -> None:
        #: Guest physical address bits.
        self.ipa_bits = ipa_bits
        #: The simulated kernel.
        self.semantics = semantics
        #: The simulated host.
        self.host = host
        #: vCPUs in creation order.
        self.vcpus: list[Vcpu] = []
        #: Every device created, in creation order.
        self.devices: list[KvmDevice] = []
        #: The VM-wide vGIC state.
        self.vgic = VgicState()
        #: Whether any vCPU completed a first run.
        self.any_vcpu_has_run = False
        #: The call record and its observers.
        self.log = CallLog(self._check_alive)
        #: The most vCPUs the VM may have: the host's limit, then its vGIC's.
        self.max_vcpus = host.max_vcpus
        #: Killed by a failed first-run vGIC mapping (6.1): every call is EIO.
        self.dead = False
        #: The register width the first initialised vCPU fixed (None: not yet).
        self.el1_32bit: bool | None = None
        #: A PMU event filter was set.
        self.pmu_filtered = False
        #: The GSI routing table (KVM_SET_GSI_ROUTING).
        self.routes: tuple[Route, ...] = ()
        #: Guest memory slots: slot number -> (guest physical base, size, flags).
        self.memslots: Memslots = {}
        #: Whether the calling process has file descriptor *fd* open (the
        #: VFIO device looks descriptors up); none by default.
        self.open_file: Callable[[int], bool] = lambda fd: False
        #: Assigned ioeventfds (KVM_IOEVENTFD), and the eventfds that exist.
        self.ioeventfds: list[Ioeventfd] = []
        self.eventfds: set[int] = set()
        self._next_fd = 100  # simulated descriptors, clear of real-looking ones

    def _check_alive(self) -> None:
        if self.dead:
            refuse(errno.EIO, "the VM is dead: an earlier first run failed")

    def __repr__(self) -> str:
        sem, vcpus = self.semantics.name, len(self.vcpus)
        return f"<Vm {sem} ipa_bits={self.ipa_bits} vcpus={vcpus}>"

    @property
    def ipa_size(self) -> int:
        """Bytes of guest physical address space."""
        return 1 << self.ipa_bits

    @property
    def calls(self) -> list[KvmCall]:
        """Every call this VM received, in order."""
        return self.log.calls

    @property
    def its_devices(self) -> list[ItsDevice]:
        """The ITS devices, in creation order."""
        return [d for d in self.devices if isinstance(d, ItsDevice)]

    def has_its(self) -> bool:
        """Whether LPIs work: a GICv3 VM with an ITS (vgic_has_its)."""
        return self.vgic.model == c.KVM_DEV_TYPE_ARM_VGIC_V3 and bool(self.its_devices)

    def add_observer(self, before: Observer | None, after: Observer | None) -> None:
        """Watch every call: *before* gets it pending and may raise to veto it.

        A vetoed call never reaches the kernel model and is not recorded;
        *after* gets the finished record, success or failure.
        """
        self.log.add_observer(before, after)

    def vgic_init(self) -> None:
        """Run vgic_init: freeze the SPI count (default 224), mark initialized."""
        if self.vgic.initialized:
            return
        if not self.vgic.nr_spis:
            self.vgic.nr_spis = c.VGIC_NR_IRQS_LEGACY - c.VGIC_NR_PRIVATE_IRQS
        for vcpu in self.vcpus:  # vgic_v3_enable: the CPU interface's limits
            vcpu.state.pri_bits = self.host.ich_pri_bits
            vcpu.state.id_bits = self.host.ich_id_bits
        self.vgic.initialized = True

    def create_vcpu(self, vcpu_id: int, *, init: bool = True) -> Vcpu:
        """KVM_CREATE_VCPU followed by KVM_ARM_VCPU_INIT, as QEMU issues them.

        With ``init=False`` the vCPU is left uninitialised (MPIDR 0, KVM_RUN
        answers ENOEXEC) until :meth:`Vcpu.init`, the separate call.

        Raises:
            KvmError: EINVAL (id or count beyond the limit, or the new
                redistributor frame fails the layout check), EBUSY (vGIC
                already initialized), EEXIST (id taken).
            ValueError: *vcpu_id* is not an unsigned 32-bit integer.
        """
        check_int("vcpu_id", vcpu_id, 32)
        pending = KvmCall(
            seq=-1,
            ioctl="KVM_CREATE_VCPU",
            device=f"vcpu{vcpu_id}",
            group=None,
            attr=None,
            value=vcpu_id,
            resource="kvm.vcpu.create",
        )
        created: list[Vcpu] = []

        def action() -> int:
            created.append(new_vcpu(self, vcpu_id, init))
            return 0

        self.log.invoke(pending, action)
        return created[0]

    @overload
    def create_device(
        self, type_id: int, test: Literal[False] = False
    ) -> KvmDevice: ...
    @overload
    def create_device(self, type_id: int, test: Literal[True]) -> None: ...
    @overload
    def create_device(self, type_id: int, test: bool) -> KvmDevice | None: ...

    def create_device(self, type_id: int, test: bool = False) -> KvmDevice | None:
        """KVM_CREATE_DEVICE; ``test=True`` (KVM_CREATE_DEVICE_TEST) only probes.

        Raises:
            KvmError: ENODEV (type not available on this host), EEXIST (a
                vGIC exists), EBUSY (a vCPU has run), E2BIG (too many vCPUs
                for the model).
            ValueError: *type_id* is not an unsigned 32-bit integer.
        """
        check_int("type", type_id, 32)
        pending = KvmCall(
            seq=-1,
            ioctl="KVM_CREATE_DEVICE",
            device=device_label(type_id, len(self.its_devices)),
            group=None,
            attr="KVM_CREATE_DEVICE_TEST" if test else None,
            value=type_id,
            resource=create_resource(type_id),
        )
        created: list[KvmDevice] = []

        def action() -> int:
            device = new_device(self, type_id, test, pending.device)
            if device is not None:
                created.append(device)
            return 0

        self.log.invoke(pending, action)
        return created[0] if created else None

    def first_run(self, vcpu: Vcpu) -> None:
        """Run kvm_arch_vcpu_run_pid_change for *vcpu*'s first KVM_RUN.

        Raises:
            Refusal: ENXIO, EINVAL or EBUSY (see :func:`first_run.vcpu_first_run`).
        """
        vcpu_first_run(self, vcpu)

    def preferred_target(self) -> int:
        """KVM_ARM_PREFERRED_TARGET: the target KVM_ARM_VCPU_INIT wants.

        Raises:
            KvmError: EIO on a dead VM.
        """
        pending = KvmCall(
            seq=-1,
            ioctl="KVM_ARM_PREFERRED_TARGET",
            device="vm",
            group=None,
            attr=None,
            value=None,
            resource="kvm.vm.preferred_target",
        )
        return self.log.invoke(pending, lambda: u.KVM_ARM_TARGET_GENERIC_V8)

    def set_user_memory_region(
        self, slot: int, base: int, size: int, flags: int = 0
    ) -> None:
        """KVM_SET_USER_MEMORY_REGION: back [base, base+size) with memory.

        A *size* of 0 deletes the slot; an existing slot may move to another
        *base* (same size) and change its *flags* but for KVM_MEM_READONLY.
        The checks are Linux 6.1's (:mod:`.memslots`). The record's value is
        *base*; slot, flags and size follow it (``slot=3, flags=0,
        size=0x1000``), as the lab's tracer spells QEMU's calls.

        Raises:
            KvmError: EINVAL (bad slot or flags, unaligned, wrapping or too
                large, a missing slot to delete, an existing slot's size or
                read-only flag changed), EEXIST (overlaps another slot),
                EFAULT (ends past the IPA space); EIO on a dead VM.
            ValueError: *slot* or *flags* is not an unsigned 32-bit integer,
                *base* or *size* not an unsigned 64-bit one.
        """
        check_int("slot", slot, 32)
        check_int("flags", flags, 32)
        for name, number in (("base", base), ("size", size)):
            check_int(name, number, 64)

        def action() -> int:
            set_memslot(self.memslots, self.ipa_size, slot, base, size, flags)
            return 0

        pending = KvmCall(
            seq=-1,
            ioctl="KVM_SET_USER_MEMORY_REGION",
            device="vm",
            group=None,
            attr=None,
            value=base,
            resource="kvm.vm.memory",
            args=memory_region_args(slot, flags, size),
        )
        self.log.invoke(pending, action)

    def record_creation(self) -> None:
        """Record the KVM_CREATE_VM that made this VM, its type the IPA size.

        :func:`create_vm` runs before anyone can observe the VM; an owner
        that wants the creation in its trace calls this after adding its
        observers.
        """
        call = KvmCall(
            -1, "KVM_CREATE_VM", "vm", None, None, self.ipa_bits, "kvm.vm.create"
        )
        self.log.invoke(call, lambda: 0)

    def set_gsi_routing(self, routes: Sequence[Route], flags: int = 0) -> None:
        """KVM_SET_GSI_ROUTING: replace the VM's routing table with *routes*.

        Raises:
            KvmError: EINVAL for a table 6.1 refuses (:func:`check_routes`);
                EIO on a dead VM.
            ValueError: A number is not an unsigned 32-bit integer.
        """
        set_gsi_routing(self, routes, flags)

    def in_memslot(self, ipa: int, *, writable: bool = False) -> bool:
        """Whether guest physical address *ipa* is backed by a memory slot.

        With *writable*, a read-only slot (KVM_MEM_READONLY) does not count:
        the kernel's host-address lookup for writing fails there.
        """
        return any(
            b <= ipa < b + n and not (writable and flags & KVM_MEM_READONLY)
            for b, n, flags in self.memslots.values()
        )

    def mmio_claimed(self, ipa: int) -> bool:
        """Whether a guest access to *ipa* is handled by an in-kernel device."""
        return mmio_claimed(self, ipa)
