"""The PL011 UART's node and properties."""

from __future__ import annotations

import pytest

from virtmodel.devices import PropertyError
from virtmodel.devices.base import FdtContext
from virtmodel.devices.pl011 import Pl011
from virtmodel.machine.fdt import Fdt


def written(uart: Pl011) -> Fdt:
    fdt = Fdt()
    fdt.add_subnode("/chosen")
    fdt.add_subnode("/secure-chosen")
    uart.fdt_node(fdt, FdtContext({"clk": 0x8000}))
    return fdt


def test_uart_node_lists_properties_as_qemu_writes_them() -> None:
    fdt = written(Pl011("uart0", base=0x9000000, irq=1))

    assert fdt.to_dts().split("pl011@9000000 {\n")[1].split("\t};")[0] == (
        '\t\tclock-names = "uartclk\\0apb_pclk";\n'
        "\t\tclocks = <0x8000 0x8000>;\n"
        "\t\tinterrupts = <0x00 0x01 0x04>;\n"
        "\t\treg = <0x00 0x9000000 0x00 0x1000>;\n"
        '\t\tcompatible = "arm,pl011\\0arm,primecell";\n'
    )
    assert fdt.getprop("/chosen", "stdout-path") == b"/pl011@9000000\0"


def test_secure_uart_is_hidden_from_the_normal_world() -> None:
    fdt = written(Pl011("suart", base=0x9040000, irq=8, secure=True))

    assert fdt.getprop("/pl011@9040000", "status") == b"disabled\0"
    assert fdt.getprop("/pl011@9040000", "secure-status") == b"okay\0"
    assert fdt.getprop("/secure-chosen", "stdout-path") == b"/pl011@9040000\0"
    assert "stdout-path" not in fdt.node("/chosen").props


def test_unknown_and_out_of_range_properties_are_rejected() -> None:
    with pytest.raises(
        PropertyError, match="irq: Input should be less than 988"
    ) as excinfo:
        Pl011("uart0", irq=1000, baud=9600)

    assert excinfo.value.device == "uart0"
    assert any(e.startswith("baud: Extra inputs") for e in excinfo.value.errors)
