"""The machine framework: lifecycle, memory map, IRQs, accelerators, trace.

Boards live in ``machine.boards`` and are not imported here, so the core
never depends on the device models built on it (DESIGN.md §2).

Names are imported on first use (PEP 562), so ``import virtmodel.machine.fdt`` for a
device tree does not pay for the notifier registry and networkx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any as _Any

if TYPE_CHECKING:
    from virtmodel.machine.accel import Accelerator, KvmAccel, TcgAccel
    from virtmodel.machine.errors import (
        AddressConflictError,
        AlignmentError,
        ConfigError,
        IrqWiringError,
        MachineError,
        MachineFailedError,
        NotifierRaisedError,
        PhaseError,
        RealizeFailedError,
        UnknownDeviceError,
    )
    from virtmodel.machine.irq import IrqKind, IrqLine, IrqMap
    from virtmodel.machine.machine import Machine
    from virtmodel.machine.memory import MemoryMap, Region
    from virtmodel.machine.phases import Phase, PhaseClock
    from virtmodel.machine.trace import MachineTrace, TraceEntry

_LAZY = {
    "Accelerator": "virtmodel.machine.accel",
    "AddressConflictError": "virtmodel.machine.errors",
    "AlignmentError": "virtmodel.machine.errors",
    "ConfigError": "virtmodel.machine.errors",
    "IrqKind": "virtmodel.machine.irq",
    "IrqLine": "virtmodel.machine.irq",
    "IrqMap": "virtmodel.machine.irq",
    "IrqWiringError": "virtmodel.machine.errors",
    "KvmAccel": "virtmodel.machine.accel",
    "Machine": "virtmodel.machine.machine",
    "MachineError": "virtmodel.machine.errors",
    "MachineFailedError": "virtmodel.machine.errors",
    "MachineTrace": "virtmodel.machine.trace",
    "MemoryMap": "virtmodel.machine.memory",
    "Phase": "virtmodel.machine.phases",
    "PhaseClock": "virtmodel.machine.phases",
    "NotifierRaisedError": "virtmodel.machine.errors",
    "PhaseError": "virtmodel.machine.errors",
    "RealizeFailedError": "virtmodel.machine.errors",
    "Region": "virtmodel.machine.memory",
    "TcgAccel": "virtmodel.machine.accel",
    "TraceEntry": "virtmodel.machine.trace",
    "UnknownDeviceError": "virtmodel.machine.errors",
}

__all__ = [
    "Accelerator",
    "AddressConflictError",
    "AlignmentError",
    "ConfigError",
    "IrqKind",
    "IrqLine",
    "IrqMap",
    "IrqWiringError",
    "KvmAccel",
    "Machine",
    "MachineError",
    "MachineFailedError",
    "MachineTrace",
    "MemoryMap",
    "NotifierRaisedError",
    "Phase",
    "PhaseClock",
    "PhaseError",
    "RealizeFailedError",
    "Region",
    "TcgAccel",
    "TraceEntry",
    "UnknownDeviceError",
]


def __getattr__(name: str) -> _Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    msg = f"module 'machine' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
