from typing import Literal

import pytest
from pydantic import Field, ValidationError

from virtmodel.devices import Device, DeviceProps, LifecycleError, PropertyError, State


class UartProps(DeviceProps):
    clock_hz: int = Field(default=24_000_000, gt=0)
    fifo_depth: Literal[16, 32] = Field(default=16)


class Uart(Device[UartProps]):
    props_model = UartProps

    def __init__(self, name="uart0", **props):
        super().__init__(name, **props)
        self.events = []

    def on_realize(self):
        if self.props.clock_hz == 1:
            raise RuntimeError("clock too slow")
        self.events.append("realize")

    def on_reset(self):
        self.events.append("reset")

    def on_unrealize(self):
        self.events.append("unrealize")


def test_unknown_and_bad_properties_are_all_named_and_pydantic_kept_as_cause():
    with pytest.raises(PropertyError) as info:
        Uart(fifo_depth=20, baud=9600)

    assert info.value.device == "uart0"
    assert isinstance(info.value.__cause__, ValidationError)
    assert str(info.value) == (
        "device 'uart0' rejected properties: fifo_depth: Input should be 16 or 32; "
        "baud: Extra inputs are not permitted"
    )


def test_bad_property_change_leaves_the_device_unchanged():
    uart = Uart(clock_hz=48_000_000)

    with pytest.raises(PropertyError):
        uart.set_properties(clock_hz=12_000_000, fifo_depth=7)

    assert uart.props.clock_hz == 48_000_000


def test_properties_are_frozen_after_realize():
    uart = Uart()
    uart.realize()

    with pytest.raises(
        LifecycleError,
        match="'uart0' is realized; 'clock_hz' can only change before realize",
    ):
        uart.set_property("clock_hz", 1)
    with pytest.raises(ValidationError):
        uart.props.clock_hz = 5  # type: ignore[misc]


def test_realize_runs_once_and_reset_needs_realize():
    uart = Uart()
    with pytest.raises(LifecycleError, match=r"call realize\(\) before reset\(\)"):
        uart.reset()
    uart.realize()
    uart.reset()

    with pytest.raises(LifecycleError, match="realized only once"):
        uart.realize()
    assert uart.events == ["realize", "reset"]


def test_failed_realize_leaves_the_device_created_and_configurable():
    uart = Uart(clock_hz=1)

    with pytest.raises(RuntimeError):
        uart.realize()

    assert uart.state is State.CREATED
    uart.set_property("clock_hz", 2)
    uart.realize()
    assert uart.is_realized


def test_unrealize_is_final():
    uart = Uart()
    uart.realize()
    uart.unrealize()

    assert uart.state is State.UNREALIZED
    with pytest.raises(LifecycleError):
        uart.realize()


@pytest.mark.parametrize("name", ["", "a/b", 3])
def test_bad_device_names_are_refused(name):
    with pytest.raises(ValueError, match="device name"):
        Uart(name)


def test_repr_shows_name_and_state():
    assert repr(Uart()) == "<Uart 'uart0' created>"


def test_devices_built_from_a_checked_config_are_not_validated_again():
    from virtmodel.devices.base import checked_upstream

    with checked_upstream():
        trusted = Uart("uart0", clock_hz=48_000_000)
    with pytest.raises(PropertyError):
        Uart("uart1", clock_hz="fast")  # user input: still checked

    assert trusted.props.clock_hz == 48_000_000
    assert trusted.props.fifo_depth == 16  # defaults filled in as usual


def test_checked_upstream_ends_with_its_block_even_on_error():
    from virtmodel.devices.base import checked_upstream

    with pytest.raises(RuntimeError), checked_upstream():
        raise RuntimeError

    with pytest.raises(PropertyError):
        Uart("uart", clock_hz="fast")
