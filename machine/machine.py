"""The Machine: phases, object tree, memory map, IRQs, registries, trace.

A machine comes up the way QEMU 7.2 brings one up (``DESIGN.md`` §1)::

    create() -> create_accel() -> init_board(board) -> creation_done()
    [machine-init-done notifiers] -> reset() -> start() [first vCPU run]

:meth:`Machine.boot` does all of it and turns the first failure into a
:class:`~machine.errors.MachineFailedError` naming the notifier, the KVM call
and the errno. Devices are realized in dependency order through a
``NotifierRegistry`` of their own ("realize"), so a board may add them in
any order it likes as long as it declares ``after=``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from virtmodel.machine.accel import Accelerator, KvmAccel, TcgAccel
from virtmodel.machine.device import Board, Device, State
from virtmodel.machine.errors import (
    ConfigError,
    IrqWiringError,
    MachineError,
    MachineFailedError,
    PhaseError,
    RealizeFailedError,
    UnknownDeviceError,
)
from virtmodel.machine.init_done import InitDone, declaration_site
from virtmodel.machine.irq import IrqKind, IrqLine, IrqMap
from virtmodel.machine.kvm_addr import KvmAddressQueue
from virtmodel.machine.memory import MemoryMap, Region
from virtmodel.machine.notifier_modes import (
    NOTIFIER_MODES,
    NotifierMode,
    is_notifier_mode,
)
from virtmodel.machine.phases import Phase, PhaseClock
from virtmodel.machine.trace import Kind, MachineTrace
from virtmodel.notifiers import NotifierError, NotifierFailedError, NotifierRegistry

if TYPE_CHECKING:
    from virtmodel.machine.accel import KvmVm
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
        self._devices: dict[str, Device] = {}
        # Notified by every realize_all(); each callback realizes its device
        # if it is still CREATED, so a later call realizes only what is new.
        self._realize_order: NotifierRegistry[Machine] = NotifierRegistry(
            "realize", one_shot=False
        )
        #: The machine-init-done event, in the chosen notifier mode.
        self.init_done = InitDone(self, notifiers, drop_edges=drop_edges)
        #: In-kernel device addresses waiting for machine-init-done.
        self.kvm_addresses = KvmAddressQueue(self)
        #: Reset notifiers; they run on every reset, in declared order.
        self.reset_notifiers: NotifierRegistry[Machine] = NotifierRegistry(
            "machine-reset", one_shot=False
        )
        #: Run once, just before the first vCPU run (e.g. a last KVM setting).
        self.vcpu_pre_run: NotifierRegistry[Machine] = NotifierRegistry("vcpu-pre-run")
        #: What the last failure was in: KVM call, notifier, device.
        #: How the bring-up failed, once it did (the error ``boot`` raised).
        self.failure: MachineFailedError | None = None
        #: Free-form per-board state (e.g. the virt board's configuration).
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

        As in QEMU 7.2: first the devices with a reset handler of their own
        (the CPUs), in creation order; then the device tree, whose buses
        hold their children newest first (so an ITS resets before its GIC).
        """
        realized = [d for d in self._devices.values() if d.is_realized]
        handlers = [d for d in realized if d.reset_handler]
        tree = [d for d in realized if not d.reset_handler]
        return handlers + tree[::-1]

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
        if self.strict:
            self.init_done.check_access(call.resource, f"made {call.head()} on")

    @property
    def kvm_vm(self) -> KvmVm:
        """The KVM VM in-kernel devices create their KVM devices in.

        Raises:
            ConfigError: The machine's accelerator is not KVM.
            PhaseError: The accelerator is not created yet.
        """
        if not isinstance(self.accel, KvmAccel):
            option, problem = "accel", "in-kernel devices need -accel kvm"
            raise ConfigError(option, self.accel.name, problem)
        return self.accel.attached_vm

    def check_property_access(self, device: Device) -> None:
        """Strict mode: refuse a notifier reading props it did not declare.

        A notifier declares ``reads="device.<name>"`` for one device, or
        ``"device.*"`` for all of them.

        Raises:
            UndeclaredAccessError: The running notifier declared neither.
        """
        if self.strict:
            self.init_done.check_access(
                f"device.{device.name}", "read the properties of"
            )

    def on_kvm_result(self, call: KvmCall) -> None:
        """Record a finished KVM call in the trace."""
        # A failed KVM_HAS_DEVICE_ATTR or TEST create is a probe's "no", not a
        # failure.
        probe = call.ioctl == "KVM_HAS_DEVICE_ATTR" or (
            call.ioctl == "KVM_CREATE_DEVICE" and call.attr == "KVM_CREATE_DEVICE_TEST"
        )
        ok = call.errno is None or probe
        self.trace.add(
            Kind.KVM, str(call), ok=ok, resource=getattr(call, "resource", "")
        )

    # -- objects ----------------------------------------------------------------

    def add(self, device: D, *, parent: str = "/machine", after: Names = ()) -> D:
        """Add *device* to the object tree; realize it after the devices in *after*.

        Raises:
            PhaseError: The machine is past MACHINE_INITIALIZED (hot-plug is
                not modelled).
            ValueError: A device with that path exists.
        """
        self.phase.require_before("add()", Phase.MACHINE_READY)
        path = f"{parent.rstrip('/')}/{device.name}"
        if path in self._devices:
            msg = f"device path {path!r} is already taken"
            raise ValueError(msg)
        device.path = path
        device.machine = self
        self._devices[path] = device
        after_names = (after,) if isinstance(after, str) else tuple(after)
        self._realize_order.add(
            device.name,
            functools.partial(_realize_in, device),
            after=after_names,
            location=declaration_site(),
        )
        return device

    def device(self, name: str) -> Device:
        """Return the device called *name* (or with that path).

        Raises:
            UnknownDeviceError: No such device.
        """
        for path, dev in self._devices.items():
            if name in (path, dev.name):
                return dev
        import difflib

        hint = difflib.get_close_matches(
            name, [d.name for d in self._devices.values()], 1
        )
        raise UnknownDeviceError(name, hint[0] if hint else None)

    def devices(self) -> Iterator[Device]:
        """Iterate over the devices in the order they were added."""
        return iter(list(self._devices.values()))

    def realize(self, device: Device) -> None:
        """Realize one device; a failure undoes its mappings and wiring.

        Raises:
            RealizeFailedError: The device refused, or a KVM call failed;
                ``device`` names it and the device's own error is chained.
            Exception: Anything else (a bug in the model), unchanged.
        """
        kind = device.type_name or type(device).__name__
        self.trace.add(Kind.DEVICE, f"realize {device.path} ({kind})")
        self.trace.enter()
        vm = getattr(self.accel, "vm", None)
        kvm_before = len(vm.devices) if vm is not None else 0
        try:
            device.realize()
        except (MachineError, NotifierError, OSError) as exc:
            self._undo_realize(
                device, vm.devices[kvm_before:] if vm is not None else []
            )
            raise RealizeFailedError(device.name, exc) from exc
        except BaseException:
            self._undo_realize(
                device, vm.devices[kvm_before:] if vm is not None else []
            )
            raise
        finally:
            self.trace.leave()

    def _undo_realize(self, device: Device, left_in_vm: list[Any]) -> None:
        # KVM has no call that destroys one device, only the whole VM:
        # say what the failed realize left behind in the kernel.
        for left in left_in_vm:
            self.trace.add(
                Kind.NOTE,
                f"{left.label} left in the VM half-configured (KVM cannot "
                "destroy a device; tear the machine down and build it again)",
                ok=False,
            )
        for region in self.memory.remove_owned_by(device.path):
            self.trace.add(Kind.NOTE, f"unmapped {region} after failed realize")
        for line in self.irqs.disconnect_source(device.path):
            self.trace.add(Kind.NOTE, f"unwired {line} after failed realize")

    @property
    def realize_registry(self) -> NotifierRegistry[Machine]:
        """The registry that orders device realization (one notifier per device)."""
        return self._realize_order

    def realize_all(self) -> None:
        """Realize every added, still-created device in declared dependency order.

        Raises:
            RealizeFailedError: As :meth:`realize` raises it, after the
                devices before the failing one realized.
            Exception: A bug in a model, unchanged.
        """
        try:
            self._realize_order.notify(self)
        except NotifierFailedError as exc:
            # Report what realize() raised, not the registry's wrapper.
            cause = exc.__cause__
            assert cause is not None  # the registry chains what the callback raised
            raise cause from cause.__cause__

    def map_mmio(
        self, device: Device, name: str, base: int, size: int, *, align: int = 1
    ) -> Region:
        """Map a region of *device* at *base* (QEMU's ``sysbus_mmio_map``).

        Raises:
            AddressConflictError: The range overlaps another region.
            AlignmentError: The range breaks *align*.
        """
        return self.memory.add(name, base, size, owner=device.path, align=align)

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
        if sink not in self._devices:
            where = f"{kind.value.upper()} {number}"
            problem = (
                "no such device in this machine; add the interrupt controller first"
            )
            raise IrqWiringError(device.path, sink, where, problem)
        return self.irqs.connect(device.path, output, sink, kind, number, cpu=cpu)

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
        self.init_done.add(
            name,
            callback,
            after=after,
            before=before,
            after_optional=after_optional,
            before_optional=before_optional,
            reads=reads,
            writes=writes,
        )

    def unused_drop_edges(self) -> list[tuple[str, str]]:
        """Return the ``drop_edges`` requests that matched no declaration."""
        return self.init_done.unused_drop_edges()

    def __repr__(self) -> str:
        phase = self.phase.current.name
        return f"<Machine {self.name!r} {phase} {len(self._devices)} devices>"

    def _repr_html_(self) -> str:
        # Jupyter: configuration, init-done graph and trace (machine.display).
        from virtmodel.machine.display import machine_html

        return machine_html(self)


def _realize_in(device: Device, machine: Machine) -> None:
    if device.state is State.CREATED:  # not realized, not unplugged
        machine.realize(device)
