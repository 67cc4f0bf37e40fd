from __future__ import annotations

import re
from typing import Any

import pytest

from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.fields import DEFAULT_HOST_IPA_BITS
from virtmodel.machine.boards.virt.layout import virt_max_cpus
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import GiB
from virtmodel.machine.smp import SmpTopology


def test_cpu_limits_per_gic_version_are_qemus() -> None:
    assert virt_max_cpus(2) == 8
    assert virt_max_cpus(3) == 123 + 512
    assert virt_max_cpus(4) == 61 + 256
    assert DEFAULT_HOST_IPA_BITS == 40


@pytest.mark.parametrize(
    ("kw", "option", "value", "fragment"),
    [
        (
            {"smp": "9"},
            "smp",
            9,
            "9 CPUs requested, but virt with GICv2 supports at most 8",
        ),
        ({"smp": "4,maxcpus=9"}, "smp", 9, "supports at most 8"),
        (
            {"machine": "virt,gic-version=4,virtualization=on", "smp": "318"},
            "smp",
            318,
            "318 CPUs requested, but virt with GICv4 supports at most 317",
        ),
        (
            {"machine": "virt,gic-version=3", "smp": "513"},
            "smp",
            513,
            "513 CPUs requested, but machine 'virt-7.2' allows at most 512",
        ),
        (
            {"machine": "virt,gic-version=3,highmem=off", "smp": "200"},
            "smp",
            200,
            "the redistributor regions hold 123 CPUs but 200 are configured",
        ),
        (
            {
                "machine": "virt,gic-version=4,virtualization=on,highmem=off",
                "smp": "62",
            },
            "smp",
            62,
            "hold 61 CPUs but 62",
        ),
        (
            {"machine": "virt,highmem=off", "memory": "4G"},
            "m",
            4 * GiB,
            "1073741824 bytes beyond the 32-bit physical address limit",
        ),
        ({"memory": "1G,slots=1,maxmem=1100G"}, "m", 1100 * GiB, "beyond the 40-bit"),
        ({"memory": "1G,slots=300,maxmem=8G"}, "m.slots", 300, "at most 256"),
        ({"memory": "256G"}, "m", 256 * GiB, "above the board's 255 GiB limit"),
        (
            {"machine": "virt,gic-version=4"},
            "gic-version",
            4,
            "gic-version=4 needs virtualization=on",
        ),
        (
            {"machine": "virt,mte=on"},
            "mte",
            True,
            "mte=on needs a CPU with MTE (-cpu max), not 'cortex-a15'",
        ),
        (
            {"machine": "virt,secure=on", "accel": "kvm", "cpu": "host"},
            "secure",
            True,
            "secure=on cannot be given to a KVM guest CPU",
        ),
        (
            {"machine": "virt,virtualization=on", "accel": "kvm", "cpu": "host"},
            "virtualization",
            True,
            "virtualization=on cannot be given to a KVM guest CPU",
        ),
        (
            {"machine": "virt,mte=on", "accel": "kvm", "cpu": "max"},
            "mte",
            True,
            "mte=on is not available with KVM in QEMU 7.2",
        ),
        (
            {
                "machine": "virt,gic-version=4,virtualization=on",
                "accel": "kvm",
                "cpu": "host",
            },
            "gic-version",
            4,
            "gic-version=4 is not available with KVM",
        ),
        (
            {"append": "console=ttyAMA0"},
            "append",
            "console=ttyAMA0",
            "-append is only allowed together with -kernel",
        ),
        ({"initrd": "rd.img"}, "initrd", "rd.img", "-initrd is only allowed together"),
    ],
)
def test_each_limit_is_one_config_error_naming_option_and_value(
    kw: dict[str, Any], option: str, value: object, fragment: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(fragment)) as exc:
        VirtConfig.from_options(**kw)

    assert exc.value.option == option
    assert exc.value.value == value
    assert str(exc.value).startswith(f"option {option!r}: ")


def test_limits_hold_exactly_at_the_boundary() -> None:
    assert VirtConfig.from_options(smp="8").cpus == 8
    assert VirtConfig.from_options("virt,gic-version=3", smp="512").cpus == 512
    assert VirtConfig.from_options(
        "virt,gic-version=4,virtualization=on", smp="317"
    ).cpus
    assert VirtConfig.from_options("virt,gic-version=3,highmem=off", smp="123").cpus
    assert VirtConfig.from_options("virt,highmem=off", memory="3G").ram_size == 3 * GiB
    assert VirtConfig.from_options(memory="255G").ram_size == 255 * GiB


def test_ram_that_is_not_8k_aligned_is_refused_when_built_directly() -> None:
    with pytest.raises(ConfigError, match="0x00001001 is not a multiple of 8 KiB"):
        VirtConfig(ram_size=0x1001)


def test_inconsistent_direct_topology_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"!= maxcpus \(4\)"):
        VirtConfig(smp=SmpTopology(cpus=4, max_cpus=4, cores=2))


def test_topology_is_one_value_not_six_fields() -> None:
    config = VirtConfig(smp="8,sockets=2,cores=4")
    assert config.smp == SmpTopology(8, 8, 2, 1, 4, 1)
    assert (config.cpus, config.max_cpus) == (8, 8)
    assert config.replace(gic_version=3).smp is config.smp
    with pytest.raises(ConfigError, match="cpus"):
        VirtConfig(cpus=4)


def test_slots_without_room_are_refused_when_built_directly() -> None:
    with pytest.raises(ConfigError, match="leaves no room"):
        VirtConfig(ram_size=GiB, ram_slots=2)


@pytest.mark.parametrize(
    ("name", "value"), [("host_ipa_bits", 48), ("host_psci_version", (0, 2))]
)
def test_host_facts_without_kvm_are_refused_not_ignored(name: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=f"{name} describes the KVM host") as exc:
        VirtConfig.from_options(None, **{name: value})

    assert exc.value.option == name


def test_kvm_ipa_limit_applies_to_hotpluggable_memory() -> None:
    with pytest.raises(ConfigError, match="beyond the 40-bit"):
        VirtConfig.from_options(
            memory="1G,slots=1,maxmem=1100G", accel="kvm", cpu="max"
        )

    config = VirtConfig.from_options(
        memory="1G,slots=1,maxmem=1100G", accel="kvm", cpu="max", host_ipa_bits=44
    )
    assert config.pa_bits == 44


@pytest.mark.parametrize("cpu", ["cortex-a53", "cortex-a57", "host", "max"])
def test_kvm_accepts_the_cpus_with_a_kvm_target(cpu: str) -> None:
    config = VirtConfig.from_options(accel="kvm", cpu=cpu)

    assert config.pa_bits == DEFAULT_HOST_IPA_BITS
