"""Build, boot and drop many virt machines; find what outlives them.

Shared by ``tests/faults/test_machine_memory.py`` (about 50 machines, weakref
checks) and ``bench/machines_memory.py`` (1,000 machines, tracemalloc).
"""

from __future__ import annotations

import contextlib
import gc
import weakref
from collections import Counter
from typing import Any, Final

from virtmodel.devices.its_init import ItsInit
from virtmodel.machine import kvm
from virtmodel.machine.accel import KvmAccel
from virtmodel.machine.boards.virt.board import boot_virt, create_virt
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.errors import MachineFailedError
from virtmodel.machine.kvm.eras import SemanticsName
from virtmodel.machine.machine import Machine

#: (machine options, kernel era, its-init) cycled through; the last one fails
#: on purpose (the 2016 collision), so failed machines are churned too.
VARIANTS: Final[tuple[tuple[dict[str, str], SemanticsName, ItsInit], ...]] = (
    ({"machine": "virt"}, "v6.1", "realize"),
    (
        {"machine": "virt,gic-version=3,its=on", "cpu": "max", "accel": "kvm", "smp": "4"},
        "v6.1",
        "realize",
    ),
    ({"machine": "virt,gic-version=2", "cpu": "cortex-a57", "accel": "kvm"}, "v4.8", "realize"),
    (
        {"machine": "virt,gic-version=3,its=on", "cpu": "max", "accel": "kvm"},
        "v4.8-rc1",
        "realize",
    ),
)  # fmt: skip

#: Classes whose live instances are counted before and after a churn.
WATCHED: Final = (
    "Machine",
    "NotifierRegistry",
    "Vm",
    "VgicDevice",
    "ItsDevice",
    "ArmCpu",
)


def build(index: int) -> Machine:
    """Build and bring up machine *index* (a failure is caught: it is data)."""
    options, era, its_init = VARIANTS[index % len(VARIANTS)]
    config = VirtConfig.from_options(**options)
    machine = create_virt(config, kernel_semantics=era, its_init=its_init)
    with contextlib.suppress(MachineFailedError):
        boot_virt(machine)
    return machine


def refs_of(machine: Machine) -> list[weakref.ref[Any]]:
    """Return weak references to the machine and the objects it owns."""
    objects: list[Any] = [
        machine,
        machine.init_done.registry,
        machine.reset_notifiers,
        machine.memory,
        machine.trace,
        *machine.devices(),
    ]
    if isinstance(machine.accel, KvmAccel):
        vm = machine.accel.vm
        assert isinstance(vm, kvm.Vm)
        objects += [vm, *vm.devices]
    return [weakref.ref(o) for o in objects]


def live_counts() -> Counter[str]:
    """Return how many instances of each :data:`WATCHED` class are alive."""
    gc.collect()
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        name = type(obj).__name__
        if name in WATCHED:
            counts[name] += 1
    return counts


def churn(count: int, start: int = 0) -> list[weakref.ref[Any]]:
    """Build *count* machines one after another, keeping only weak references."""
    refs: list[weakref.ref[Any]] = []
    for i in range(start, start + count):
        refs += refs_of(build(i))
    return refs
