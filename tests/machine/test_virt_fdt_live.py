"""Our virt DTB against the installed QEMU, run now (not from stored goldens)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import ASSETS, require_file, require_tool
from tests.support.fdt_diff import fdt_diff
from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.dtb import build_virt_dtb, initrd_placement
from virtmodel.machine.fdt import Fdt

pytestmark = pytest.mark.external


def _board_tree(config: VirtConfig, seed: int | None = None) -> Fdt:
    """Return the board's own tree (these configs have no ``-dtb``)."""
    fdt = build_virt_dtb(config, seed)
    assert isinstance(fdt, Fdt)
    return fdt


def dump_qemu(config: VirtConfig, tmp_path: Path, *extra: str) -> bytes:
    """Run QEMU with the config's own command line plus dumpdtb."""
    qemu = require_tool("qemu-system-aarch64", "qemu-system-arm")
    args = config.to_qemu_args()
    m = args.index("-M") + 1
    out = tmp_path / "qemu.dtb"
    args[m] += f",dumpdtb={out}"
    subprocess.run(
        [qemu, *args, *extra, "-nographic", "-nodefaults"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return out.read_bytes()


@pytest.mark.parametrize(
    ("machine", "smp", "memory", "cpu"),
    [
        ("virt,gic-version=3,its=on,dtb-randomness=off", "4", "1G", "cortex-a57"),
        ("virt,gic-version=2,virtualization=on,dtb-randomness=off", "8", "2G", None),
        (
            "virt,gic-version=max,secure=on,iommu=smmuv3,dtb-randomness=off",
            "3",
            "1G",
            "max",
        ),
        (
            "virt,gic-version=3,highmem=off,dtb-randomness=off",
            "6,sockets=3",
            "2G",
            "a64fx",
        ),
    ],
)
def test_dtb_matches_qemu_run_now(
    machine: str, smp: str, memory: str, cpu: str | None, tmp_path: Path
) -> None:
    config = VirtConfig.from_options(machine, smp=smp, memory=memory, cpu=cpu)
    expected = dump_qemu(config, tmp_path)

    fdt = _board_tree(config)

    assert fdt.to_dtb() == expected, "\n".join(fdt_diff(fdt, Fdt.from_dtb(expected)))


def test_with_randomness_only_the_seed_values_differ(tmp_path: Path) -> None:
    config = VirtConfig.from_options(
        "virt,gic-version=3,secure=on", smp="2", memory="1G", cpu="max"
    )
    expected = Fdt.from_dtb(dump_qemu(config, tmp_path))

    ours = _board_tree(config, seed=1)
    lines = fdt_diff(ours, expected)

    assert lines, "the seeds are random, so some value must differ"
    assert all(
        ": property kaslr-seed: " in line or ": property rng-seed: " in line
        for line in lines
    ), "\n".join(lines)
    assert len(ours.to_dtb()) == len(expected.to_dtb())


def test_kernel_initrd_and_append_match_qemu(tmp_path: Path) -> None:
    kernel = require_file(ASSETS / "vmlinuz", "Debian's arm64 kernel")
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(bytes(range(256)) * 300)
    config = VirtConfig.from_options(
        "virt,gic-version=3,dtb-randomness=off",
        smp="2",
        memory="1G",
        cpu="cortex-a57",
        kernel=str(kernel),
        initrd=str(initrd),
        append="console=ttyAMA0 quiet",
    )
    expected = dump_qemu(config, tmp_path)

    fdt = _board_tree(config)

    assert initrd_placement(config) == (0x48000000, 256 * 300)
    assert fdt.to_dtb() == expected, "\n".join(fdt_diff(fdt, Fdt.from_dtb(expected)))


@pytest.mark.parametrize(
    ("machine", "cpu"),
    [
        ("virt,gic-version=3,dtb-randomness=off", "cortex-a57"),  # GED replaces PL061
        ("virt,gic-version=3,acpi=off,dtb-randomness=off", "cortex-a57"),
        ("virt,gic-version=3,secure=on,dtb-randomness=off", "max"),  # no PSCI at all
        ("virt,gic-version=2,dtb-randomness=off", "cortex-a15"),  # 32-bit: low ECAM
    ],
)
def test_firmware_boots_match_qemu(machine: str, cpu: str, tmp_path: Path) -> None:
    firmware = tmp_path / "fw.bin"
    firmware.write_bytes(bytes(4096))
    config = VirtConfig.from_options(
        machine, smp="2", memory="1G", cpu=cpu, bios=str(firmware)
    )
    expected = dump_qemu(config, tmp_path)

    fdt = _board_tree(config)

    assert fdt.to_dtb() == expected, "\n".join(fdt_diff(fdt, Fdt.from_dtb(expected)))
