"""The Machine: phases, object tree, memory map, IRQs, registries, trace.

A machine comes up the way QEMU 7.2 brings one up (``DESIGN.md`` §1)::

    create() -> create_accel() -> init_board(board) -> creation_done()
    [machine-init-done notifiers] -> reset() -> start() [first vCPU run]

:meth:`Machine.boot` does all of it and turns the first failure into a
:class:`~machine.errors.MachineFailedError` naming the notifier, the KVM call
and the errno. The devices, their realize order and the undo of a failed
realize live in :mod:`~virtmodel.machine.objects`; what a device sees of the
machine is its :class:`~virtmodel.machine.device_context.DeviceContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from virtmodel.machine.accel import Accelerator, TcgAccel
from virtmodel.machine.device import Board, Device
from virtmodel.machine.device_context import DeviceContext, connect_checked
from virtmodel.machine.errors import (
    MachineError,
    MachineFailedError,
    PhaseError,
)
from virtmodel.machine.init_done import InitDone, declaration_site
from virtmodel.machine.irq import IrqKind, IrqLine, IrqMap
from virtmodel.machine.kvm_addr import KvmAddressQueue
from virtmodel.machine.kvm_watch import KvmWatch
from virtmodel.machine.memory import MemoryMap, Region
from virtmodel.machine.notifier_modes import (
    NOTIFIER_MODES,
    NotifierMode,
    is_notifier_mode,
)
from virtmodel.machine.objects import DeviceTree
from virtmodel.machine.phases import Phase, PhaseClock
from virtmodel.machine.trace import Kind, MachineTrace
from virtmodel.notifiers import Constraints, NotifierError, NotifierRegistry

if TYPE_CHECKING:
    from virtmodel.machine.kvm import KvmCall

Names = str | Iterable[str]
D = TypeVar("D", bound=Device)


class Machine:
    """A machine being composed and brought up, phase by phase.

    Args:
        name: The machine's QOM name (its root path is ``/machine``).
        accel: The accelerator; TCG by default.
        notifiers: "ordered" (declared order) or "qemu-lifo" (QEMU's list).
        strict: Fail a notifier that makes a KVM call on a resource it did
            not declare in ``reads=``/``writes=``.
        drop_edges: (notifier, target) declarations to leave out, for
            experiments such as letting ``explore`` find a missing edge.

    Example:
        >>> m = Machine("demo")
        >>> m.create(); m.create_accel()
        >>> m.init_board(lambda machine: None)
        >>> m.creation_done()
        >>> m.phase.current.name
        'MACHINE_READY'
    """

    def __init__(
        self,
        name: str = "virt",
        *,
        accel: Accelerator | None = None,
        notifiers: NotifierMode = "ordered",
        strict: bool = False,
        drop_edges: Iterable[tuple[str, str]] = (),
    ) -> None:
        if not is_notifier_mode(notifiers):
            allowed = " or ".join(map(repr, NOTIFIER_MODES))
            msg = f"notifier mode {notifiers!r} is not {allowed}"
            raise ValueError(msg)
        given: object = accel  # callers without type checking pass anything
        if given is not None and not isinstance(given, Accelerator):
            msg = (
                f"accel must be an Accelerator such as KvmAccel('v4.8') or "
                f"TcgAccel(), not {type(accel).__name__} {accel!r}"
            )
            raise TypeError(msg)
        self.name = name
        self.accel = accel if accel is not None else TcgAccel()
        self.notifier_mode = notifiers
        self.strict = strict
        self.trace = MachineTrace()
        self.phase = PhaseClock()
        self.phase.add_listener(self._on_phase)
        self.memory = MemoryMap()
        self.irqs = IrqMap()
        self._tree = DeviceTree(self.trace)
        #: The machine-init-done event, in the chosen notifier mode.
        self.init_done = InitDone(self, notifiers, drop_edges=drop_edges)
        self._kvm_watch = KvmWatch(self.trace, self.init_done, strict=strict)
        #: In-kernel device addresses waiting for machine-init-done.
        self.kvm_addresses = KvmAddressQueue(self)
        #: Reset notifiers; they run on every reset, in declared order.
        self.reset_notifiers: NotifierRegistry[Machine] = NotifierRegistry(
            "machine-reset", one_shot=False
        )
        #: Run once, just before the first vCPU run (e.g. a last KVM setting).
        self.vcpu_pre_run: NotifierRegistry[Machine] = NotifierRegistry("vcpu-pre-run")
        #: How the bring-up failed, once it did (the error ``boot`` raised).
        self.failure: MachineFailedError | None = None
        #: The board that populated the machine (``create_virt`` sets it).
        self.board: Board | None = None

    # -- phases ---------------------------------------------------------------

    def _on_phase(self, old: Phase, new: Phase) -> None:
        self.trace.add(Kind.PHASE, f"phase {old.name} -> {new.name}", phase=new.name)

    def create(self) -> None:
        """Create the machine object (phase MACHINE_CREATED).

        Raises:
            PhaseError: The machine was created before.
        """
        self.phase.advance(Phase.MACHINE_CREATED)

    def create_accel(self) -> None:
        """Create the accelerator (phase ACCEL_CREATED).

        Raises:
            PhaseError: The machine is not in MACHINE_CREATED.
        """
        self.phase.require("create_accel()", Phase.MACHINE_CREATED)
        self.accel.attach(self)
        self.phase.advance(Phase.ACCEL_CREATED)
        self.trace.add(Kind.NOTE, f"accelerator {self.accel.describe()}")

    def init_board(self, board: Callable[[Machine], object]) -> None:
        """Run the board's init, realize what it added, then MACHINE_INITIALIZED.

        Raises:
            PhaseError: The machine is not in ACCEL_CREATED.
        """
        self.phase.require("init_board()", Phase.ACCEL_CREATED)
        board(self)
        self.realize_all()
        self.phase.advance(Phase.MACHINE_INITIALIZED)

    def creation_done(self) -> None:
        """Enter MACHINE_READY and run the machine-init-done notifiers.

        As in QEMU 7.2 the phase changes *before* the walk, so a notifier
        registered from inside another one runs at once.

        Raises:
            PhaseError: The machine is not in MACHINE_INITIALIZED.
            MachineFailedError: A notifier failed.
        """
        self.enter_ready()
        self._guard("machine-init-done", self.init_done.notify)

    def enter_ready(self) -> None:
        """Enter MACHINE_READY without running the notifiers (for ``explore``).

        Raises:
            PhaseError: The machine is not in MACHINE_INITIALIZED.
        """
        self.phase.require("creation_done()", Phase.MACHINE_INITIALIZED)
        self.phase.advance(Phase.MACHINE_READY)

    def reset(self) -> None:
        """Reset every realized device (:meth:`reset_order`), then the reset notifiers.

        Raises:
            PhaseError: The machine is not ready yet.
            MachineFailedError: A reset notifier failed.
        """
        if not self.phase.reached(Phase.MACHINE_READY):
            operation = "reset()"
            raise PhaseError(
                operation, Phase.MACHINE_READY.name, self.phase.current.name
            )
        self.trace.add(Kind.NOTE, "system reset")
        for device in self.reset_order():
            device.reset()
        self._guard("machine-reset", lambda: self.reset_notifiers.notify(self))

    def reset_order(self) -> list[Device]:
        """Return the realized devices in the order a system reset visits them.

        As in QEMU 7.2 (:meth:`DeviceTree.reset_order`): CPUs first, then the
        device tree, newest first.
        """
        return self._tree.reset_order()

    def start(self) -> None:
        """Run every vCPU for the first time (the kernel maps the vGIC here).

        Raises:
            PhaseError: The machine is not ready.
            MachineFailedError: The first run failed.
        """
        self.phase.require("start()", Phase.MACHINE_READY)
        self._guard("vcpu-pre-run", lambda: self.vcpu_pre_run.notify(self))
        self.trace.add(Kind.NOTE, "vCPUs start")
        self._guard("first vCPU run", self.accel.run_vcpus)

    def boot(self, board: Callable[[Machine], object]) -> MachineTrace:
        """Bring the machine from nothing to its first vCPU run; return the trace.

        Raises:
            MachineFailedError: Any step failed; the trace shows what ran.
        """
        self.create()
        self.create_accel()
        self._guard("board init", lambda: self.init_board(board))
        self.creation_done()
        self.reset()
        self.start()
        return self.trace

    def _guard(self, stage: str, step: Callable[[], object]) -> None:
        """Run *step*; the project's and the kernel's errors fail the machine."""
        try:
            step()
        except (MachineError, NotifierError, OSError) as exc:
            # The project's own errors (a device's RealizeError is a
            # MachineError) and the kernel's (KvmError is an OSError). Anything
            # else is a bug in a model or a board: it propagates as it is.
            failure = MachineFailedError(stage, exc)
            self.trace.add(Kind.NOTE, f"FAILED in {failure.where}", ok=False)
            if stage == "machine-init-done":
                left = [n for n in self.init_done.not_run() if n != failure.notifier]
                self.trace.add(
                    Kind.NOTE, f"never ran: {', '.join(left) or '-'}", ok=False
                )
            self.failure = failure
            raise failure from exc

    # -- KVM observation --------------------------------------------------------

    def on_kvm_call(self, call: KvmCall) -> None:
        """Check a pending KVM call against the running notifier's declarations."""
        self._kvm_watch.before(call)

    def on_kvm_result(self, call: KvmCall) -> None:
        """Record a finished KVM call in the trace."""
        self._kvm_watch.after(call)

    # -- objects ----------------------------------------------------------------

    def add(self, device: D, *, parent: str = "/machine", after: Names = ()) -> D:
        """Add *device* to the object tree; realize it after the devices in *after*.

        The device gets its :class:`DeviceContext` (``device.context``), its
        narrow view of this machine; it never holds the machine itself.

        Raises:
            PhaseError: The machine is past MACHINE_INITIALIZED (hot-plug is
                not modelled).
            ValueError: A device with that path exists.
        """
        self.phase.require_before("add()", Phase.MACHINE_READY)
        path = self._tree.path_for(device, parent)
        device.path = path
        context = DeviceContext(
            path,
            device.name,
            memory=self.memory,
            irqs=self.irqs,
            accel=self.accel,
            addresses=self.kvm_addresses,
            init_done=self.init_done,
            devices=self._tree.by_path,
            strict=self.strict,
        )
        device.context = context
        after_names = (after,) if isinstance(after, str) else tuple(after)
        self._tree.add(device, context, after=after_names, location=declaration_site())
        return device

    def device(self, name: str) -> Device:
        """Return the device called *name* (or with that path).

        Raises:
            UnknownDeviceError: No such device.
        """
        return self._tree.find(name)

    def devices(self) -> Iterator[Device]:
        """Iterate over the devices in the order they were added."""
        return iter(self._tree)

    def realize(self, device: Device) -> None:
        """Realize one device; a failure undoes what it did through its context.

        Raises:
            RealizeFailedError: The device refused, or a KVM call failed;
                ``device`` names it and the device's own error is chained.
            Exception: Anything else (a bug in the model), unchanged.
        """
        self._tree.realize(device)

    @property
    def realize_registry(self) -> NotifierRegistry[Machine]:
        """The registry that orders device realization (one notifier per device)."""
        return self._tree.realize_order

    def realize_all(self) -> None:
        """Realize every added, still-created device in declared dependency order.

        Raises:
            RealizeFailedError: As :meth:`realize` raises it, after the
                devices before the failing one realized.
            Exception: A bug in a model, unchanged.
        """
        self._tree.realize_all(self)

    def map_mmio(
        self,
        device: Device,
        name: str,
        base: int,
        size: int,
        *,
        align: int = 1,
        kind: str = "mmio",
    ) -> Region:
        """Map a region of *device* at *base* (QEMU's ``sysbus_mmio_map``).

        *kind* says what backs it (``mmio``, ``ram``, ``romd``: a ROM device
        in ROM mode); under KVM RAM and ROM devices get memory slots.

        Raises:
            AddressConflictError: The range overlaps another region.
            AlignmentError: The range breaks *align*.
        """
        return self.memory.add(
            name, base, size, owner=device.path, align=align, kind=kind
        )

    def connect_irq(
        self,
        device: Device,
        output: int,
        kind: IrqKind,
        number: int,
        *,
        sink: str = "/machine/gic",
        cpu: int | None = None,
    ) -> IrqLine:
        """Wire output *output* of *device* to a GIC input.

        The sink must be a device already added to the machine (realized or
        not), so a wire can be made before the GIC is realized, but never to
        a GIC that does not exist.

        Raises:
            IrqWiringError: The sink is no device of this machine, or the line
                is out of range or already wired.
        """
        return connect_checked(
            self.irqs,
            self._tree.by_path,
            device.path,
            output,
            kind,
            number,
            sink=sink,
            cpu=cpu,
        )

    # -- notifiers ----------------------------------------------------------------

    def add_init_done(
        self,
        name: str,
        callback: Callable[[Machine], None],
        *,
        after: Names = (),
        before: Names = (),
        after_optional: Names = (),
        before_optional: Names = (),
        reads: Names = (),
        writes: Names = (),
    ) -> None:
        """Register a machine-init-done notifier (traced, with its constraints).

        Raises:
            notifiers.NotifierError: The declaration is invalid.
        """
        constraints = Constraints.declared(
            name, after, before, after_optional, before_optional, reads, writes
        )
        self.init_done.add(name, callback, constraints)

    def unused_drop_edges(self) -> list[tuple[str, str]]:
        """Return the ``drop_edges`` requests that matched no declaration."""
        return self.init_done.unused_drop_edges()

    def __repr__(self) -> str:
        phase = self.phase.current.name
        return f"<Machine {self.name!r} {phase} {len(self._tree)} devices>"

    def _repr_html_(self) -> str:
        # Jupyter: configuration, init-done graph and trace (machine.display).
        from virtmodel.machine.display import machine_html

        return machine_html(self)
