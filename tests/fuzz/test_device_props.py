"""Fuzz every device model's properties: accepted whole or rejected in one line.

For each class in ``devices`` a property dict is drawn from the model's own
field names, near-miss spellings and unknown names, with values of every
shape. Construction either succeeds with each given property taking effect
(nothing silently dropped) or raises ``PropertyError`` for that device,
naming every culprit, in one line. Changing properties after realize is
refused with ``LifecycleError`` and changes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.harness import TALLY, examples
from virtmodel import devices
from virtmodel.devices import Device, LifecycleError, PropertyError

MODELS: list[type[Device[Any]]] = sorted(
    (
        cls
        for cls in (getattr(devices, n) for n in devices.__all__)
        if isinstance(cls, type) and issubclass(cls, Device) and cls is not Device
    ),
    key=lambda cls: cls.__name__,
)

#: Properties a model cannot be built without (taken from the virt board).
REQUIRED: dict[str, dict[str, object]] = {
    "Gpex": {
        "ecam": (0x3F000000, 0x01000000),
        "mmio": (0x10000000, 0x2EFF0000),
        "pio": (0x3EFF0000, 0x00010000),
    },
}

values = st.one_of(
    st.integers(-(2**65), 2**65),
    st.sampled_from((0, 1, 2, 3, 4, 8, 16, 32, 0x1000, 0x09000000, 2**32, 2**64 - 1)),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True),
    st.text(max_size=6),
    st.sampled_from(("on", "hvc", "smc", "cortex-a57", "edge", "v3", "0x1000", "4096")),
    st.tuples(st.integers(-1, 2**40), st.integers(-1, 2**40)),
    st.lists(st.integers(0, 64), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


def _names(model: type[Device[Any]]) -> st.SearchStrategy[str]:
    fields = sorted(model.props_model.model_fields)
    typos = [f"{f}_" for f in fields] + [f.upper() for f in fields]
    return st.sampled_from(fields or ["base"]) | st.sampled_from(
        [*typos, "bogus", "", "fifo-depth"]
    )


@st.composite
def property_sets(draw: st.DrawFn) -> tuple[type[Device[Any]], dict[str, object]]:
    """Return a device model and a property dict for it."""
    model = draw(st.sampled_from(MODELS))
    props = dict(REQUIRED.get(model.__name__, {}))
    for _ in range(draw(st.integers(0, 4))):
        props[draw(_names(model))] = draw(values)
    if props and draw(st.integers(0, 5)) == 0:
        props.pop(draw(st.sampled_from(sorted(props))))
    return model, props


@settings(
    max_examples=examples(400),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=property_sets())
def test_random_properties_are_taken_whole_or_rejected_naming_the_culprit(
    case: tuple[type[Device[Any]], dict[str, object]],
) -> None:
    model, props = case
    fields = model.props_model.model_fields

    error: PropertyError | None = None
    try:
        device = model("dev0", **props)
    except PropertyError as exc:
        error = exc
    except Exception as exc:
        TALLY.record("device properties", "crash", (model.__name__, props), repr(exc))
        raise
    if error is not None:
        TALLY.record("device properties", "rejected", (model.__name__, props))
        message = str(error)
        assert error.device == "dev0"
        assert message.startswith("device 'dev0' rejected properties: ")
        assert "\n" not in message
        unknown = [k for k in props if k not in fields]
        assert all(f"{k}: " in message for k in unknown), message
        return
    TALLY.record("device properties", "ok", (model.__name__, props))

    assert set(props) <= set(fields)
    validated = model.props_model.model_validate(props)
    for name in props:
        assert getattr(device.props, name) == getattr(validated, name)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_unknown_property_is_rejected_with_the_device_and_the_name(
    model: type[Device[Any]],
) -> None:
    props = {**REQUIRED.get(model.__name__, {}), "no_such_prop": 1}

    with pytest.raises(PropertyError, match="no_such_prop: Extra inputs") as excinfo:
        model("dev0", **props)

    assert excinfo.value.device == "dev0"


@settings(max_examples=examples(100), derandomize=True, database=None, deadline=None)
@given(model=st.sampled_from(MODELS), name=st.text(max_size=8), value=values)
def test_properties_cannot_change_after_realize(
    model: type[Device[Any]], name: str, value: object
) -> None:
    device = model("dev0", **REQUIRED.get(model.__name__, {}))
    device.realize()
    before = device.props

    with pytest.raises(LifecycleError, match="device 'dev0' is realized"):
        device.set_property(name, value)

    assert device.props is before


@settings(max_examples=examples(150), derandomize=True, database=None, deadline=None)
@given(case=property_sets())
def test_a_rejected_change_leaves_the_properties_as_they_were(
    case: tuple[type[Device[Any]], dict[str, object]],
) -> None:
    model, props = case
    device = model("dev0", **REQUIRED.get(model.__name__, {}))
    before = device.props

    rejected = False
    try:
        device.set_properties(**{k: v for k, v in props.items() if k})
    except PropertyError:
        rejected = True

    if rejected:
        assert device.props is before
        return
    assert device.props is not before


def test_a_property_name_with_a_newline_still_gives_one_line() -> None:
    with pytest.raises(PropertyError) as excinfo:
        devices.Pl011("uart0", **{"bogus\nname": 1})

    assert "\n" not in str(excinfo.value)
