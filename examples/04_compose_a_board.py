"""Compose a board of your own in a few lines, with a notifier that declares its order.

Two Cortex-A57s (without a PMU: under KVM a board that gives a vCPU a PMU
must also set its interrupt and initialise it, as ``virt`` does), 256 MiB of
RAM, a GICv3 with an ITS and a PL011 UART at an address of our choosing,
brought up under the simulated KVM. Our own init-done notifier prints the
UART's address only after KVM knows where the ITS is:
``after="kvm-set-addr:its"`` puts it there, whatever order things were added in.
"""

from virtmodel.devices import ArmCpu, ArmTimer, GicV3, Its, Pl011, Psci, Ram
from virtmodel.machine import IrqKind, KvmAccel, Machine
from virtmodel.machine.boards.compose import build_fdt

UART_BASE = 0x1C09_0000  # anywhere free: the board decides, the tree follows


def board(m: Machine) -> None:
    for i in range(2):
        m.realize(m.add(ArmCpu(f"cpu{i}", cpu_type="cortex-a57", index=i, pmu=False)))
    m.realize(m.add(Ram("ram", base=0x8000_0000, size=256 << 20)))
    gic = m.add(GicV3("gic", num_cpu=2, redist_region_count=(2,)))
    its = m.add(Its("its"), after="gic")
    uart = m.add(Pl011("uart0", base=UART_BASE, irq=5), after="gic")
    m.add(ArmTimer("timer", armv8=True))
    m.add(Psci("psci", conduit="hvc"))
    m.realize_all()  # realizes gic, then its and uart0 (declared after it)
    for dev in (gic, its):
        for name, (base, size) in dev.regions().items():
            m.map_mmio(dev, name, base, size)
    m.map_mmio(uart, "uart0", UART_BASE, 0x1000)
    m.connect_irq(uart, 0, IrqKind.SPI, 5)
    m.add_init_done(
        "announce-console",
        lambda m: print(f"console at 0x{UART_BASE:08x}, ITS ready"),
        after="kvm-set-addr:its",
    )


machine = Machine("my-board", accel=KvmAccel("v6.1"))
trace = machine.boot(board)
print(trace)
print(build_fdt(machine).to_dts())
