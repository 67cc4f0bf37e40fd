from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ASSETS, require_file, require_tool
from virtmodel.devices.cpu import ArmCpu
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.devices import cpu_properties
from virtmodel.machine.boards.virt.psci import boot_facts


def facts(**kw: bool) -> tuple[str, int, str]:
    args = {
        "secure": False,
        "virtualization": False,
        "has_kernel": False,
        "has_firmware": False,
        **kw,
    }
    boot = boot_facts(aarch64=True, version=(1, 1), **args)
    return boot.board_conduit, boot.boot_el, boot.conduit


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, ("hvc", 1, "hvc")),
        ({"virtualization": True}, ("smc", 2, "smc")),
        ({"secure": True}, ("hvc", 3, "disabled")),
        ({"secure": True, "has_kernel": True}, ("hvc", 1, "hvc")),
        ({"secure": True, "has_firmware": True}, ("disabled", 3, "disabled")),
        ({"secure": True, "virtualization": True}, ("smc", 3, "disabled")),
        ({"virtualization": True, "has_kernel": True}, ("smc", 2, "smc")),
        (
            {"secure": True, "has_kernel": True, "has_firmware": True},
            ("disabled", 3, "disabled"),
        ),
    ],
)
def test_conduit_follows_board_choice_then_the_boot_level(
    kw: dict[str, bool], expected: tuple[str, int, str]
) -> None:
    assert facts(**kw) == expected


def test_psci_1_x_lists_all_three_compatibles_and_64_bit_ids() -> None:
    boot = boot_facts(
        secure=False,
        virtualization=False,
        has_kernel=False,
        has_firmware=False,
        aarch64=True,
        version=(1, 1),
    )

    assert boot.compatible == ("arm,psci-1.0", "arm,psci-0.2", "arm,psci")
    assert dict(boot.function_ids) == {
        "cpu_suspend": 0xC4000001,
        "cpu_off": 0x84000002,
        "cpu_on": 0xC4000003,
        "migrate": 0xC4000005,
    }


def test_32_bit_cpus_use_32_bit_function_ids() -> None:
    boot = boot_facts(
        secure=False,
        virtualization=False,
        has_kernel=False,
        has_firmware=False,
        aarch64=False,
        version=(1, 1),
    )

    assert boot.function_ids["cpu_on"] == 0x84000003
    assert boot.function_ids["cpu_suspend"] == 0x84000001


def test_older_psci_versions_change_compatible_and_ids() -> None:
    v02 = boot_facts(
        secure=False,
        virtualization=False,
        has_kernel=False,
        has_firmware=False,
        aarch64=True,
        version=(0, 2),
    )
    v01 = boot_facts(
        secure=False,
        virtualization=False,
        has_kernel=False,
        has_firmware=False,
        aarch64=True,
        version=(0, 1),
    )

    assert v02.compatible == ("arm,psci-0.2", "arm,psci")
    assert v01.compatible == ("arm,psci",)
    assert v01.function_ids["cpu_on"] == 0x95C1BA60


@pytest.mark.external
@pytest.mark.parametrize(
    "kw",
    [
        {"smp": "2"},
        {"machine": "virt,secure=on", "smp": "2"},
        {"machine": "virt,virtualization=on", "smp": "2"},
        {
            "machine": "virt,secure=on",
            "smp": "2",
            "cpu": "cortex-a57",
            "bios": "/dev/null",
        },
        {"machine": "virt,secure=on,virtualization=on", "smp": "2", "cpu": "max"},
        {"machine": "virt,secure=on", "smp": "2", "cpu": "max", "kernel": "KERNEL"},
        {
            "machine": "virt,virtualization=on",
            "smp": "2",
            "cpu": "max",
            "kernel": "KERNEL",
        },
    ],
)
def test_psci_node_and_enable_method_match_qemu(
    tmp_path: Path, kw: dict[str, str]
) -> None:
    qemu = require_tool("qemu-system-aarch64", "qemu-system-arm")
    dtc = require_tool("dtc", "device-tree-compiler")
    if kw.get("kernel") == "KERNEL":
        kw = {
            **kw,
            "kernel": str(require_file(ASSETS / "vmlinuz", "Debian's arm64 kernel")),
        }
    config = VirtConfig.from_options(**kw)
    args = config.to_qemu_args()
    args[1] += f",dumpdtb={tmp_path / 'x.dtb'}"
    subprocess.run(
        [qemu, "-nographic", "-nodefaults", *args],
        capture_output=True,
        check=True,
        timeout=60,
    )
    dts = subprocess.run(
        [dtc, "-I", "dtb", "-O", "dts", str(tmp_path / "x.dtb")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    method = re.search(r'\n\tpsci \{\n(?:\t\t.*\n)*?\t\tmethod = "(\w+)";', dts)

    assert (method.group(1) if method else "disabled") == config.psci_conduit
    assert ('enable-method = "psci"' in dts) == (
        config.boot.board_conduit != "disabled"
    )


def test_cpu_properties_build_the_boards_cpus() -> None:
    config = VirtConfig.from_options(
        "virt,gic-version=3,secure=on", smp="20", cpu="max"
    )
    cpus = [ArmCpu(f"cpu{i}", **cpu_properties(config, i)) for i in (0, 16)]

    assert [cpu.mpidr for cpu in cpus] == [0x0, 0x100]
    assert [cpu.props.start_powered_off for cpu in cpus] == [False, True]
    assert (cpus[0].has_el3, cpus[0].has_el2, cpus[0].boot_el) == (True, False, 3)
    assert cpus[0].props.psci_conduit == "disabled"
    assert cpus[0].props.reset_cbar == 0x0800_0000


def test_cpu_properties_leave_el3_and_el2_off_by_default() -> None:
    props = cpu_properties(VirtConfig(), 0)

    assert (props["has_el3"], props["has_el2"], props["psci_conduit"]) == (
        False,
        False,
        "hvc",
    )
