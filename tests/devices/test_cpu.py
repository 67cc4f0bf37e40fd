from __future__ import annotations

import pytest

from virtmodel.devices.cpu import (
    CPU_MODELS,
    DEFAULT_CPU,
    ArmCpu,
    cpu_model,
)
from virtmodel.devices.errors import LifecycleError, PropertyError
from virtmodel.machine.errors import ConfigError


def test_table_lists_exactly_the_cpus_qemu_72_accepts_for_virt() -> None:
    assert list(CPU_MODELS) == [
        "cortex-a7",
        "cortex-a15",
        "cortex-a35",
        "cortex-a53",
        "cortex-a57",
        "cortex-a72",
        "cortex-a76",
        "a64fx",
        "neoverse-n1",
        "host",
        "max",
    ]
    assert DEFAULT_CPU == "cortex-a15"


@pytest.mark.parametrize(
    ("name", "pa_bits"),
    [
        ("cortex-a7", 40),
        ("cortex-a15", 40),
        ("cortex-a35", 40),
        ("cortex-a53", 40),
        ("cortex-a57", 44),
        ("cortex-a72", 44),
        ("cortex-a76", 40),
        ("a64fx", 40),
        ("neoverse-n1", 48),
        ("max", 52),
    ],
)
def test_physical_address_bits_match_qemus_addressing_limit(
    name: str, pa_bits: int
) -> None:
    assert cpu_model(name).pa_bits == pa_bits


def test_32_bit_cpus_have_armv7_timer_and_empty_pmu() -> None:
    a15 = cpu_model("cortex-a15")

    assert (a15.aarch64, a15.armv8_timer, a15.pmu) == (False, False, "armv7")
    assert cpu_model("cortex-a7").pmu == "armv7"


def test_64_bit_cpus_have_armv8_timer_and_pmuv3() -> None:
    a53 = cpu_model("cortex-a53")

    assert (a53.aarch64, a53.armv8_timer, a53.pmu) == (True, True, "armv8")


@pytest.mark.parametrize(
    ("name", "compatible"),
    [
        ("cortex-a15", "arm,cortex-a15"),
        ("max", "arm,cortex-a57"),
        ("a64fx", "arm,a64fx"),
        ("neoverse-n1", "arm,neoverse-n1"),
        ("host", "arm,armv8"),
    ],
)
def test_dtb_compatible_is_the_one_qemu_writes(name: str, compatible: str) -> None:
    assert cpu_model(name).dtb_compatible == compatible


def test_only_max_has_mte_and_only_host_needs_kvm() -> None:
    assert [m.name for m in CPU_MODELS.values() if m.has_mte] == ["max"]
    assert [m.name for m in CPU_MODELS.values() if m.kvm_only] == ["host"]
    assert cpu_model("max").qom_type == "max-arm-cpu"


def test_unknown_model_is_a_config_error_with_a_suggestion() -> None:
    with pytest.raises(
        ConfigError, match="'cortex-a9' is not supported by virt; did you mean"
    ) as exc:
        cpu_model("cortex-a9")

    assert exc.value.option == "cpu"
    assert exc.value.value == "cortex-a9"


def test_cpu_uses_the_boards_affinity() -> None:
    cpu = ArmCpu("cpu16", cpu_type="cortex-a57", index=16, mp_affinity=0x100)

    assert cpu.mpidr == 0x100
    assert cpu.model is CPU_MODELS["cortex-a57"]


def test_cpu_without_affinity_groups_eight_per_cluster() -> None:
    assert ArmCpu("cpu9", index=9).mpidr == 0x101


def test_el2_and_el3_default_to_the_model_and_decide_the_boot_level() -> None:
    cpu = ArmCpu("cpu0", cpu_type="cortex-a53")
    plain = ArmCpu("cpu1", cpu_type="cortex-a53", has_el3=False, has_el2=False)

    assert (cpu.has_el3, cpu.has_el2, cpu.boot_el) == (True, True, 3)
    assert (plain.has_el3, plain.has_el2, plain.boot_el) == (False, False, 1)


def test_mte_on_a_cpu_without_it_is_refused() -> None:
    with pytest.raises(
        PropertyError, match="mte=True but 'cortex-a57' does not implement it"
    ):
        ArmCpu("cpu0", cpu_type="cortex-a57", mte=True)


def test_unknown_model_and_bad_conduit_are_property_errors() -> None:
    with pytest.raises(PropertyError, match="unknown CPU model 'cortex-a9'"):
        ArmCpu("cpu0", cpu_type="cortex-a9")
    with pytest.raises(PropertyError, match="psci_conduit"):
        ArmCpu("cpu0", psci_conduit="svc")


def test_pmu_can_be_switched_off() -> None:
    assert ArmCpu("cpu0", cpu_type="max").has_pmu
    assert not ArmCpu("cpu0", cpu_type="max", pmu=False).has_pmu


def test_reset_holds_secondaries_off_until_psci_starts_them() -> None:
    boot = ArmCpu("cpu0", psci_conduit="hvc")
    secondary = ArmCpu("cpu1", index=1, psci_conduit="hvc", start_powered_off=True)
    for cpu in (boot, secondary):
        cpu.realize()

    boot.reset()
    secondary.reset()

    assert boot.powered_on
    assert not secondary.powered_on


def test_properties_are_frozen_after_realize() -> None:
    cpu = ArmCpu("cpu0")
    cpu.realize()

    with pytest.raises(LifecycleError):
        cpu.set_property("index", 3)


def test_kvm_runs_only_the_models_qemu_has_a_kvm_target_for() -> None:
    assert [m.name for m in CPU_MODELS.values() if m.kvm_ok] == [
        "cortex-a53",
        "cortex-a57",
        "host",
        "max",
    ]
