"""The ``virt`` board's device tree, built in QEMU 7.2's ``machvirt_init`` order.

:func:`build_virt_fdt` replays every device-tree call QEMU makes for the same
options, in the same order, so that libfdt's layout rules (see
:mod:`machine.fdt`) produce the same bytes and the same phandles:

1. ``create_fdt``: root properties, ``/chosen`` (+ seeds), ``/secure-chosen``,
   ``/apb-pclk`` (the first phandle);
2. ``/timer``, then ``/cpus`` with ``cpu@N`` from the last CPU down (so CPU
   N-1 gets the next phandle) and the ``cpu-map``;
3. flash, the GIC (+ ITS or GICv2m), ``/pmu``, the UART, the secure RAM and
   UART, the RTC, PCIe (+ SMMUv3), the GPIO (+ keys), the secure GPIO (+ power
   lines), the 32 virtio-mmio transports from the last down, fw-cfg;
4. at machine-done: the platform bus, ``/memory``, the ``/chosen`` boot
   arguments and initrd, and ``/psci``.

Peripherals come from :mod:`devices` (:func:`~machine.boards.virt.devices.
virt_peripherals` creates them with the config's addresses and interrupts); the
GIC, CPU and memory nodes are board functions here, as in QEMU's ``virt.c``.
"""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING, Final

from virtmodel.devices.base import FdtContext
from virtmodel.devices.cfi_flash import combined_flash_node
from virtmodel.machine.boards.virt.devices import VirtPeripherals, virt_peripherals
from virtmodel.machine.boards.virt.numa import cpu_nodes, distance_matrix
from virtmodel.machine.fdt import Fdt

if TYPE_CHECKING:
    from virtmodel.machine.boards.virt.config import VirtConfig
    from virtmodel.machine.boards.virt.devopts import GuestLoader
    from virtmodel.machine.fdt.writer import FdtWriter

__all__ = [
    "VirtPeripherals",
    "build_virt_fdt",
    "fdt_add_boot_nodes",
    "fdt_add_cpu_nodes",
    "fdt_add_gic_node",
    "fdt_add_memory_nodes",
    "seed_bytes",
    "virt_peripherals",
]

#: The GIC maintenance interrupt (PPI 9), present with ``virtualization=on``.
ARCH_GIC_MAINT_IRQ: Final = 9


def seed_bytes(seed: int | None) -> bytes:
    """Return 40 bytes for one ``kaslr-seed`` (8) + ``rng-seed`` (32) pair.

    ``None`` draws from ``os.urandom`` as QEMU does; an integer gives a
    deterministic sequence (the same for every call with that seed).
    """
    if seed is None:
        return os.urandom(40)
    return random.Random(seed).randbytes(40)


# -- board nodes (virt.c's fdt_add_* functions) -----------------------------------


def _create_fdt(
    fdt: Fdt, ctx: FdtContext, config: VirtConfig, seed: int | None
) -> None:
    fdt.setprop_string("/", "compatible", "linux,dummy-virt")
    fdt.setprop_cells("/", "#address-cells", 2)
    fdt.setprop_cells("/", "#size-cells", 2)
    fdt.setprop_string("/", "model", "linux,dummy-virt")
    chosen = ["/chosen", "/secure-chosen"] if config.secure else ["/chosen"]
    for i, node in enumerate(chosen):
        fdt.add_subnode(node)
        if config.dtb_randomness:
            # A seeded run must not give both nodes the same values.
            raw = seed_bytes(None if seed is None else seed + i)
            fdt.setprop(node, "kaslr-seed", raw[:8])
            fdt.setprop(node, "rng-seed", raw[8:])
    clk = fdt.alloc_phandle()
    ctx.phandles["clk"] = clk
    fdt.add_subnode("/apb-pclk")
    fdt.setprop_string("/apb-pclk", "compatible", "fixed-clock")
    fdt.setprop_cells("/apb-pclk", "#clock-cells", 0)
    fdt.setprop_cells("/apb-pclk", "clock-frequency", 24_000_000)
    fdt.setprop_string("/apb-pclk", "clock-output-names", "clk24mhz")
    fdt.setprop_cells("/apb-pclk", "phandle", clk)
    matrix = distance_matrix(config.numa) if config.numa is not None else None
    if matrix is not None:
        cells = [
            value
            for src, row in enumerate(matrix)
            for dst, distance in enumerate(row)
            for value in (src, dst, distance)
        ]
        fdt.add_subnode("/distance-map")
        fdt.setprop_string("/distance-map", "compatible", "numa-distance-map-v1")
        fdt.setprop_cells("/distance-map", "distance-matrix", *cells)


def _cpu_numa_nodes(config: VirtConfig) -> list[int | None]:
    """Return each CPU's NUMA node (None: no NUMA, so no ``numa-node-id``)."""
    if config.numa is not None:
        return list(cpu_nodes(config.numa, config.smp)[0])
    return [0 if config.numa_auto else None] * config.max_cpus


def fdt_add_cpu_nodes(fdt: Fdt, ctx: FdtContext, config: VirtConfig) -> None:
    """Write ``/cpus``: ``cpu@N`` from the last CPU down, then the ``cpu-map``."""
    n = config.cpus
    mpidrs = [config.mpidr(i) for i in range(n)]
    addr_cells = 2 if any(m & 0xFF_0000_0000 for m in mpidrs) else 1
    fdt.add_subnode("/cpus")
    fdt.setprop_cells("/cpus", "#address-cells", addr_cells)
    fdt.setprop_cells("/cpus", "#size-cells", 0)
    compatible = config.dtb_compatible
    enable = config.boot.board_conduit != "disabled" and n > 1
    numa_of = _cpu_numa_nodes(config)
    for cpu in range(n - 1, -1, -1):
        node = f"/cpus/cpu@{cpu}"
        fdt.add_subnode(node)
        fdt.setprop_string(node, "device_type", "cpu")
        fdt.setprop_string(node, "compatible", compatible)
        if enable:
            fdt.setprop_string(node, "enable-method", "psci")
        if addr_cells == 2:
            fdt.setprop_u64(node, "reg", mpidrs[cpu])
        else:
            fdt.setprop_cells(node, "reg", mpidrs[cpu])
        numa = numa_of[cpu]
        if numa is not None:
            fdt.setprop_cells(node, "numa-node-id", numa)
        if not config.compat.cpu_topology:
            continue  # before virt-6.2: no cpu-map, so no CPU phandles
        phandle = fdt.alloc_phandle()
        fdt.setprop_cells(node, "phandle", phandle)
        ctx.phandles[f"cpu{cpu}"] = phandle
    if not config.compat.cpu_topology:
        return
    fdt.add_subnode("/cpus/cpu-map")
    threads = config.smp.threads
    for cpu in range(n - 1, -1, -1):
        socket, cluster, core, thread = config.topology_ids(cpu)
        path = f"/cpus/cpu-map/socket{socket}/cluster{cluster}/core{core}"
        if threads > 1:
            path += f"/thread{thread}"
        fdt.add_path(path)
        fdt.setprop_cells(path, "cpu", ctx.phandles[f"cpu{cpu}"])


def fdt_add_gic_node(fdt: Fdt, ctx: FdtContext, dev: VirtPeripherals) -> None:
    """Write ``/intc@...`` (GICv2 or v3/v4), then its ITS or GICv2m child.

    The node contents come from the device models themselves (``fdt_node``).
    """
    dev.gic.fdt_node(fdt, ctx)
    if dev.msi is not None:
        dev.msi.fdt_node(fdt, ctx)


def fdt_add_memory_nodes(
    fdt: FdtWriter, config: VirtConfig, cells: tuple[int, int] = (2, 2)
) -> None:
    """Write ``/memory@...``: one per NUMA node with memory, else one for all RAM.

    Without ``-numa`` the node carries ``numa-node-id`` 0 only when QEMU makes
    a node by itself (memory hot-plug). *cells* are the root's
    ``#address-cells`` and ``#size-cells`` (a ``-dtb`` blob has its own).

    Raises:
        ValueError: A base or size does not fit its cells.
    """
    base, size = config.memmap["mem"]
    if config.numa is None:
        _memory_node(fdt, cells, base, size, 0 if config.numa_auto else None)
        return
    for numa_node in config.numa.nodes:
        if numa_node.mem:
            _memory_node(fdt, cells, base, numa_node.mem, numa_node.nodeid)
            base += numa_node.mem


def _memory_node(
    fdt: FdtWriter, cells: tuple[int, int], base: int, size: int, numa: int | None
) -> None:
    node = f"/memory@{base:x}"
    fdt.add_subnode(node)
    fdt.setprop_string(node, "device_type", "memory")
    fdt.setprop_sized_cells(node, "reg", (cells[0], base), (cells[1], size))
    if numa is not None:
        fdt.setprop_cells(node, "numa-node-id", numa)


def fdt_add_boot_nodes(
    fdt: FdtWriter,
    config: VirtConfig,
    *,
    kernel_cmdline: str | None,
    initrd: tuple[int, int] | None,
    cells: tuple[int, int] = (2, 2),
) -> None:
    """Write what ``arm_load_dtb`` adds to any tree before ``/psci``.

    The memory nodes, ``/chosen`` if the tree lacks it, the boot arguments
    when non-empty and the initrd range. QEMU writes each initrd bound as one
    32-bit cell whatever ``#address-cells`` says.

    Raises:
        ValueError: A memory base or size does not fit the tree's cells.
    """
    fdt_add_memory_nodes(fdt, config, cells)
    if not fdt.exists("/chosen"):
        fdt.add_subnode("/chosen")
    if kernel_cmdline:
        fdt.setprop_string("/chosen", "bootargs", kernel_cmdline)
    if initrd is not None:
        start, size = initrd
        fdt.setprop_cells("/chosen", "linux,initrd-start", start & 0xFFFFFFFF)
        end = (start + size) & 0xFFFFFFFF
        fdt.setprop_cells("/chosen", "linux,initrd-end", end)


def build_virt_fdt(
    config: VirtConfig,
    *,
    seed: int | None = None,
    kernel_cmdline: str | None = None,
    initrd: tuple[int, int] | None = None,
    peripherals: VirtPeripherals | None = None,
) -> Fdt:
    """Return the device tree QEMU 7.2 builds for *config*.

    Args:
        config: The machine.
        seed: Seeds ``kaslr-seed``/``rng-seed`` deterministically; ``None``
            takes them from ``os.urandom``. Ignored with ``dtb-randomness=off``.
        kernel_cmdline: ``/chosen/bootargs``; defaults to ``config.append``
            (QEMU writes it only when non-empty).
        initrd: ``(start, size)`` of a loaded initrd, written as
            ``linux,initrd-start``/``-end``.
        peripherals: Device models to describe; defaults to
            :func:`virt_peripherals` of *config*.

    Raises:
        FdtError: Two devices claim the same node (a board bug).
    """
    fdt = Fdt(phandle_start=config.phandle_start)
    ctx = FdtContext()
    dev = peripherals or virt_peripherals(config)
    _create_fdt(fdt, ctx, config, seed)
    dev.timer.fdt_node(fdt, ctx)
    fdt_add_cpu_nodes(fdt, ctx, config)
    if config.secure:
        for bank in dev.flash:
            bank.fdt_node(fdt, ctx)
    else:
        combined_flash_node(fdt, dev.flash)
    fdt_add_gic_node(fdt, ctx, dev)
    _write(fdt, ctx, dev.pmu, dev.uart, dev.secure_ram, dev.secure_uart, dev.rtc)
    dev.pcie.fdt_node(fdt, ctx)
    if dev.smmu is not None:
        ctx.phandles["iommu"] = fdt.alloc_phandle()
        dev.smmu.fdt_node(fdt, ctx)
        dev.pcie.fdt_iommu_map(fdt, ctx)
    _write(fdt, ctx, dev.gpio, dev.gpio_keys, dev.secure_gpio, dev.gpio_pwr)
    _write(fdt, ctx, *reversed(dev.virtio))
    dev.fw_cfg.fdt_node(fdt, ctx)
    # -device: each plugged after the board, before machine-init-done.
    if config.virtio_iommu is not None:
        _virtio_iommu(fdt, config, dev.pcie.node_path, config.virtio_iommu)
    for loader in config.guest_loaders:
        _guest_loader(fdt, loader)
    # machine-init-done: virt_machine_done, then arm_load_dtb.
    dev.platform_bus.fdt_node(fdt, ctx)
    cmdline = config.append if kernel_cmdline is None else kernel_cmdline
    fdt_add_boot_nodes(fdt, config, kernel_cmdline=cmdline, initrd=initrd)
    if dev.psci is not None:
        dev.psci.fdt_node(fdt, ctx)
    return fdt


def _virtio_iommu(fdt: Fdt, config: VirtConfig, pcie: str, devfn: int) -> None:
    """Describe a virtio-iommu-pci and route the root bus through it."""
    phandle = fdt.alloc_phandle()
    node = f"{pcie}/virtio_iommu@{devfn >> 3:x},{devfn & 7:x}"
    fdt.add_subnode(node)
    fdt.setprop_stringlist(node, "compatible", ("virtio,pci-iommu", "pci1af4,1057"))
    fdt.setprop_sized_cells(node, "reg", (1, devfn << 8), (1, 0), (1, 0), (2, 0))
    fdt.setprop_cells(node, "#iommu-cells", 1)
    fdt.setprop_cells(node, "phandle", phandle)
    if not config.default_bus_bypass_iommu:
        # Every requester ID but the IOMMU's own goes through it.
        fdt.setprop_cells(
            pcie,
            "iommu-map",
            0,
            phandle,
            0,
            devfn,
            devfn + 1,
            phandle,
            devfn + 1,
            0xFFFF - devfn,
        )


def _guest_loader(fdt: Fdt, loader: GuestLoader) -> None:
    """Write ``/chosen/module@0x<addr>`` for one guest-loader blob."""
    node = f"/chosen/module@0x{loader.addr:08x}"
    fdt.add_subnode(node)
    fdt.setprop_sized_cells(node, "reg", (2, loader.addr), (2, loader.size))
    fdt.setprop_stringlist(
        node, "compatible", ("multiboot,module", f"multiboot,{loader.kind}")
    )
    if loader.bootargs is not None:
        fdt.setprop_string(node, "bootargs", loader.bootargs)


def _write(fdt: Fdt, ctx: FdtContext, *devices: _HasFdtNode | None) -> None:
    for device in devices:
        if device is not None:
            device.fdt_node(fdt, ctx)


if TYPE_CHECKING:
    from typing import Protocol

    class _HasFdtNode(Protocol):
        def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None: ...
