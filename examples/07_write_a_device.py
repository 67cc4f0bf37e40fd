"""Write a device of your own: all it touches of the machine goes through its context.

``Machine.add`` gives every device a ``DeviceContext`` (``self.ctx``), its
narrow view of the machine: map its own registers, wire its own interrupts,
take the interrupt controller's inputs (a GIC), the KVM VM (None under TCG)
and the vCPUs, queue an in-kernel device's address for machine-init-done,
declare machine-init-done notifiers, see the other devices. A device never
holds the machine: what a model can touch is what the context offers, and
mypy --strict checks that.

This one is an ARM SP805 watchdog. It maps its frame, wires its interrupt and
declares a notifier that arms it once the machine is done. A second watchdog
given the same interrupt fails half-way through its realize: the machine
undoes what that realize did through its context (the frame it had mapped)
and says so in the trace.
"""

from pydantic import Field

from virtmodel.devices import ArmCpu, GicV3
from virtmodel.devices.base import Device, DeviceProps, FdtContext
from virtmodel.devices.gic_binding import (
    GIC_FDT_IRQ_FLAGS_LEVEL_HI,
    GIC_FDT_IRQ_TYPE_SPI,
)
from virtmodel.machine import IrqKind, Machine, RealizeFailedError
from virtmodel.machine.boards.compose import build_fdt
from virtmodel.machine.fdt import Fdt


class Sp805Props(DeviceProps):
    """Where the board puts the watchdog."""

    base: int = Field(ge=0, description="register frame base")
    irq: int = Field(ge=0, lt=988, description="SPI number")


class Sp805(Device[Sp805Props]):
    """An ARM SP805 watchdog: one 4 KiB frame, one interrupt."""

    props_model = Sp805Props
    type_name = "sp805"

    def __init__(self, name: str, **props: int) -> None:
        super().__init__(name, **props)
        self.armed = False

    def on_realize(self) -> None:
        p = self.props
        self.ctx.map_mmio(self.name, p.base, 0x1000)
        self.ctx.connect_irq(0, IrqKind.SPI, p.irq)  # may fail: then undone
        self.ctx.add_init_done(f"{self.name}-arm", self._arm, writes=f"{self.name}.ctl")

    def _arm(self) -> None:
        self.armed = True

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        p = self.props
        node = f"/watchdog@{p.base:x}"
        fdt.add_subnode(node)
        fdt.setprop_stringlist(node, "compatible", ["arm,sp805", "arm,primecell"])
        fdt.setprop_sized_cells(node, "reg", (2, p.base), (2, 0x1000))
        fdt.setprop_cells(
            node, "interrupts", GIC_FDT_IRQ_TYPE_SPI, p.irq, GIC_FDT_IRQ_FLAGS_LEVEL_HI
        )
        fdt.setprop_cells(node, "clocks", ctx.phandle("clk"), ctx.phandle("clk"))
        fdt.setprop_stringlist(node, "clock-names", ["wdog_clk", "apb_pclk"])


def board(m: Machine) -> None:
    m.realize(m.add(ArmCpu("cpu0", cpu_type="cortex-a57", index=0)))
    gic = m.add(GicV3("gic"))
    m.add(Sp805("wdt0", base=0x0C00_0000, irq=11), after="gic")
    m.realize_all()
    for name, (base, size) in gic.regions().items():
        m.map_mmio(gic, name, base, size)


machine = Machine("watchdog")
machine.boot(board)
wdt0 = machine.device("wdt0")
assert isinstance(wdt0, Sp805)
print(f"{wdt0.path}: {machine.memory['wdt0']}, armed={wdt0.armed}")
print(*(str(line) for line in machine.irqs), sep="\n")
dts = build_fdt(machine).to_dts()
node = dts.index("\twatchdog@")
print(dts[node : dts.index("};", node) + 2])

# A second watchdog on the same interrupt: its realize maps its frame, then
# the wiring fails; the frame is unmapped again.
clash = Machine("clash")
clash.create()
clash.create_accel()
clash.add(GicV3("gic"))
clash.add(Sp805("wdt0", base=0x0C00_0000, irq=11), after="gic")
clash.add(Sp805("wdt1", base=0x0C01_0000, irq=11), after="wdt0")
try:
    clash.realize_all()
except RealizeFailedError as exc:
    print(f"error: {exc}")
print(*(e.text for e in clash.trace if "failed realize" in e.text), sep="\n")
print("mapped:", ", ".join(r.name for r in clash.memory))
