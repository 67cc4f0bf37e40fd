"""QEMU 7.2's ``virt`` board as a Machine: the devices ``machvirt_init`` creates.

:func:`create_virt` returns a machine that has not started yet; ``boot()``
brings it up. The board follows ``machvirt_init``'s order for what touches the
kernel (CPUs, RAM, GIC and ITS/v2m, then the peripherals) and registers the
same machine-init-done notifiers QEMU registers, each declared with what it
reads and writes. ``virt-machine-done`` builds the device tree from the
machine's own device models, so the tree describes exactly what was built.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from virtmodel.devices.base import Device, checked_upstream
from virtmodel.devices.cpu import ArmCpu
from virtmodel.devices.gpex import Gpex
from virtmodel.devices.its import Its
from virtmodel.devices.its_init import ItsInit
from virtmodel.devices.mmio import MmioProps, SpiProps
from virtmodel.devices.ram import Ram
from virtmodel.machine.accel import Accelerator, KvmAccel, TcgAccel
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.devices import (
    VirtPeripherals,
    cpu_properties,
    virt_peripherals,
)
from virtmodel.machine.boards.virt.dtb import initrd_placement
from virtmodel.machine.boards.virt.kvm import cpu_post_init, probe_vgic
from virtmodel.machine.boards.virt.tree import build_virt_fdt
from virtmodel.machine.boards.virt.userdtb import load_user_dtb
from virtmodel.machine.irq import IrqKind
from virtmodel.machine.kvm.eras import DEFAULT_ERA, Backend, SemanticsName
from virtmodel.machine.machine import Machine
from virtmodel.machine.memory import MemoryMap
from virtmodel.machine.notifier_modes import NotifierMode

if TYPE_CHECKING:
    from virtmodel.devices.smmuv3 import Smmuv3

#: PPIs of the generic timer (secure, non-secure, virtual, hyp), the GIC
#: maintenance interrupt and the PMU, as the virt board wires them.
TIMER_PPIS = {"sec": 13, "phys": 14, "virt": 11, "hyp": 10}
MAINT_PPI = 9
PMU_PPI = 7
#: Notifiers QEMU 7.2 registers for every virt machine (besides KVM's).
PCI_NOTIFIER = "pcie-bus-done"
FW_CFG_NOTIFIER = "fw-cfg-machine-ready"
MACHINE_DONE_NOTIFIER = "virt-machine-done"


def kvm_ipa_bits(config: VirtConfig) -> int:
    """Return the IPA size QEMU's ``virt_kvm_type`` asks KVM for.

    The smallest size that holds the highest guest address, but never below
    the kernel's minimum of 32 bits; QEMU passes the size as the VM type
    (``highmem=off`` gives 32-bit VMs). A kernel without IPA-size VM types
    gets 40 bits whatever this says (:class:`KvmAccel`).
    """
    return max(32, config.highest_gpa.bit_length())


def ram_backends(config: VirtConfig) -> tuple[tuple[str, int], ...]:
    """Return the memory backends making up the RAM, in node order.

    With ``-numa ...,memdev=`` QEMU's machine RAM is a container of the
    nodes' backends, each after the previous one; without, one block (no
    backends named).
    """
    if config.numa is None:
        return ()
    return tuple((node.memdev, node.mem) for node in config.numa.nodes if node.memdev)


def create_virt(
    config: VirtConfig,
    *,
    kernel_semantics: SemanticsName = DEFAULT_ERA,
    notifiers: NotifierMode = "ordered",
    its_init: ItsInit = "realize",
    strict: bool = False,
    drop_edges: Iterable[tuple[str, str]] = (),
    seed: int | None = None,
    kvm_backend: Backend = "sim",
) -> Machine:
    """Return a ``virt`` machine for *config*, ready for :meth:`Machine.boot`.

    ``kvm_backend="host"`` runs the KVM calls on this host's /dev/kvm.

    Raises:
        ValueError: An unknown kernel era or notifier mode.
    """
    accel: Accelerator
    if config.accel == "kvm":
        if kvm_backend == "sim":
            config = settle_gic(config, kernel_semantics)
        accel = KvmAccel(
            kernel_semantics, ipa_bits=kvm_ipa_bits(config), backend=kvm_backend
        )
    else:
        accel = TcgAccel()
    machine = Machine(
        "virt", accel=accel, notifiers=notifiers, strict=strict, drop_edges=drop_edges
    )
    machine.board = VirtBoard(config, its_init=its_init, seed=seed)
    return machine


def settle_gic(
    config: VirtConfig, kernel_semantics: SemanticsName = DEFAULT_ERA
) -> VirtConfig:
    """Return *config* with an unset GIC version settled for the simulated host.

    Under KVM without ``gic-version`` QEMU's ``finalize_gic_version`` takes
    GICv2 only if the host's kernel can emulate one, else GICv3; the
    simulated host of *kernel_semantics* answers. Other configs come back
    unchanged.

    Raises:
        ValueError: An unknown kernel era.
    """
    if config.accel != "kvm" or not (config.gic_auto and config.gic_version == 2):
        return config
    if KvmAccel(kernel_semantics).host.can_emulate_v2:
        return config
    settled = {"gic_version": 3, "gic_auto": False}
    # Validated once already, and 3 is a valid GIC version: no second
    # validation (it would build VirtConfig's validator, ~4 ms at start-up).
    # QEMU's limits for a GICv3 are checked as for any config.
    return VirtConfig._from_checked({**config.field_values(), **settled})


def boot_virt(machine: Machine) -> Machine:
    """Bring a machine made by :func:`create_virt` to its first vCPU run.

    Raises:
        MachineFailedError: A step failed; ``machine.trace`` shows what ran.
    """
    machine.boot(virt_board(machine).init)
    return machine


def virt_board(machine: Machine) -> VirtBoard:
    """Return *machine*'s board, which ``create_virt`` made a :class:`VirtBoard`.

    Raises:
        TypeError: The machine was not made by ``create_virt``.
    """
    board = machine.board
    if not isinstance(board, VirtBoard):
        msg = f"machine {machine.name!r} has no virt board (got {board!r})"
        raise TypeError(msg)
    return board


class VirtBoard:
    """The board-init of ``virt`` for one configuration."""

    def __init__(
        self, config: VirtConfig, *, its_init: ItsInit, seed: int | None
    ) -> None:
        self.config = config
        self.its_init = its_init
        self.seed = seed
        self.peripherals: VirtPeripherals = virt_peripherals(config)
        #: The device tree, once virt-machine-done has built it.
        self.dtb: bytes | None = None
        #: With ``secure=on``: the regions only the secure world sees (flash0,
        #: the secure UART, GPIO and RAM). QEMU maps them into the CPUs' secure
        #: address space, never into the normal map (``machine.memory``).
        self.secure_memory: MemoryMap | None = (
            MemoryMap("secure-memory") if config.secure else None
        )
        p = self.peripherals
        self._secure_only: tuple[Device[Any], ...] = (
            tuple(
                d
                for d in (p.flash[0], p.secure_ram, p.secure_uart, p.secure_gpio)
                if d is not None
            )
            if config.secure
            else ()
        )

    def describe(self) -> str:
        """Return the configuration in one line (``-M virt,... -smp 4 ...``)."""
        return self.config.describe()

    def init(self, machine: Machine) -> None:
        """Create and realize the board's devices, as ``machvirt_init`` does."""
        cfg = self.config
        probe_vgic(machine, cfg)
        p = self.peripherals
        # virt_firmware_init maps the flash before any CPU exists.
        for bank in p.flash:
            self._add_mmio(machine, bank, kind="romd")
        cpus = [self._add_cpu(machine, i) for i in range(cfg.cpus)]
        ram_base = cfg.memmap["mem"].base
        with checked_upstream():  # the config's RAM size and base
            ram = Ram(
                "ram", size=cfg.ram_size, base=ram_base, backends=ram_backends(cfg)
            )
        machine.realize(machine.add(ram))
        self._add_gic(machine)
        cpu_post_init(machine, cfg, cpus, PMU_PPI)
        self._wire_cpu_ppis(machine, cpus)
        simple: tuple[Device[Any] | None, ...] = (
            p.uart,
            p.secure_ram,
            p.secure_uart,
            p.rtc,
        )
        for dev in simple:
            self._add_mmio(machine, dev)
        self._add_pcie(machine, p.pcie, p.smmu)
        simple = (p.gpio, p.gpio_keys, p.secure_gpio, p.gpio_pwr, *p.virtio)
        for dev in simple:
            self._add_mmio(machine, dev)
        self._add_mmio(machine, p.fw_cfg)
        machine.add_init_done(
            FW_CFG_NOTIFIER,
            self._fw_cfg_ready,
            after=MACHINE_DONE_NOTIFIER,
            reads=("fw_cfg.files",),
            writes=("fw_cfg.bootorder",),
        )
        machine.realize(machine.add(p.platform_bus))
        machine.add_init_done(
            MACHINE_DONE_NOTIFIER,
            self._machine_done,
            reads=("device.*", "machine.memory", "pci.buses"),
            writes=("fdt.blob", "fw_cfg.files"),
        )

    # -- pieces ---------------------------------------------------------------

    def _add_cpu(self, machine: Machine, index: int) -> ArmCpu:
        with checked_upstream():  # computed from the validated config
            cpu = ArmCpu(f"cpu{index}", **cpu_properties(self.config, index))
        machine.realize(machine.add(cpu))
        return cpu

    def _add_mmio(
        self, machine: Machine, dev: Device[Any] | None, *, kind: str = "mmio"
    ) -> None:
        if dev is None:
            return
        wired = isinstance(dev.props, SpiProps)
        machine.realize(machine.add(dev, after="gic" if wired else ()))
        props = dev.props
        if isinstance(props, MmioProps):
            if self.secure_memory is not None and any(
                dev is d for d in self._secure_only
            ):
                self.secure_memory.add(dev.name, props.base, props.size, owner=dev.path)
            else:
                machine.map_mmio(dev, dev.name, props.base, props.size, kind=kind)
        if isinstance(props, SpiProps) and not getattr(props, "secure", False):
            machine.connect_irq(dev, 0, IrqKind.SPI, props.irq)

    def _add_gic(self, machine: Machine) -> None:
        gic, msi = self.peripherals.gic, self.peripherals.msi
        if isinstance(msi, Its):
            msi.set_property("its_init", self.its_init)
        for dev in (gic, msi):
            if dev is None:
                continue
            machine.realize(machine.add(dev, after=() if dev is gic else "gic"))
            for region, (base, size) in dev.regions().items():
                machine.map_mmio(dev, region, base, size)
        self.gic, self.msi = gic, msi

    def _wire_cpu_ppis(self, machine: Machine, cpus: list[ArmCpu]) -> None:
        cfg = self.config
        for cpu in cpus:
            i = cpu.props.index
            for out, ppi in enumerate(TIMER_PPIS.values()):
                machine.connect_irq(cpu, out, IrqKind.PPI, ppi, cpu=i)
            if cfg.virtualization:
                machine.connect_irq(cpu, 4, IrqKind.PPI, MAINT_PPI, cpu=i)
            if cfg.has_pmu:
                machine.connect_irq(cpu, 5, IrqKind.PPI, PMU_PPI, cpu=i)

    def _add_pcie(self, machine: Machine, pcie: Gpex, smmu: Smmuv3 | None) -> None:
        machine.realize(machine.add(pcie, after="gic"))
        p = pcie.props
        windows = {
            "ecam": p.ecam,
            "mmio": p.mmio,
            "pio": p.pio,
            "mmio-high": p.mmio_high,
        }
        for label, window in windows.items():
            if window is not None:
                machine.map_mmio(pcie, f"pcie.{label}", window[0], window[1])
        for pin in range(4):
            machine.connect_irq(pcie, pin, IrqKind.SPI, p.irq + pin)
        # gpex realize creates the root bus, which registers its notifier.
        machine.add_init_done(
            PCI_NOTIFIER,
            self._pci_bus_done,
            reads=("pci.buses",),
            writes=("pci.bus_master",),
        )
        if smmu is not None:
            machine.realize(machine.add(smmu, after="gic"))
            machine.map_mmio(smmu, smmu.name, smmu.props.base, smmu.props.size)
            for line in range(4):
                machine.connect_irq(smmu, line, IrqKind.SPI, smmu.props.irq + line)

    # -- machine-init-done work -----------------------------------------------------

    def _pci_bus_done(self, machine: Machine) -> None:
        """Enable bus mastering for the root bus's devices (none on a bare virt)."""
        self.pci_bus_master_ready = True

    def _fw_cfg_ready(self, machine: Machine) -> None:
        """Register the reset hook that rebuilds fw_cfg's ``bootorder`` file."""
        if "fw-cfg-bootorder" not in [
            n.name for n in machine.reset_notifiers.notifiers()
        ]:
            machine.reset_notifiers.add("fw-cfg-bootorder", self._rebuild_bootorder)

    def _rebuild_bootorder(self, machine: Machine) -> None:
        self.bootorder = b""  # no -boot order and no bootable devices given

    def _machine_done(self, machine: Machine) -> None:
        """Build the device tree from this machine's devices (``arm_load_dtb``).

        With ``-dtb`` the guest gets the user's blob, edited, instead.
        """
        initrd = initrd_placement(self.config)
        if self.config.dtb is not None:
            psci = self.peripherals.psci
            self.dtb = load_user_dtb(self.config, initrd=initrd, psci=psci).to_dtb()
            return
        fdt = build_virt_fdt(
            self.config,
            seed=self.seed,
            initrd=initrd,
            peripherals=self.peripherals,
        )
        self.dtb = fdt.to_dtb()
