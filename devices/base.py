"""The device model contract, after QEMU's qdev.

A device is created with validated properties, then realized once; properties
are frozen from then on. The public lifecycle methods (``realize``,
``unrealize``, ``reset``, ``set_property``) own the state checks, like QEMU's
``device_set_realized``; subclasses only fill in the ``on_<event>`` hooks.
A hook that raises leaves the device in its previous state, so a failed
realize never leaves a half-realized device behind.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from virtmodel.devices.errors import LifecycleError, PropertyError
from virtmodel.machine.device import State

if TYPE_CHECKING:
    from virtmodel.machine.device_context import DeviceContext
    from virtmodel.machine.fdt import Fdt


class DeviceProps(BaseModel):
    """Base class for a device's properties.

    Instances are immutable values: unknown names are rejected and a change
    builds a new, fully re-validated instance. A model's validator is built
    the first time it validates (``defer_build``), so a command pays only for
    the models whose input it checks.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# Inside checked_upstream(), devices take their properties as given.
_CHECKED_UPSTREAM: Final = contextvars.ContextVar("checked_upstream", default=False)


@contextlib.contextmanager
def checked_upstream() -> Iterator[None]:
    """Create devices whose properties a validated configuration computed.

    pydantic is for what users type: a board building its devices from a
    configuration that was validated once already does not validate each
    device's properties a second time (nor build their validators).
    """
    token = _CHECKED_UPSTREAM.set(True)
    try:
        yield
    finally:
        _CHECKED_UPSTREAM.reset(token)


PropsT = TypeVar("PropsT", bound=DeviceProps)


class FdtContext:
    """What a device needs from its board to write its device-tree node.

    Boards hand out phandles by label (``"gic"``, ``"clk"``, ``"msi"``) so a
    device can point at another node without knowing the allocation order.
    """

    def __init__(self, phandles: Mapping[str, int] | None = None) -> None:
        #: Phandles the board has allocated so far, by label.
        self.phandles: dict[str, int] = dict(phandles or {})

    def phandle(self, label: str) -> int:
        """Return the phandle the board allocated for *label*.

        Raises:
            KeyError: The board has not allocated that label (a board bug).
        """
        return self.phandles[label]


def _describe(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "<props>"
        if not where.isprintable():
            where = repr(where)  # keep the error on one line
        problems.append(f"{where}: {err['msg']}")
    return problems


class Device(Generic[PropsT]):
    """A device model with validated properties and a QEMU-style lifecycle.

    Subclasses set :attr:`props_model` and may override the ``on_realize``,
    ``on_unrealize``, ``on_reset`` and ``fdt_node`` hooks.

    Example:
        >>> from virtmodel.devices.base import Device, DeviceProps
        >>> class Led(Device[DeviceProps]):
        ...     props_model = DeviceProps
        >>> led = Led("led0")
        >>> led.realize()
        >>> led
        <Led 'led0' realized>
    """

    #: The pydantic model that validates this device's properties.
    props_model: ClassVar[type[DeviceProps]] = DeviceProps
    #: QEMU's QOM type name (``"pl011"``), shown in the machine trace's
    #: realize lines; a class without one shows its Python class name.
    type_name: ClassVar[str] = ""
    #: Reset by a reset handler of its own, before the device tree (QEMU
    #: registers one per CPU at board init); other devices reset with the
    #: tree, newest first.
    reset_handler: ClassVar[bool] = False

    def __init__(self, name: str, **props: Any) -> None:
        if not isinstance(name, str) or not name or "/" in name:  # type: ignore[redundant-expr]  # callers may pass anything at runtime
            msg = f"device name {name!r} must be a non-empty string without '/'"
            raise ValueError(msg)
        self.name: Final = name
        self.state = State.CREATED
        #: Canonical QOM path; the machine sets it when the device is added.
        self.path = f"/unattached/{name}"
        #: Its view of the machine it was added to (set by ``Machine.add``);
        #: None while it belongs to no machine. A device never holds the
        #: machine itself.
        self.context: DeviceContext | None = None
        self._props: PropsT = self._validate(props)

    @property
    def ctx(self) -> DeviceContext:
        """The context of the machine this device was added to.

        For hooks that need a machine: ``on_realize`` maps, wires and makes
        KVM calls through it.

        Raises:
            LifecycleError: The device belongs to no machine (``Machine.add``).
        """
        if self.context is None:
            state, remedy = "in no machine", "add it with Machine.add first"
            raise LifecycleError(self.name, state, remedy)
        return self.context

    # -- properties -------------------------------------------------------

    @property
    def props(self) -> PropsT:
        """The validated properties (an immutable pydantic model).

        In a strict machine, a notifier reading them must have declared
        ``reads="device.<name>"`` (or ``"device.*"``).
        """
        if self.context is not None:
            self.context.check_property_read()
        return self._props

    def _validate(self, values: Mapping[str, Any]) -> PropsT:
        if _CHECKED_UPSTREAM.get():
            return self.props_model.model_construct(**values)  # type: ignore[return-value]  # props_model is the PropsT of the subclass
        try:
            return self.props_model.model_validate(dict(values))  # type: ignore[return-value]  # props_model is the PropsT of the subclass
        except ValidationError as exc:
            raise PropertyError(self.name, _describe(exc)) from exc

    def set_property(self, name: str, value: object) -> None:
        """Change one property; allowed only before :meth:`realize`.

        Raises:
            LifecycleError: The device is already realized.
            PropertyError: The name is unknown or the value invalid; nothing changes.
        """
        self._require(State.CREATED, f"{name!r} can only change before realize()")
        self._props = self._validate({**self._props.model_dump(), name: value})

    def set_properties(self, **values: Any) -> None:
        """Change several properties at once, all or nothing.

        Raises:
            LifecycleError: The device is already realized.
            PropertyError: A name is unknown or a value invalid; nothing changes.
        """
        self._require(State.CREATED, "properties can only change before realize()")
        self._props = self._validate({**self._props.model_dump(), **values})

    # -- lifecycle ----------------------------------------------------------

    @property
    def is_realized(self) -> bool:
        """Whether the device has been realized and not unrealized since."""
        return self.state is State.REALIZED

    def realize(self) -> None:
        """Finish construction; afterwards the properties are frozen.

        Raises:
            LifecycleError: The device was realized before.
        """
        self._require(State.CREATED, "a device is realized only once")
        self.on_realize()  # may raise; the device then stays CREATED
        self.state = State.REALIZED

    def unrealize(self) -> None:
        """Undo :meth:`realize` (hot-unplug); the device cannot be realized again.

        Raises:
            LifecycleError: The device is not realized.
        """
        self._require(State.REALIZED, "call realize() before unrealize()")
        self.on_unrealize()
        self.state = State.UNREALIZED

    def reset(self) -> None:
        """Put the device back in its power-on state.

        Raises:
            LifecycleError: The device is not realized.
        """
        self._require(State.REALIZED, "call realize() before reset()")
        self.on_reset()

    def _require(self, state: State, remedy: str) -> None:
        if self.state is not state:
            raise LifecycleError(self.name, self.state.value, remedy)

    # -- hooks ----------------------------------------------------------------

    def on_realize(self) -> None:
        """Build the device's runtime state; raise to refuse realization."""

    def on_unrealize(self) -> None:
        """Release what :meth:`on_realize` built."""

    def on_reset(self) -> None:
        """Return runtime state to power-on values."""

    def fdt_node(self, fdt: Fdt, ctx: FdtContext) -> None:
        """Write this device's device-tree node(s); most devices without one skip it."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.state.value}>"
