"""The board's devices need no second validation (issue 13).

The ``virt`` board creates its peripherals and its CPUs inside
``checked_upstream()``: their properties are computed from a ``VirtConfig``
that was validated already, so they are taken as given (``model_construct``)
instead of being validated again, which would build each model's pydantic
validator at start-up. That is sound only if pydantic would accept exactly
those values and leave them as they are; this property test checks it for
every device of machines near the edge of what QEMU accepts.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.fuzz.harness import examples
from tests.fuzz.test_config_checked import _GOOD_MACHINES, _GOOD_MEMORY, _TYPES
from virtmodel.devices.base import Device, checked_upstream
from virtmodel.devices.cpu import ArmCpu
from virtmodel.devices.ram import Ram
from virtmodel.machine.boards.virt.board import settle_gic
from virtmodel.machine.boards.virt.config import VirtConfig, config_from_options
from virtmodel.machine.boards.virt.devices import cpu_properties, virt_peripherals
from virtmodel.machine.errors import ConfigError

_CPUS = st.sampled_from(
    ("cortex-a15", "cortex-a53", "cortex-a57", "cortex-a72", "max", "host")
)
_SMP = st.sampled_from(("1", "2", "4,maxcpus=8", "sockets=2,cores=2", "9", "123"))


def _assert_pydantic_agrees(device: Device[Any]) -> None:
    """Validate *device*'s trusted properties with pydantic; nothing may change."""
    given_values = device.props.model_dump()
    validated = type(device.props).model_validate(given_values)
    assert validated == device.props, device.name
    # Equal is not enough (True == 1): pydantic must not have changed a type.
    assert {k: type(v) for k, v in validated.model_dump().items()} == {
        k: type(v) for k, v in given_values.items()
    }, device.name


def _board_cpu(config: VirtConfig, index: int) -> ArmCpu:
    with checked_upstream():  # as VirtBoard._add_cpu creates it
        return ArmCpu(f"cpu{index}", **cpu_properties(config, index))


def _devices(config: VirtConfig) -> list[Device[Any]]:
    parts = virt_peripherals(config)
    with checked_upstream():  # as VirtBoard.init creates it
        ram = Ram("ram", size=config.ram_size, base=config.memmap["mem"].base)
    found: list[Device[Any]] = [ram]
    for value in (getattr(parts, f.name) for f in dataclasses.fields(parts)):
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, Device):
                found.append(item)
    return found


def test_the_benchmark_machine_s_devices_are_what_pydantic_would_build() -> None:
    config = config_from_options(
        "virt,gic-version=3,its=on", smp="4", memory="1G", cpu="cortex-a57"
    )
    devices = _devices(config)
    assert {d.name for d in devices} >= {"ram", "gic", "its", "uart0", "pcie", "psci"}
    for device in devices:
        _assert_pydantic_agrees(device)
    for index in range(config.max_cpus):
        _assert_pydantic_agrees(_board_cpu(config, index))


@settings(
    max_examples=examples(120),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    machine=st.one_of(
        _GOOD_MACHINES,
        st.builds(lambda t, m: t + m.removeprefix("virt"), _TYPES, _GOOD_MACHINES),
    ),
    smp=_SMP,
    memory=_GOOD_MEMORY,
    cpu=_CPUS,
    accel=st.sampled_from(("tcg", "kvm")),
)
def test_trusted_board_properties_are_what_pydantic_would_build(
    machine: str, smp: str, memory: str, cpu: str, accel: str
) -> None:
    try:
        config = config_from_options(
            machine, smp=smp, memory=memory, cpu=cpu, accel=accel
        )
    except ConfigError:
        event("refused by the config")
        return
    event("config built")
    for device in _devices(config):
        _assert_pydantic_agrees(device)
    # The first CPU, the last present and the last possible one cover the
    # computed fields (affinity, powered off, EL2/EL3).
    for index in sorted({0, config.cpus - 1, config.max_cpus - 1}):
        _assert_pydantic_agrees(_board_cpu(config, index))


@settings(
    max_examples=examples(60),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    machine=st.sampled_from(
        ("virt", "virt,its=off", "virt,highmem=off", "virt-2.6", "virt,iommu=smmuv3")
    ),
    smp=_SMP,
    memory=_GOOD_MEMORY,
    cpu=st.sampled_from(("cortex-a53", "cortex-a57", "host", "max")),
)
def test_a_settled_gic_is_the_config_pydantic_would_build(
    machine: str, smp: str, memory: str, cpu: str
) -> None:
    # Under KVM without gic-version the simulated host settles a GICv3
    # (settle_gic) on the validated config, without validating it again.
    try:
        config = config_from_options(
            machine, smp=smp, memory=memory, cpu=cpu, accel="kvm"
        )
    except ConfigError:
        event("refused by the config")
        return
    if not (config.gic_auto and config.gic_version == 2):
        assert settle_gic(config) is config
        event("nothing to settle")
        return
    changes = {"gic_version": 3, "gic_auto": False}
    full_error = ""
    try:
        full: VirtConfig | None = VirtConfig(**{**config.model_dump(), **changes})
    except ConfigError as exc:
        full, full_error = None, str(exc)
    if full is None:
        with pytest.raises(ConfigError) as refused:
            settle_gic(config)
        assert str(refused.value) == full_error
        event("refused with a GICv3")
        return
    event("settled")
    settled = settle_gic(config)
    assert settled.gic_version == 3
    assert settled == full
    assert {k: type(v) for k, v in settled.field_values().items()} == {
        k: type(v) for k, v in full.field_values().items()
    }
    assert settled.memmap == full.memmap
