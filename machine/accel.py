"""Accelerators: TCG (everything in userspace) and a simulated KVM.

The accelerator is created in phase ACCEL_CREATED, as in QEMU. With KVM the
interrupt controller lives in the (simulated) kernel: devices create KVM
devices through :attr:`KvmAccel.vm`, and every ioctl lands in the machine
trace as it happens.
"""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING

from virtmodel.machine import kvm
from virtmodel.machine.errors import PhaseError

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

#: Kernel eras the simulated KVM can answer as (see docs/kvm.md).
SEMANTICS = kvm.SEMANTICS_NAMES
#: Who answers the KVM calls: the simulator or this host's /dev/kvm.
BACKENDS = ("sim", "host")


class Accelerator:
    """What runs the guest CPUs; subclasses say whether the GIC is in-kernel."""

    #: Name as given to ``-accel``.
    name = "none"
    #: Whether the interrupt controller is emulated by the kernel.
    in_kernel_irqchip = False

    def attach(self, machine: Machine) -> None:
        """Create the accelerator's state for *machine* (phase ACCEL_CREATED)."""

    def create_vcpu(self, index: int, mpidr: int) -> None:
        """Create the vCPU for CPU *index*; TCG has nothing to create."""

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
        self, semantics: str = "v6.1", ipa_bits: int = 40, backend: str = "sim"
    ) -> None:
        if backend not in BACKENDS:
            msg = f"KVM backend {backend!r} is not 'sim' or 'host'"
            raise ValueError(msg)
        if backend == "host":
            if semantics not in ("v6.1", "mainline"):
                msg = (
                    f"kernel semantics {semantics!r} is the simulator's; "
                    "with the host backend the host's own kernel answers"
                )
                raise ValueError(msg)
            from virtmodel.machine.kvm.host import check_available

            check_available()  # one line and nothing open when it cannot work
        if semantics not in SEMANTICS:
            msg = (
                f"kernel semantics {semantics!r} is not one of "
                f"{', '.join(repr(s) for s in SEMANTICS)}"
            )
            raise ValueError(msg)
        self.semantics = semantics
        self.ipa_bits = ipa_bits
        #: "sim" (the simulated kernel) or "host" (this host's /dev/kvm).
        self.backend = backend
        #: The VM, once :meth:`attach` created it.
        self.vm: KvmVm | None = None
        self.vcpus: dict[int, KvmVcpu] = {}

    def attach(self, machine: Machine) -> None:
        """Create the VM and route every ioctl into the machine trace."""
        if self.backend == "host":
            self.vm = kvm.create_vm(ipa_bits=self.ipa_bits, backend="host")
        else:
            self.vm = kvm.create_vm(ipa_bits=self.ipa_bits, semantics=self.semantics)
        self.vm.add_observer(before=machine.on_kvm_call, after=machine.on_kvm_result)

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

    def create_vcpu(self, index: int, mpidr: int) -> None:
        """Issue ``KVM_CREATE_VCPU`` for CPU *index*."""
        self.vcpus[index] = self.attached_vm.create_vcpu(index)

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
