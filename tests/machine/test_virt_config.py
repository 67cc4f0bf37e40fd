from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from virtmodel.machine.boards.virt.config import CpuTopologyId, VirtConfig
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.options import GiB, MiB


def make(machine: str | None = None, **kw: Any) -> VirtConfig:
    return VirtConfig.from_options(machine, **kw)


def test_defaults_are_qemus() -> None:
    config = VirtConfig()

    assert (config.accel, config.cpu_type, config.gic_version) == (
        "tcg",
        "cortex-a15",
        2,
    )
    assert (config.cpus, config.max_cpus, config.ram_size) == (1, 1, 128 * MiB)
    assert config.maxram_size == config.ram_size
    assert (config.its, config.highmem, config.dtb_randomness) == (True, True, True)
    assert (config.secure, config.virtualization, config.mte, config.ras) == (
        False,
        False,
        False,
        False,
    )
    assert (config.iommu, config.acpi, config.phandle_start) == ("none", "auto", 0)
    assert config.first_phandle == 0x8000
    assert config.warnings == ()


def test_a_config_is_a_frozen_hashable_value() -> None:
    config = VirtConfig(gic_version=3)

    assert config == VirtConfig(gic_version=3)
    assert hash(config) == hash(VirtConfig(gic_version=3))
    with pytest.raises(ValueError, match="frozen"):
        config.its = False  # type: ignore[misc]  # the point: assignment is refused


def test_replace_revalidates() -> None:
    config = VirtConfig(gic_version=3, smp="200")

    with pytest.raises(
        ConfigError, match="redistributor regions hold 123 CPUs but 200"
    ):
        config.replace(highmem=False)


def test_field_type_errors_become_config_errors_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="option 'iommu': 'virtio' is invalid") as exc:
        VirtConfig(iommu="virtio")

    assert exc.value.option == "iommu"
    assert exc.value.value == "virtio"
    assert exc.value.__cause__ is not None


def test_unknown_field_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="option 'gic'") as exc:
        VirtConfig(gic=3)

    assert exc.value.option == "gic"


def test_default_memmap_is_the_gicv2_machine_in_address_order() -> None:
    config = VirtConfig()

    assert list(config.memmap) == [
        "flash",
        "gic_dist",
        "gic_cpu",
        "gic_v2m",
        "uart",
        "rtc",
        "fw_cfg",
        "gpio",
        "mmio",
        "platform_bus",
        "pcie_mmio",
        "pcie_pio",
        "mem",
        "high_pcie_ecam",
        "high_pcie_mmio",
    ]
    bases = [entry.base for entry in config.memmap.values()]
    assert bases == sorted(bases)
    assert config.memmap["mem"] == (0x4000_0000, 128 * MiB)


def test_gicv3_with_its_maps_its_and_redistributors_but_no_cpu_interface() -> None:
    config = make("virt,gic-version=3,its=on", smp="4", memory="1G")

    assert config.memmap["gic_its"] == (0x0808_0000, 0x2_0000)
    assert config.memmap["gic_redist"] == (0x080A_0000, 0xF6_0000)
    assert "gic_cpu" not in config.memmap
    assert "gic_v2m" not in config.memmap
    assert "high_gic_redist2" not in config.memmap


def test_its_off_removes_the_its_region() -> None:
    assert "gic_its" not in make("virt,gic-version=3,its=off").memmap


def test_gicv2_with_virtualization_maps_hyp_and_vcpu_frames() -> None:
    memmap = make("virt,virtualization=on").memmap

    assert memmap["gic_hyp"] == (0x0803_0000, 0x1_0000)
    assert memmap["gic_vcpu"] == (0x0804_0000, 0x1_0000)


def test_secure_adds_the_secure_devices_and_smmuv3_its_region() -> None:
    memmap = make("virt,secure=on,iommu=smmuv3").memmap

    assert memmap["secure_uart"] == (0x0904_0000, 0x1000)
    assert memmap["secure_gpio"] == (0x090B_0000, 0x1000)
    assert memmap["secure_mem"] == (0x0E00_0000, 0x100_0000)
    assert memmap["smmu"] == (0x0905_0000, 0x2_0000)


def test_irqmap_is_the_a15irqmap() -> None:
    irqmap = VirtConfig().irqmap

    assert (irqmap["uart"], irqmap["rtc"], irqmap["pcie"], irqmap["gpio"]) == (
        1,
        2,
        3,
        7,
    )
    assert irqmap["secure_gpio"] == 0


def test_highmem_off_uses_the_low_ecam_and_no_64_bit_window() -> None:
    config = make("virt,highmem=off", memory="3G")

    assert config.pa_bits == 32
    assert not (config.highmem_ecam)
    assert not (config.highmem_mmio)
    assert not (config.highmem_redists)
    assert config.ecam == (0x3F00_0000, 16 * MiB)
    assert config.nr_pcie_buses == 16
    assert "high_pcie_mmio" not in config.memmap
    assert config.memmap["pcie_ecam"] == config.ecam


def test_default_uses_the_high_ecam_with_256_buses() -> None:
    config = VirtConfig()

    assert config.ecam == (0x40_1000_0000, 256 * MiB)
    assert config.nr_pcie_buses == 256
    assert "pcie_ecam" not in config.memmap


def test_a_32_bit_cpu_with_firmware_falls_back_to_the_low_ecam() -> None:
    config = make(cpu="cortex-a15", bios="/dev/null")

    assert not config.highmem_ecam
    assert config.nr_pcie_buses == 16


def test_an_aarch64_cpu_with_firmware_keeps_the_high_ecam_and_swaps_gpio_for_ged() -> (
    None
):
    config = make(cpu="cortex-a57", bios="/dev/null")

    assert config.highmem_ecam
    assert config.uses_acpi_ged
    assert "gpio" not in config.memmap
    assert config.memmap["acpi_ged"] == (0x0908_0000, 4)
    assert not make("virt,acpi=off", cpu="cortex-a57", bios="/dev/null").uses_acpi_ged


@pytest.mark.parametrize(
    ("cpu", "pa_bits"), [("cortex-a15", 40), ("cortex-a57", 44), ("max", 52)]
)
def test_pa_bits_follow_the_cpu(cpu: str, pa_bits: int) -> None:
    assert make(cpu=cpu).pa_bits == pa_bits


def test_cortex_a15_with_maxmem_600g_loses_the_64_bit_window() -> None:
    config = make(cpu="cortex-a15", memory="1G,slots=1,maxmem=600G")

    assert not config.highmem_mmio
    assert config.ecam.base == 0x96_9000_0000
    assert config.device_memory == (2 * GiB, 600 * GiB)
    assert config.numa_auto


def test_smp_124_with_maxmem_400g_places_redist2_above_ram() -> None:
    config = make(
        "virt,gic-version=3",
        smp="124",
        memory="1G,slots=1,maxmem=400G",
        cpu="cortex-a57",
    )

    assert config.memmap["high_gic_redist2"] == (0x64_8000_0000, 64 * MiB)
    assert config.redist_region_counts == (123, 1)


def test_redistributor_regions_split_at_123_cpus_for_gicv3() -> None:
    assert make("virt,gic-version=3", smp="123").redist_region_counts == (123,)
    assert make("virt,gic-version=3", smp="124").redist_region_counts == (123, 1)
    assert make("virt,gic-version=3", smp="512").redist_region_counts == (123, 389)
    assert make("virt,gic-version=3").redist_stride == 0x20000


def test_gicv4_redistributors_are_twice_as_large() -> None:
    config = make("virt,gic-version=4,virtualization=on", smp="62")

    assert config.redist_stride == 0x40000
    assert config.redist_region_counts == (61, 1)
    assert config.max_cpus_for_gic == 317


def test_gicv2_has_no_redistributors() -> None:
    config = VirtConfig()

    assert config.redist_region_counts == ()
    assert config.redist_stride == 0
    assert config.max_cpus_for_gic == 8


@pytest.mark.parametrize(
    ("gic", "index", "mpidr"),
    [
        ("3", 0, 0x0),
        ("3", 15, 0xF),
        ("3", 16, 0x100),
        ("3", 255, 0xF0F),
        ("3", 511, 0x1F0F),
        ("2", 7, 0x7),
    ],
)
def test_mpidr_groups_16_cpus_per_cluster_on_gicv3(
    gic: str, index: int, mpidr: int
) -> None:
    smp = "512" if gic == "3" else "8"

    assert make(f"virt,gic-version={gic}", smp=smp).mpidr(index) == mpidr


def test_mpidr_groups_8_cpus_per_cluster_on_gicv2() -> None:
    config = VirtConfig(gic_version=2, smp="2,maxcpus=8")

    assert config.cluster_size == 8
    assert config.mpidr(7) == 0x7


def test_mpidr_of_a_cpu_beyond_maxcpus_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"CPU index 4 is outside \[0, 4\)"):
        make(smp="4").mpidr(4)


def test_topology_ids_come_from_the_smp_topology() -> None:
    config = make("virt,gic-version=3", smp="8,sockets=2,clusters=2,cores=2")

    assert config.topology_ids(5) == CpuTopologyId(
        socket=1, cluster=0, core=1, thread=0
    )
    assert config.smp.sockets == 2


def test_cpu_facts_for_the_device_tree() -> None:
    a15 = VirtConfig()
    a57 = make(cpu="cortex-a57")

    assert (a15.is_armv8, a15.has_pmu, a15.dtb_compatible) == (
        False,
        True,
        "arm,cortex-a15",
    )
    assert a15.timer_compatible == ("arm,armv7-timer",)
    assert a57.timer_compatible == ("arm,armv8-timer", "arm,armv7-timer")
    assert a57.cpu_model.pmu == "armv8"


def test_psci_defaults_to_hvc_with_version_1_1() -> None:
    config = VirtConfig()

    assert config.psci_conduit == "hvc"
    assert config.boot.version == (1, 1)
    assert config.boot.compatible == ("arm,psci-1.0", "arm,psci-0.2", "arm,psci")


def test_describe_is_one_line_with_the_main_choices() -> None:
    text = make(
        "virt,gic-version=3,secure=on", smp="4", memory="1G", cpu="cortex-a57"
    ).describe()

    assert "\n" not in text
    assert text.startswith("virt-7.2 tcg cortex-a57 gicv3+its smp 4/4")
    assert "ram 1G" in text
    assert "secure" in text


def test_kvm_uses_the_simulated_hosts_40_bit_ipa() -> None:
    config = make(accel="kvm", cpu="host")

    assert config.pa_bits == 40
    assert config.highmem_mmio
    assert config.dtb_compatible == "arm,armv8"
    assert make(accel="kvm", cpu="max", host_ipa_bits=48).pa_bits == 48


def test_kvm_reports_the_hosts_psci_version() -> None:
    config = make(accel="kvm", cpu="host", host_psci_version=(0, 2))

    assert config.boot.compatible == ("arm,psci-0.2", "arm,psci")


def test_memmap_is_identical_whatever_the_hash_seed() -> None:
    code = (
        "from virtmodel.machine.boards.virt.config import VirtConfig as V;"
        "c = V.from_options('virt,gic-version=3,secure=on', smp='200', cpu='max');"
        "print(list(c.memmap.items()), c.to_qemu_args(), c.describe())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("0", "1", "12345")
    }

    assert len(outputs) == 1
