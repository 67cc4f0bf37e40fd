"""A simulated vCPU: KVM_ARM_VCPU_INIT, its attributes, MPIDR and KVM_RUN.

A vCPU made by ``vm.create_vcpu(id)`` is initialised at once, as QEMU always
follows KVM_CREATE_VCPU with KVM_ARM_VCPU_INIT (one record). With
``init=False`` it is not, and :meth:`Vcpu.init` is the separate call with
6.1's rules (arch/arm64/kvm/arm.c, reset.c): the target must be the
preferred one; unknown feature bits answer ENOENT; a second init must repeat
the first one's features (EINVAL); EL1_32BIT must match the VM's other
vCPUs, pointer authentication needs both halves, each feature needs the
host's support (EINVAL). A vCPU never initialised answers ENOEXEC to KVM_RUN
and KVM_SET_ONE_REG.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, final

from virtmodel.machine.kvm import constants as c
from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm import vcpu_attrs
from virtmodel.machine.kvm.calls import KvmCall
from virtmodel.machine.kvm.device import check_int
from virtmodel.machine.kvm.encoding import reset_mpidr
from virtmodel.machine.kvm.errors import refuse
from virtmodel.machine.kvm.state import VcpuState

if TYPE_CHECKING:
    from virtmodel.machine.kvm.vm import Vm

#: KVM_VCPU_MAX_FEATURES of 6.1: feature bits 0..6 exist.
MAX_FEATURES = 7


@final
class Vcpu:
    """A vCPU created with :meth:`Vm.create_vcpu`.

    Raises:
        KvmError: From every call the simulated kernel refuses.
    """

    def __init__(self, vm: Vm, state: VcpuState) -> None:
        #: The VM.
        self.vm = vm
        #: The kernel-side state the vGIC model reads.
        self.state = state

    def __repr__(self) -> str:
        return f"<Vcpu {self.vcpu_id} mpidr=0x{self.mpidr:08x}>"

    @property
    def vcpu_id(self) -> int:
        """The KVM_CREATE_VCPU id."""
        return self.state.vcpu_id

    @property
    def label(self) -> str:
        """Trace name, ``vcpu<id>``."""
        return f"vcpu{self.vcpu_id}"

    @property
    def initialized(self) -> bool:
        """Whether KVM_ARM_VCPU_INIT succeeded on this vCPU."""
        return self.state.initialized

    @property
    def mpidr(self) -> int:
        """MPIDR_EL1: 0 before init, then the reset value or userspace's."""
        return self.state.mpidr

    @mpidr.setter
    def mpidr(self, value: int) -> None:
        check_int("mpidr", value, 64)

        def action() -> int:
            if not self.state.initialized:
                refuse(errno.ENOEXEC, "the vcpu is not initialized (KVM_ARM_VCPU_INIT)")
            self.state.mpidr = value
            return 0

        self._invoke("KVM_SET_ONE_REG", "kvm.vcpu.mpidr", "MPIDR_EL1", value, action)

    def init(
        self, features: int = 0, target: int = u.KVM_ARM_TARGET_GENERIC_V8
    ) -> None:
        """KVM_ARM_VCPU_INIT with *features* (word 0 of the feature bitmap).

        Raises:
            KvmError: EINVAL (wrong target, features differ from the first
                init, unsupported or inconsistent feature), ENOENT (unknown
                feature bit).
            ValueError: *features* or *target* is not a u32.
        """
        check_int("features", features, 32)
        check_int("target", target, 32)

        def action() -> int:
            self._init(features, target)
            return 0

        self._invoke("KVM_ARM_VCPU_INIT", "kvm.vcpu.init", None, features, action)

    def _init(self, features: int, target: int) -> None:
        state = self.state
        if target != u.KVM_ARM_TARGET_GENERIC_V8:
            refuse(errno.EINVAL, f"target {target} is not the host's preferred target")
        # Bit by bit, lowest first, as kvm_vcpu_set_target walks them: bits
        # already walked stay set even when a later bit fails.
        for bit in range(32):
            wanted = bool(features >> bit & 1)
            if wanted and bit >= MAX_FEATURES:
                refuse(errno.ENOENT, f"unknown feature bit {bit}")
            known = bit < MAX_FEATURES
            if state.initialized and known and state.has_feature(bit) != wanted:
                refuse(
                    errno.EINVAL,
                    "a second init must repeat the first one's features",
                )
            if wanted:
                state.features |= 1 << bit
        problem = self._reset_problem()
        if problem is not None:
            state.initialized = False
            state.features = 0
            refuse(errno.EINVAL, problem)
        state.initialized = True
        state.mpidr = reset_mpidr(state.vcpu_id)
        state.power_off = state.has_feature(u.KVM_ARM_VCPU_POWER_OFF)

    def _reset_problem(self) -> str | None:
        # kvm_reset_vcpu: the VM's register width first (it sticks even if
        # a later check fails), then SVE, pointer authentication, the PMU.
        state, vm, host = self.state, self.vm, self.vm.host
        is32 = state.has_feature(u.KVM_ARM_VCPU_EL1_32BIT)
        if vm.el1_32bit is not None:
            if vm.el1_32bit != is32:
                return "EL1_32BIT must match the VM's other vcpus"
        elif is32 and not host.el1_32bit:
            return "the host has no AArch32 EL1"
        else:
            vm.el1_32bit = is32
        if state.has_feature(u.KVM_ARM_VCPU_SVE) and not host.sve:
            return "the host has no SVE"
        pa = state.has_feature(u.KVM_ARM_VCPU_PTRAUTH_ADDRESS)
        pg = state.has_feature(u.KVM_ARM_VCPU_PTRAUTH_GENERIC)
        if (pa or pg) and not (pa and pg and host.ptrauth):
            return (
                "pointer authentication needs both ADDRESS and GENERIC and host support"
            )
        if state.has_feature(u.KVM_ARM_VCPU_PMU_V3) and not host.pmu_v3:
            return "the host has no PMU for KVM"
        return None

    def finalize(self, what: int = u.KVM_ARM_VCPU_SVE) -> None:
        """KVM_ARM_VCPU_FINALIZE: fix the vCPU's SVE vector lengths.

        6.1 (kvm_arm_vcpu_finalize): an uninitialised vCPU answers ENOEXEC;
        only SVE can be finalized, and only on a vCPU initialised with it
        (EINVAL); finalizing twice is EPERM.

        Raises:
            KvmError: ENOEXEC, EINVAL or EPERM as above.
            ValueError: *what* is not a u32.
        """
        check_int("what", what, 32)

        def action() -> int:
            state = self.state
            if not state.initialized:
                refuse(errno.ENOEXEC, "the vcpu is not initialized (KVM_ARM_VCPU_INIT)")
            if what != u.KVM_ARM_VCPU_SVE:
                refuse(errno.EINVAL, f"feature {what} cannot be finalized")
            if not state.has_feature(u.KVM_ARM_VCPU_SVE):
                refuse(errno.EINVAL, "the vcpu was not initialized with SVE")
            if state.sve_finalized:
                refuse(errno.EPERM, "SVE is already finalized")
            state.sve_finalized = True
            return 0

        self._invoke("KVM_ARM_VCPU_FINALIZE", "kvm.vcpu.finalize", None, what, action)

    def set_attr(self, group: int, attr: int, value: int | None = 0) -> None:
        """KVM_SET_DEVICE_ATTR on the vCPU fd; ``value=None`` is a NULL pointer.

        Raises:
            KvmError: The kernel refuses the attribute or its value.
            ValueError: An argument is not an unsigned integer of its width.
        """
        self._attr_call("KVM_SET_DEVICE_ATTR", group, attr, value)

    def get_attr(self, group: int, attr: int, value: int | None = 0) -> int:
        """KVM_GET_DEVICE_ATTR on the vCPU fd; returns the value read.

        Raises:
            KvmError: The kernel refuses the read.
            ValueError: An argument is not an unsigned integer of its width.
        """
        return self._attr_call("KVM_GET_DEVICE_ATTR", group, attr, value)

    def has_attr(self, group: int, attr: int) -> None:
        """KVM_HAS_DEVICE_ATTR on the vCPU fd.

        Raises:
            KvmError: ENXIO for an attribute this vCPU does not have.
            ValueError: An argument is not an unsigned integer of its width.
        """
        self._attr_call("KVM_HAS_DEVICE_ATTR", group, attr, None)

    def _attr_call(self, ioctl: str, group: int, attr: int, value: int | None) -> int:
        check_int("group", group, 32)
        check_int("attr", attr, 64)
        if value is not None:
            check_int("value", value, 8 * vcpu_attrs.value_bytes(group, attr))
        name = u.VCPU_GROUP_NAMES.get(group, f"group {group}")

        def action() -> int:
            if ioctl == "KVM_SET_DEVICE_ATTR":
                vcpu_attrs.set_attr(self, group, attr, value)
                return 0
            if ioctl == "KVM_GET_DEVICE_ATTR":
                return vcpu_attrs.get_attr(self, group, attr, value)
            vcpu_attrs.has_attr(self, group, attr)
            return 0

        resource = f"kvm.vcpu.attr.{name.lower()}"
        label = u.VCPU_ATTR_NAMES.get((group, attr), str(attr))
        return self._invoke(ioctl, resource, label, value, action, group=name)

    def run(self) -> int:
        """KVM_RUN; the VM's first run maps the vGIC resources.

        On 6.1 a failed vGIC mapping kills the VM (every later call answers
        EIO); on the 2016 kernels it wipes the vGIC configuration.

        Raises:
            KvmError: ENOEXEC (not initialised), EPERM (SVE not finalized),
                ENXIO, EINVAL or EBUSY from the first-run checks, EINTR for a
                powered-off vCPU (it waits for a signal).
        """

        def action() -> int:
            state = self.state
            if not state.initialized:
                refuse(errno.ENOEXEC, "the vcpu is not initialized (KVM_ARM_VCPU_INIT)")
            if state.has_feature(u.KVM_ARM_VCPU_SVE) and not state.sve_finalized:
                refuse(errno.EPERM, "SVE is not finalized (KVM_ARM_VCPU_FINALIZE)")
            if not state.has_run_once:
                self.vm.first_run(self)
            self._loaded()
            if state.power_off:
                refuse(errno.EINTR, "the vcpu is powered off and waits for a signal")
            return 0

        return self._invoke("KVM_RUN", "kvm.vcpu.run", None, None, action)

    def _loaded(self) -> None:
        # The run loads the vCPU's CPU interface state into the GIC and saves
        # it back: the GIC raises binary points below its minimum to it.
        vgic, state = self.vm.vgic, self.state
        if vgic.initialized and vgic.model == c.KVM_DEV_TYPE_ARM_VGIC_V3:
            lowest = 7 - self.vm.host.ich_pre_bits  # group 0; group 1 is one more
            state.vmcr_bpr = max(state.vmcr_bpr, lowest)
            state.vmcr_abpr = max(state.vmcr_abpr, lowest + 1)

    def _invoke(
        self,
        ioctl: str,
        resource: str,
        attr: str | None,
        value: int | None,
        action: object,
        group: str | None = None,
    ) -> int:
        pending = KvmCall(
            seq=-1,
            ioctl=ioctl,
            device=self.label,
            group=group,
            attr=attr,
            value=value,
            resource=resource,
        )
        assert callable(action)
        return self.vm.log.invoke(pending, action)
