"""The option parser's values need no second validation (issue 13).

``config_from_options`` builds the config from :func:`parse_options`' values
without running pydantic over them again (``VirtConfig._from_checked``), since
building that validator cost more than the rest of ``virtmodel dtb``. That is
sound only if pydantic would accept those values and leave them exactly as
they are; this property test checks it on machine options near the edge of
what QEMU accepts, and that both ways refuse the same machines with the same
error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.fuzz.harness import examples
from tests.fuzz.strategies import CPUS, machine_strings, memory_strings, smp_strings
from virtmodel.machine.boards.virt.config import VirtConfig, config_from_options
from virtmodel.machine.boards.virt.options import parse_options
from virtmodel.machine.errors import ConfigError

#: Options QEMU accepts, so that most examples get past the parser.
_GOOD_MACHINES = st.builds(
    ",".join,
    st.lists(
        st.sampled_from(
            (
                "gic-version=2",
                "gic-version=3",
                "gic-version=4",
                "gic-version=max",
                "gic-version=host",
                "its=off",
                "highmem=off",
                "secure=on",
                "virtualization=on",
                "iommu=smmuv3",
                "acpi=off",
                "ras=on",
                "mte=on",
                "dtb-randomness=off",
                "phandle-start=0x100",
                "default-bus-bypass-iommu=on",
            )
        ),
        max_size=4,
    ).map(lambda keys: [*keys] or ["gic-version=3"]),
).map(lambda keys: "virt," + keys)
_TYPES = st.sampled_from(("virt", "virt-7.2", "virt-6.1", "virt-4.2", "virt-2.6"))
_GOOD_SMP = st.sampled_from(("1", "4", "8", "4,maxcpus=8", "sockets=2,cores=2", "512"))
_GOOD_MEMORY = st.sampled_from(("128M", "1G", "1G,slots=2,maxmem=4G", "3G"))


def _build(
    make: Callable[[dict[str, Any]], VirtConfig], values: dict[str, Any]
) -> tuple[VirtConfig | None, ConfigError | None]:
    try:
        return make(values), None
    except ConfigError as exc:
        return None, exc


def _same_outcome(options: dict[str, Any]) -> bool:
    """Check both ways of building the config agree; return whether one was built."""
    try:
        parsed = parse_options(**options)
    except ConfigError:
        return False  # the parser refused: neither way builds a config
    checked, checked_error = _build(VirtConfig._from_checked, parsed.values)
    full, full_error = _build(lambda values: VirtConfig(**values), parsed.values)
    if checked is None or full is None:
        assert checked is None, f"only pydantic refused: {full_error}"
        assert full is None, f"only the checked path refused: {checked_error}"
        assert str(checked_error) == str(full_error)
        assert checked_error is not None
        assert full_error is not None
        assert checked_error.option == full_error.option
        return False
    assert checked == full
    # Equal is not enough (True == 1): pydantic must not have changed a type.
    checked_values, full_values = checked.field_values(), full.field_values()
    assert {k: type(v) for k, v in checked_values.items()} == {
        k: type(v) for k, v in full_values.items()
    }
    assert checked.memmap == full.memmap
    assert checked.describe() == full.describe()
    return True


@pytest.mark.parametrize(
    "options",
    [
        {"machine": "virt,gic-version=3,its=on", "smp": "4", "memory": "1G"},
        {"machine": "virt,gic-version=3", "smp": "512", "cpu": "cortex-a57"},
        {"machine": "virt-2.6", "memory": "1G,slots=2,maxmem=4G", "cpu": "max"},
        {"machine": "virt,secure=on,virtualization=on", "cpu": "max"},
    ],
)
def test_the_parsers_values_build_the_config_pydantic_would(
    options: dict[str, Any],
) -> None:
    assert _same_outcome(options)


def test_a_machine_beyond_a_limit_is_refused_the_same_way() -> None:
    # 9 CPUs on a GICv2: QEMU's limit, checked after the values parse.
    options = {"machine": "virt,gic-version=2", "smp": "9"}
    assert not _same_outcome(options)
    with pytest.raises(ConfigError, match="GICv2 supports at most 8"):
        config_from_options(**options)


@settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    machine=st.one_of(
        _GOOD_MACHINES,
        st.builds(lambda t, m: t + m.removeprefix("virt"), _TYPES, _GOOD_MACHINES),
        machine_strings(),
    ),
    smp=st.one_of(_GOOD_SMP, smp_strings()),
    memory=st.one_of(_GOOD_MEMORY, memory_strings()),
    cpu=st.sampled_from(CPUS),
    accel=st.sampled_from(("tcg", "kvm")),
)
def test_values_the_parser_accepts_need_no_second_validation(
    machine: str, smp: str, memory: str, cpu: str, accel: str
) -> None:
    options = {"machine": machine, "smp": smp, "memory": memory, "cpu": cpu}
    built = _same_outcome({**options, "accel": accel})
    event("config built" if built else "refused")
