import subprocess

import pytest

from tests.conftest import require_tool
from virtmodel.devices import ArmCpu, GicV2, GicV3, Its, Pl011, Ram, V2m
from virtmodel.machine import IrqKind, Machine
from virtmodel.machine.boards.compose import build_fdt
from virtmodel.machine.fdt import Fdt


def composed(gic_version=3):
    def board(m):
        for i in range(2):
            m.realize(
                m.add(ArmCpu(f"cpu{i}", cpu_type="cortex-a57", index=i, pmu=False))
            )
        m.realize(m.add(Ram("ram", base=0x8000_0000, size=256 << 20)))
        if gic_version == 3:
            gic = m.add(GicV3("gic", num_cpu=2, redist_region_count=(2,)))
            msi = m.add(Its("its"), after="gic")
        else:
            gic = m.add(GicV2("gic", num_cpu=2))
            msi = m.add(V2m("v2m"), after="gic")
        uart = m.add(Pl011("uart0", base=0x1C09_0000, irq=5), after="gic")
        m.realize_all()
        for dev in (gic, msi):
            for name, (base, size) in dev.regions().items():
                m.map_mmio(dev, name, base, size)
        m.map_mmio(uart, "uart0", 0x1C09_0000, 0x1000)
        m.connect_irq(uart, 0, IrqKind.SPI, 5)

    m = Machine("composed")
    m.boot(board)
    return m


@pytest.mark.parametrize(
    ("gic_version", "msi_node"), [(3, "its@8080000"), (2, "v2m@8020000")]
)
def test_composed_board_tree_has_every_device_node(gic_version, msi_node):
    fdt = build_fdt(composed(gic_version))

    parsed = Fdt.from_dtb(fdt.to_dtb(None))
    assert parsed.exists("/cpus/cpu@0")
    assert parsed.exists("/cpus/cpu@1")
    assert parsed.exists(f"/intc@8000000/{msi_node}")
    assert parsed.getprop("/chosen", "stdout-path") == b"/pl011@1c090000\x00"
    assert parsed.getprop("/memory@80000000", "reg") == bytes.fromhex(
        "00000000800000000000000010000000"
    )
    gic = parsed.get_phandle("/intc@8000000")
    assert parsed.getprop("/", "interrupt-parent") == gic.to_bytes(4, "big")


def test_composed_tree_compiles_with_dtc(tmp_path):
    dtc = require_tool("dtc", "device-tree-compiler")
    source = tmp_path / "board.dts"
    source.write_text(build_fdt(composed()).to_dts())

    proc = subprocess.run(
        [dtc, "-I", "dts", "-O", "dtb", "-o", str(tmp_path / "b.dtb"), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
