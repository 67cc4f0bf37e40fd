import pytest

from virtmodel.machine.errors import IrqWiringError
from virtmodel.machine.irq import IrqKind, IrqMap


@pytest.fixture
def irqs():
    return IrqMap(num_spis=64, num_cpus=2)


def test_spi_and_ppi_map_to_intids(irqs):
    spi = irqs.connect("/machine/uart0", 0, "/machine/gic", IrqKind.SPI, 1)
    ppi = irqs.connect("/machine/cpu1", 0, "/machine/gic", IrqKind.PPI, 14, cpu=1)

    assert (spi.intid, ppi.intid) == (33, 30)
    assert len(irqs) == 2


def test_an_input_driven_twice_is_refused(irqs):
    irqs.connect("/machine/uart0", 0, "/machine/gic", IrqKind.SPI, 1)

    with pytest.raises(
        IrqWiringError, match="already driven by /machine/uart0"
    ) as info:
        irqs.connect("/machine/rtc", 0, "/machine/gic", IrqKind.SPI, 1)

    assert info.value.source == "/machine/rtc"
    assert info.value.line == "SPI 1"


def test_an_output_wired_twice_is_refused(irqs):
    irqs.connect("/machine/uart0", 0, "/machine/gic", IrqKind.SPI, 1)

    with pytest.raises(IrqWiringError, match="output 0 already drives"):
        irqs.connect("/machine/uart0", 0, "/machine/gic", IrqKind.SPI, 2)


@pytest.mark.parametrize(
    ("kind", "number", "cpu"),
    [
        (IrqKind.SPI, 64, None),
        (IrqKind.SPI, -1, None),
        (IrqKind.PPI, 16, 0),
        (IrqKind.PPI, 3, 2),
        (IrqKind.PPI, 3, None),
    ],
)
def test_out_of_range_lines_are_refused(irqs, kind, number, cpu):
    with pytest.raises(IrqWiringError):
        irqs.connect("/machine/dev", 0, "/machine/gic", kind, number, cpu=cpu)

    assert len(irqs) == 0


def test_disconnect_source_frees_its_inputs(irqs):
    irqs.connect("/machine/uart0", 0, "/machine/gic", IrqKind.SPI, 1)
    irqs.disconnect_source("/machine/uart0")

    line = irqs.connect("/machine/rtc", 0, "/machine/gic", IrqKind.SPI, 1)

    assert line.source == "/machine/rtc"


def test_disconnect_removes_that_line_only_and_says_whether_it_did(irqs):
    first = irqs.connect("/machine/uart0", 0, "/machine/gic", IrqKind.SPI, 1)
    other = irqs.connect("/machine/uart0", 1, "/machine/gic", IrqKind.SPI, 2)

    assert irqs.disconnect(first) is True
    assert irqs.disconnect(first) is False  # already gone
    # Same output rewired elsewhere: the old line is not the wired one.
    again = irqs.connect("/machine/uart0", 0, "/machine/gic", IrqKind.SPI, 3)
    assert irqs.disconnect(first) is False
    assert list(irqs) == [other, again]
    # Its input is free again.
    assert irqs.connect("/machine/rtc", 0, "/machine/gic", IrqKind.SPI, 1).number == 1
