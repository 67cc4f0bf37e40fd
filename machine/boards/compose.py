"""A device tree for a board composed in Python, from its own device models.

The virt board writes its tree in QEMU's exact order (``virt_fdt``); a board a
user composes gets one from the same builder and the same device ``fdt_node``
hooks: the root and ``/chosen``, the APB clock the PrimeCells point at, one
``/cpus/cpu@N`` per :class:`~devices.cpu.ArmCpu`, then every other device in
the order it was added, and the RAM last (as ``arm_load_dtb`` adds memory).
"""

from __future__ import annotations

from virtmodel.devices.base import Device as Model
from virtmodel.devices.base import FdtContext
from virtmodel.devices.cpu import ArmCpu
from virtmodel.devices.ram import Ram
from virtmodel.machine.fdt import Fdt
from virtmodel.machine.machine import Machine

#: The APB clock every PrimeCell names (24 MHz, as on virt).
APB_CLOCK_HZ = 24_000_000


def build_fdt(machine: Machine, *, model: str = "virtmodel,composed") -> Fdt:
    """Return the device tree describing *machine*'s devices.

    Raises:
        FdtError: Two devices claim the same node.
        KeyError: A device points at a phandle nobody published (e.g. a UART
            added before the GIC).
    """
    fdt = Fdt()
    ctx = FdtContext()
    fdt.setprop_string("/", "compatible", model)
    fdt.setprop_cells("/", "#address-cells", 2)
    fdt.setprop_cells("/", "#size-cells", 2)
    fdt.setprop_string("/", "model", model)
    fdt.add_subnode("/chosen")
    clk = ctx.phandles["clk"] = fdt.alloc_phandle()
    fdt.add_subnode("/apb-pclk")
    fdt.setprop_string("/apb-pclk", "compatible", "fixed-clock")
    fdt.setprop_cells("/apb-pclk", "#clock-cells", 0)
    fdt.setprop_cells("/apb-pclk", "clock-frequency", APB_CLOCK_HZ)
    fdt.setprop_cells("/apb-pclk", "phandle", clk)
    devices = list(machine.devices())
    cpus = [d for d in devices if isinstance(d, ArmCpu)]
    if cpus:
        _cpus_node(fdt, cpus)
    for dev in devices:
        if isinstance(dev, Model) and not isinstance(dev, ArmCpu | Ram):
            dev.fdt_node(fdt, ctx)
    for dev in devices:
        if isinstance(dev, Ram):
            dev.fdt_node(fdt, ctx)
    return fdt


def _cpus_node(fdt: Fdt, cpus: list[ArmCpu]) -> None:
    fdt.add_subnode("/cpus")
    fdt.setprop_cells("/cpus", "#address-cells", 1)
    fdt.setprop_cells("/cpus", "#size-cells", 0)
    # Created from the last CPU down so libfdt lists them ascending.
    for cpu in sorted(cpus, key=lambda c: c.props.index, reverse=True):
        node = f"/cpus/cpu@{cpu.props.index}"
        fdt.add_subnode(node)
        fdt.setprop_string(node, "device_type", "cpu")
        fdt.setprop_string(node, "compatible", cpu.model.dtb_compatible)
        if len(cpus) > 1:
            fdt.setprop_string(node, "enable-method", "psci")
        fdt.setprop_cells(node, "reg", cpu.mpidr)
