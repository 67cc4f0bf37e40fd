"""The machine framework: lifecycle, memory map, IRQs, accelerators, trace.

Boards live in ``machine.boards`` and are not imported here, so the core
never depends on the device models built on it (DESIGN.md §2).

Names are imported on first use (PEP 562), so ``import machine.fdt`` for a
device tree does not pay for the notifier registry and networkx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any as _Any

if TYPE_CHECKING:
    from machine.accel import Accelerator, KvmAccel, TcgAccel
    from machine.errors import (
        AddressConflictError,
        AlignmentError,
        ConfigError,
        IrqWiringError,
        MachineError,
        MachineFailedError,
        PhaseError,
        UnknownDeviceError,
    )
    from machine.irq import IrqKind, IrqLine, IrqMap
    from machine.machine import Machine
    from machine.memory import MemoryMap, Region
    from machine.phases import Phase, PhaseClock
    from machine.trace import MachineTrace, TraceEntry

_LAZY = {
    "Accelerator": "machine.accel",
    "AddressConflictError": "machine.errors",
    "AlignmentError": "machine.errors",
    "ConfigError": "machine.errors",
    "IrqKind": "machine.irq",
    "IrqLine": "machine.irq",
    "IrqMap": "machine.irq",
    "IrqWiringError": "machine.errors",
    "KvmAccel": "machine.accel",
    "Machine": "machine.machine",
    "MachineError": "machine.errors",
    "MachineFailedError": "machine.errors",
    "MachineTrace": "machine.trace",
    "MemoryMap": "machine.memory",
    "Phase": "machine.phases",
    "PhaseClock": "machine.phases",
    "PhaseError": "machine.errors",
    "Region": "machine.memory",
    "TcgAccel": "machine.accel",
    "TraceEntry": "machine.trace",
    "UnknownDeviceError": "machine.errors",
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
    "Phase",
    "PhaseClock",
    "PhaseError",
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
