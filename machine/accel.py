"""Accelerators: TCG (everything in userspace) and a simulated KVM.

The accelerator is created in phase ACCEL_CREATED, as in QEMU. With KVM the
interrupt controller lives in the (simulated) kernel: devices create KVM
devices through :attr:`KvmAccel.vm`, and every ioctl lands in the machine
trace as it happens.
"""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Callable
from typing import TYPE_CHECKING

from virtmodel.machine import kvm
from virtmodel.machine.errors import PhaseError
from virtmodel.machine.kvm import uapi
from virtmodel.machine.kvm.eras import (
    BACKENDS,
    DEFAULT_ERA,
    DEFAULT_NAMES,
    SEMANTICS_NAMES,
    Backend,
    Era,
    SemanticsName,
    is_backend,
    is_semantics_name,
)
from virtmodel.machine.kvm.semantics import get_semantics
from virtmodel.machine.kvm_memslots import KvmMemoryListener

if TYPE_CHECKING:
    from virtmodel.machine.kvm.host.device import HostDevice
    from virtmodel.machine.kvm.host.vcpu import HostVcpu
    from virtmodel.machine.kvm.host.vm import HostVm
    from virtmodel.machine.machine import Machine

    #: A KVM VM: the simulator's or this host's real one (the same API).
    KvmVm = kvm.Vm | HostVm
    KvmVcpu = kvm.Vcpu | HostVcpu
    #: A KVM device (vGIC, ITS) made by either VM.
    KvmDeviceHandle = kvm.KvmDevice | HostDevice

#: Kernel eras the simulated KVM can answer as (see docs/kvm.md); defined
#: with the backends in :mod:`virtmodel.machine.kvm.eras`.
SEMANTICS = SEMANTICS_NAMES


class Accelerator:
    """What runs the guest CPUs; subclasses say whether the GIC is in-kernel."""

    #: Name as given to ``-accel``.
    name = "none"
    #: Whether the interrupt controller is emulated by the kernel.
    in_kernel_irqchip = False

    def attach(self, machine: Machine) -> None:
        """Create the accelerator's state for *machine* (phase ACCEL_CREATED)."""

    def create_vcpu(
        self, index: int, mpidr: int, *, pmu: bool = False, host_cpu: bool = False
    ) -> None:
        """Create the vCPU for CPU *index*; TCG has nothing to create."""

    def reset_vcpu(self, index: int) -> None:
        """Reset CPU *index*'s vCPU (QEMU's CPU reset); TCG has no vCPU."""

    def run_vcpus(self) -> None:
        """Run every vCPU once, as the first ``KVM_RUN`` or TCG's first step."""

    def describe(self) -> str:
        """Return a one-line description for traces."""
        return self.name


class TcgAccel(Accelerator):
    """QEMU's binary translator: every device is a userspace model."""

    name = "tcg"


class KvmAccel(Accelerator):
    """Linux KVM on an arm64 host: simulated, or this host's real one.

    Args:
        semantics: Which kernel answers: "v6.1" (alias "mainline"), "v4.8"
            or "v4.8-rc1".
        ipa_bits: The VM's IPA size; the board may set it before attach,
            as QEMU's ``virt_kvm_type`` does from the memory map.
        backend: "sim" (default) or "host": the real /dev/kvm (raises
            :class:`~virtmodel.machine.kvm.host.KvmUnavailable` at once when
            this host cannot do it).
    """

    name = "kvm"
    in_kernel_irqchip = True

    def __init__(
        self,
        semantics: SemanticsName = DEFAULT_ERA,
        ipa_bits: int = 40,
        backend: Backend = "sim",
        host: kvm.HostCaps | None = None,
    ) -> None:
        if not is_backend(backend):
            msg = f"KVM backend {backend!r} is not {' or '.join(map(repr, BACKENDS))}"
            raise ValueError(msg)
        if backend == "host":
            if semantics not in DEFAULT_NAMES:
                msg = (
                    f"kernel semantics {semantics!r} is the simulator's; "
                    "with the host backend the host's own kernel answers"
                )
                raise ValueError(msg)
            from virtmodel.machine.kvm.host import check_available

            check_available()  # one line and nothing open when it cannot work
        if not is_semantics_name(semantics):
            msg = (
                f"kernel semantics {semantics!r} is not one of "
                f"{', '.join(repr(s) for s in SEMANTICS_NAMES)}"
            )
            raise ValueError(msg)
        self.semantics: SemanticsName = semantics
        # Without KVM_CAP_ARM_VM_IPA_SIZE QEMU asks for the default VM type.
        era = get_semantics(semantics)
        self.ipa_bits = ipa_bits if era.ipa_size_type else kvm.KVM_DEFAULT_IPA_BITS
        #: "sim" (the simulated kernel) or "host" (this host's /dev/kvm).
        self.backend: Backend = backend
        #: What the host offers. Simulated 6.1 answers as the lab's host
        #: (GICv3 without GICv2 emulation), where it was measured; the 2016
        #: kernels' host has none of stolen time, SVE and pointer
        #: authentication, which KVM gained later. With the host backend the
        #: kernel is asked at attach (KVM_CHECK_EXTENSION), as QEMU asks it.
        self.host = host or _default_host(era.name)
        #: The VM, once :meth:`attach` created it.
        self.vm: KvmVm | None = None
        self.vcpus: dict[int, KvmVcpu] = {}
        #: KVM_ARM_VCPU_INIT features of each vCPU, by CPU index.
        self.features: dict[int, int] = {}

    def attach(self, machine: Machine) -> None:
        """Create the VM and route every ioctl into the machine trace."""
        if self.backend == "host":
            vm = kvm.create_vm(ipa_bits=self.ipa_bits, backend="host")
            self.vm = vm
            self.host = _probed_host(vm.check_extension)
        else:
            self.vm = kvm.create_vm(
                ipa_bits=self.ipa_bits, semantics=self.semantics, host=self.host
            )
        self.vm.add_observer(before=machine.on_kvm_call, after=machine.on_kvm_result)
        self.vm.record_creation()
        qemu_vm_setup(self.vm)
        # QEMU's kvm_init registers its memory listener before any board
        # code runs: every RAM or ROM device region mapped later gets a slot.
        KvmMemoryListener(self.vm).listen(machine.memory)

    @property
    def attached_vm(self) -> KvmVm:
        """The VM; a KVM device is only realized after :meth:`attach`.

        Raises:
            PhaseError: The accelerator is not attached yet.
        """
        if self.vm is None:
            operation, needed, current = "a KVM call", "ACCEL_CREATED", "NO_MACHINE"
            raise PhaseError(operation, needed, current)
        return self.vm

    def probe_vgic(self) -> frozenset[int]:
        """Return the vGIC versions the kernel can create (QEMU's vgic probe).

        Two KVM_CREATE_DEVICE calls with the TEST flag, GICv3 first; a
        refusal is the answer "no", not a failure.
        """
        found = set()
        for version, type_id in (
            (3, kvm.KVM_DEV_TYPE_ARM_VGIC_V3),
            (2, kvm.KVM_DEV_TYPE_ARM_VGIC_V2),
        ):
            try:
                self.attached_vm.create_device(type_id, test=True)
            except kvm.KvmError:
                continue
            found.add(version)
        return frozenset(found)

    def vcpu_features(self, *, pmu: bool, host_cpu: bool) -> int:
        """Return the KVM_ARM_VCPU_INIT features QEMU 7.2 asks for a CPU.

        PSCI 0.2 always (every kernel this models has it); PMUv3 when the CPU
        has a PMU and the host can give one; SVE and both pointer
        authentication halves when the CPU is the host's (``host``/``max``)
        and the host has them (QEMU copies the host's ID registers).
        """
        host = self.host
        features = 1 << uapi.KVM_ARM_VCPU_PSCI_0_2
        if pmu and host.pmu_v3:
            features |= 1 << uapi.KVM_ARM_VCPU_PMU_V3
        if host_cpu and host.sve:
            features |= 1 << uapi.KVM_ARM_VCPU_SVE
        if host_cpu and host.ptrauth:
            features |= 1 << uapi.KVM_ARM_VCPU_PTRAUTH_ADDRESS
            features |= 1 << uapi.KVM_ARM_VCPU_PTRAUTH_GENERIC
        return features

    def create_vcpu(
        self, index: int, mpidr: int, *, pmu: bool = False, host_cpu: bool = False
    ) -> None:
        """Create CPU *index*'s vCPU as QEMU's ``kvm_arch_init_vcpu`` does.

        KVM_CREATE_VCPU, KVM_ARM_VCPU_INIT with the CPU's features, and
        KVM_ARM_VCPU_FINALIZE when it has SVE (QEMU's register reads and
        writes between them are not modelled).
        """
        features = self.vcpu_features(pmu=pmu, host_cpu=host_cpu)
        vcpu = self.attached_vm.create_vcpu(index, init=False)
        self.vcpus[index] = vcpu
        self.features[index] = features
        vcpu.init(features)
        if features >> uapi.KVM_ARM_VCPU_SVE & 1:
            vcpu.finalize(uapi.KVM_ARM_VCPU_SVE)

    def reset_vcpu(self, index: int) -> None:
        """Reset the vCPU: KVM_ARM_VCPU_INIT again with the same features."""
        vcpu = self.vcpus.get(index)
        if vcpu is not None:
            vcpu.init(self.features[index])

    def run_vcpus(self) -> None:
        """Issue the first ``KVM_RUN`` on every vCPU, lowest index first."""
        for index in sorted(self.vcpus):
            self.vcpus[index].run()

    def close(self) -> None:
        """Release the VM: the host backend's fds and mappings (idempotent)."""
        close = getattr(self.vm, "close", None)
        if close is not None:
            close()

    def describe(self) -> str:
        """Return e.g. ``kvm (kernel v4.8-rc1, 40-bit IPA)``."""
        if self.backend == "host":
            return f"kvm (host kernel {platform.release()}, {self.ipa_bits}-bit IPA)"
        return f"kvm (kernel {self.semantics}, {self.ipa_bits}-bit IPA)"


#: How many ioeventfds QEMU's probe of the kernel's I/O bus assigns.
PROBE_IOEVENTFDS = 7


def qemu_vm_setup(vm: KvmVm) -> None:
    """Make the VM-wide calls QEMU 7.2's ``kvm_init`` makes after creating a VM.

    Manual dirty-log protection with the offered manual-protect and
    initially-set bits, when any is offered; NISV_TO_USER when offered; then
    the probe of the kernel's I/O bus: up to seven PIO ioeventfds on port 0,
    two bytes, matching 0..6, assigned until one is refused, then the
    assigned ones deassigned last first (each eventfd closed after). The
    probe's answer (whether all seven were taken) only steers QEMU's later
    device choices, none of which are modelled.
    """
    manual = vm.check_extension(uapi.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) & (
        uapi.KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | uapi.KVM_DIRTY_LOG_INITIALLY_SET
    )
    if manual:
        vm.enable_cap(uapi.KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, manual)
    if vm.check_extension(uapi.KVM_CAP_ARM_NISV_TO_USER):
        vm.enable_cap(uapi.KVM_CAP_ARM_NISV_TO_USER)
    assign = uapi.KVM_IOEVENTFD_FLAG_PIO | uapi.KVM_IOEVENTFD_FLAG_DATAMATCH
    fds: list[int] = []
    for match in range(PROBE_IOEVENTFDS):
        fd = vm.eventfd()
        try:
            vm.ioeventfd(fd, 0, 2, assign, match)
        except kvm.KvmError:
            vm.close_eventfd(fd)
            break
        fds.append(fd)
    for match in reversed(range(len(fds))):
        deassign = assign | uapi.KVM_IOEVENTFD_FLAG_DEASSIGN
        vm.ioeventfd(fds[match], 0, 2, deassign, match)
        vm.close_eventfd(fds[match])


def _default_host(era: Era) -> kvm.HostCaps:
    if era == DEFAULT_ERA:
        return kvm.LAB_HOST
    return dataclasses.replace(kvm.HostCaps(), pvtime=False, sve=False, ptrauth=False)


def _probed_host(check: Callable[[int], int]) -> kvm.HostCaps:
    """The optional vCPU features this host's KVM offers, as QEMU probes them."""
    return kvm.HostCaps(
        pmu_v3=check(uapi.KVM_CAP_ARM_PMU_V3) > 0,
        sve=check(uapi.KVM_CAP_ARM_SVE) > 0,
        ptrauth=check(uapi.KVM_CAP_ARM_PTRAUTH_ADDRESS) > 0
        and check(uapi.KVM_CAP_ARM_PTRAUTH_GENERIC) > 0,
        pvtime=check(uapi.KVM_CAP_STEAL_TIME) > 0,
    )
