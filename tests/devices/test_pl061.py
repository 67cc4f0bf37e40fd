"""The PL061 GPIO controller allocates and publishes its phandle."""

from __future__ import annotations

from virtmodel.devices.base import FdtContext
from virtmodel.devices.pl061 import Pl061
from virtmodel.machine.fdt import Fdt


def test_gpio_allocates_the_next_phandle_and_publishes_it() -> None:
    fdt = Fdt()
    fdt.alloc_phandle()
    ctx = FdtContext({"clk": 0x8000})

    Pl061("gpio", base=0x9030000, irq=7).fdt_node(fdt, ctx)

    assert ctx.phandle("gpio") == 0x8001 == fdt.get_phandle("/pl061@9030000")
    assert fdt.getprop("/pl061@9030000", "gpio-controller") == b""
    assert "status" not in fdt.node("/pl061@9030000").props


def test_secure_gpio_is_secure_only_and_publishes_under_its_label() -> None:
    fdt = Fdt()
    ctx = FdtContext({"clk": 0x8000})

    Pl061("sgpio", base=0x90B0000, irq=0, secure=True, label="secure-gpio").fdt_node(
        fdt, ctx
    )

    props = [n for n, _ in fdt.node("/pl061@90b0000").blob_props()]
    assert props[:3] == ["secure-status", "status", "phandle"]
    assert ctx.phandle("secure-gpio") == 0x8000
