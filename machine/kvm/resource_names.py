"""The names of what a KVM call touches (``KvmCall.resource``), defined once.

A call's resource is a stable dotted name (``kvm.vgic.addr.dist``) that
says what the call reads or writes: a notifier declares the same names in
``reads=``/``writes=`` and strict mode compares the two (docs/kvm.md,
"Resource names"). The names of the attributes and calls KVM defines are
this closed set; a call on an attribute KVM does not define is named by its
pattern instead (``kvm.its.ctrl.<attr>``, ``kvm.vgic.group<n>``, ...), so a
name outside the set says "no such attribute".

A ``Literal``, not an enum: the names are the plain strings a device or a
notifier declares (``resource="kvm.its.addr"``) and a trace, a hazard or a
JSON document shows, and messages that quote them with ``repr`` read as
before; mypy checks every spelling typed as :data:`Resource` against this
one list.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

#: A resource a KVM call touches.
Resource = Literal[
    "kvm.device.create",
    "kvm.its.addr",
    "kvm.its.create",
    "kvm.its.ctrl.init",
    "kvm.its.ctrl.reset",
    "kvm.its.ctrl.restore_tables",
    "kvm.its.ctrl.save_tables",
    "kvm.its.regs",
    "kvm.vcpu.attr.pmu_v3_ctrl",
    "kvm.vcpu.attr.pvtime_ctrl",
    "kvm.vcpu.attr.timer_ctrl",
    "kvm.vcpu.create",
    "kvm.vcpu.finalize",
    "kvm.vcpu.init",
    "kvm.vcpu.mpidr",
    "kvm.vcpu.run",
    "kvm.vfio.group1",
    "kvm.vgic.addr.cpu",
    "kvm.vgic.addr.dist",
    "kvm.vgic.addr.redist",
    "kvm.vgic.cpu_regs",
    "kvm.vgic.cpu_sysregs",
    "kvm.vgic.create",
    "kvm.vgic.ctrl.init",
    "kvm.vgic.ctrl.save_pending_tables",
    "kvm.vgic.dist_regs",
    "kvm.vgic.level_info",
    "kvm.vgic.nr_irqs",
    "kvm.vgic.redist_regs",
    "kvm.vm.create",
    "kvm.vm.enable_cap",
    "kvm.vm.gsi_routing",
    "kvm.vm.ioeventfd",
    "kvm.vm.memory",
    "kvm.vm.preferred_target",
]
#: Every resource name, sorted.
RESOURCES: Final[tuple[Resource, ...]] = get_args(Resource)
#: The in-kernel GIC and ITS base addresses: what QEMU's queued address
#: writes at machine-init-done touch.
ADDRESS_RESOURCES: Final[tuple[Resource, ...]] = (
    "kvm.its.addr",
    "kvm.vgic.addr.cpu",
    "kvm.vgic.addr.dist",
    "kvm.vgic.addr.redist",
)
