"""QEMU 7.2's machine-init phases, which only move forward one step at a time.

``Phase`` mirrors ``MachineInitPhase``; :class:`PhaseClock` enforces the strict
``current == target - 1`` advance of ``phase_advance`` and turns QEMU's
``phase_check`` asserts into :class:`~machine.errors.PhaseError`, which names
the phase an operation needs.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import final

from virtmodel.machine.errors import PhaseError


class Phase(enum.IntEnum):
    """A machine-init phase, in QEMU 7.2's order."""

    NO_MACHINE = 0
    MACHINE_CREATED = 1
    ACCEL_CREATED = 2
    MACHINE_INITIALIZED = 3
    MACHINE_READY = 4


@final
class PhaseClock:
    """The current phase of one machine, with guards for phase-bound operations.

    Example:
        >>> clock = PhaseClock()
        >>> clock.advance(Phase.MACHINE_CREATED)
        >>> clock.current.name
        'MACHINE_CREATED'
    """

    def __init__(self) -> None:
        self.current = Phase.NO_MACHINE
        self._listeners: list[Callable[[Phase, Phase], None]] = []

    def add_listener(self, listener: Callable[[Phase, Phase], None]) -> None:
        """Call ``listener(old, new)`` after every phase change."""
        self._listeners.append(listener)

    def advance(self, target: Phase) -> None:
        """Move to *target*, which must be exactly the next phase.

        Raises:
            PhaseError: *target* is not the phase after the current one.
        """
        if target != self.current + 1:
            needed = Phase(target - 1).name if target > 0 else "none"
            operation = f"advancing to {target.name}"
            raise PhaseError(operation, needed, self.current.name)
        old, self.current = self.current, target
        for listener in self._listeners:
            listener(old, target)

    def reached(self, phase: Phase) -> bool:
        """Return whether the machine is at *phase* or later (``phase_check``)."""
        return self.current >= phase

    def require(self, operation: str, phase: Phase) -> None:
        """Refuse *operation* unless the machine is exactly in *phase*.

        Raises:
            PhaseError: The machine is in another phase.
        """
        if self.current != phase:
            raise PhaseError(operation, phase.name, self.current.name)

    def require_before(self, operation: str, phase: Phase) -> None:
        """Refuse *operation* once the machine has reached *phase*.

        Raises:
            PhaseError: The machine is at *phase* or later.
        """
        if self.current >= phase:
            raise PhaseError(
                operation, f"a phase before {phase.name}", self.current.name
            )
