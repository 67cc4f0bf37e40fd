"""Interrupt wiring from device output lines to GIC inputs.

A GIC input is an SPI (shared, numbered from 0 = INTID 32) or a per-CPU PPI
(0..15 = INTID 16..31). Each device output drives at most one input and each
input is driven by at most one output, as a ``qemu_irq`` connection in QEMU;
wiring twice or out of range raises :class:`~machine.errors.IrqWiringError`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import final

from virtmodel.machine.errors import IrqWiringError

#: PPIs per CPU interface.
NUM_PPIS = 16
#: INTID of the first PPI and of the first SPI.
PPI_BASE = 16
SPI_BASE = 32


class IrqKind(enum.Enum):
    """The two kinds of GIC input a device line can drive."""

    SPI = "spi"
    PPI = "ppi"


@final
@dataclass(frozen=True, slots=True)
class IrqLine:
    """One wire: a device output to a GIC input."""

    source: str
    output: int
    sink: str
    kind: IrqKind
    number: int
    cpu: int | None = None

    @property
    def intid(self) -> int:
        """The GIC interrupt ID the line raises."""
        base = SPI_BASE if self.kind is IrqKind.SPI else PPI_BASE
        return base + self.number

    def __str__(self) -> str:
        cpu = f" cpu{self.cpu}" if self.cpu is not None else ""
        return (
            f"{self.source}[{self.output}] -> {self.sink} "
            f"{self.kind.value.upper()} {self.number}{cpu} (INTID {self.intid})"
        )


@final
class IrqMap:
    """All interrupt wires of a machine, checked as they are made.

    Example:
        >>> irqs = IrqMap(num_spis=256, num_cpus=1)
        >>> irqs.connect("/machine/uart0", 0, "/machine/gic", IrqKind.SPI, 1).intid
        33
    """

    def __init__(self, num_spis: int = 256, num_cpus: int = 1) -> None:
        self.num_spis = num_spis
        self.num_cpus = num_cpus
        self._by_output: dict[tuple[str, int], IrqLine] = {}
        self._by_input: dict[tuple[str, IrqKind, int, int | None], IrqLine] = {}

    def connect(
        self,
        source: str,
        output: int,
        sink: str,
        kind: IrqKind,
        number: int,
        *,
        cpu: int | None = None,
    ) -> IrqLine:
        """Wire output *output* of *source* to a GIC input and return the line.

        Raises:
            IrqWiringError: The input does not exist, or the output or the
                input is already wired.
        """
        line = IrqLine(source, output, sink, kind, number, cpu)
        where = f"{kind.value.upper()} {number}" + (
            f" cpu{cpu}" if cpu is not None else ""
        )
        limit = self.num_spis if kind is IrqKind.SPI else NUM_PPIS
        if not 0 <= number < limit:
            problem = f"out of range, the GIC has {kind.value.upper()}s 0..{limit - 1}"
            raise IrqWiringError(source, sink, where, problem)
        if kind is IrqKind.PPI and (cpu is None or not 0 <= cpu < self.num_cpus):
            problem = f"a PPI needs a cpu in 0..{self.num_cpus - 1}"
            raise IrqWiringError(source, sink, where, problem)
        if (source, output) in self._by_output:
            taken = self._by_output[(source, output)]
            problem = (
                f"output {output} already drives {taken.sink} "
                f"{taken.kind.value.upper()} {taken.number}"
            )
            raise IrqWiringError(source, sink, where, problem)
        key = (sink, kind, number, cpu)
        if key in self._by_input:
            problem = f"already driven by {self._by_input[key].source}"
            raise IrqWiringError(source, sink, where, problem)
        self._by_output[(source, output)] = line
        self._by_input[key] = line
        return line

    def resize(self, num_spis: int, num_cpus: int) -> None:
        """Give the map the inputs of the GIC just realized, keeping every wire.

        Wires made before the GIC (a UART wired first) stay; a wire the new
        GIC cannot take makes the resize fail and changes nothing.

        Raises:
            IrqWiringError: An existing wire drives an SPI or a CPU the new
                GIC does not have.
        """
        for line in self._by_output.values():
            where = f"{line.kind.value.upper()} {line.number}"
            if line.kind is IrqKind.SPI and line.number >= num_spis:
                problem = f"out of range, the GIC has SPIs 0..{num_spis - 1}"
                raise IrqWiringError(line.source, line.sink, where, problem)
            if line.cpu is not None and line.cpu >= num_cpus:
                problem = f"cpu{line.cpu} is beyond the GIC's {num_cpus} CPUs"
                raise IrqWiringError(line.source, line.sink, where, problem)
        self.num_spis = num_spis
        self.num_cpus = num_cpus

    def disconnect(self, line: IrqLine) -> bool:
        """Remove *line* if it is wired; return whether it was.

        Used to undo one wire of a failed realize.
        """
        if self._by_output.get((line.source, line.output)) != line:
            return False
        del self._by_output[(line.source, line.output)]
        del self._by_input[(line.sink, line.kind, line.number, line.cpu)]
        return True

    def disconnect_source(self, source: str) -> list[IrqLine]:
        """Remove every wire driven by *source* and return them."""
        gone = [line for line in self._by_output.values() if line.source == source]
        for line in gone:
            del self._by_output[(line.source, line.output)]
            del self._by_input[(line.sink, line.kind, line.number, line.cpu)]
        return gone

    def __iter__(self) -> Iterator[IrqLine]:
        return iter(
            sorted(
                self._by_output.values(),
                key=lambda ln: (ln.kind.value, ln.cpu or 0, ln.number),
            )
        )

    def __len__(self) -> int:
        return len(self._by_output)
