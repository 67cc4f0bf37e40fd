"""cmd_dtb / cmd_dts: what the CLI's dtb and dts commands produce."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from virtmodel.machine.boards.virt.config import VirtConfig
from virtmodel.machine.boards.virt.dtb import cmd_dtb, cmd_dts, initrd_placement
from virtmodel.machine.errors import ConfigError
from virtmodel.machine.fdt import Fdt


@pytest.fixture
def config() -> VirtConfig:
    return VirtConfig.from_options("virt,gic-version=3", smp="2", memory="1G")


def test_cmd_dtb_writes_qemus_1_mib_image_by_default(
    config: VirtConfig, tmp_path: Path
) -> None:
    out = tmp_path / "virt.dtb"

    cmd_dtb(config, out, seed=1)

    blob = out.read_bytes()
    assert len(blob) == 0x100000
    assert Fdt.from_dtb(blob).getprop("/", "model") == b"linux,dummy-virt\0"


def test_cmd_dtb_packed_trims_to_the_real_size(
    config: VirtConfig, tmp_path: Path
) -> None:
    out = tmp_path / "virt.dtb"

    cmd_dtb(config, out, seed=1, packed=True)

    blob = out.read_bytes()
    assert struct.unpack_from(">I", blob, 4)[0] == len(blob) < 0x4000


def test_cmd_dts_is_the_source_of_the_same_tree(
    config: VirtConfig, tmp_path: Path
) -> None:
    cmd_dtb(config, tmp_path / "virt.dtb", seed=4)

    text = cmd_dts(config, seed=4)

    assert text == Fdt.from_dtb((tmp_path / "virt.dtb").read_bytes()).to_dts()
    assert text.startswith("/dts-v1/;\n\n/ {\n\tinterrupt-parent = <0x8003>;\n")


def test_initrd_goes_128_mib_into_ram_or_half_of_small_ram(tmp_path: Path) -> None:
    image = tmp_path / "initrd"
    image.write_bytes(b"x" * 1000)

    big = VirtConfig.from_options("virt", memory="1G", kernel="k", initrd=str(image))
    small = big.replace(ram_size=128 << 20)

    assert initrd_placement(big) == (0x48000000, 1000)
    assert initrd_placement(small) == (0x44000000, 1000)


def test_an_unreadable_initrd_is_a_config_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    config = VirtConfig.from_options("virt", kernel="k", initrd=missing)

    with pytest.raises(
        ConfigError, match=r"cannot read .*nope.*No such file"
    ) as excinfo:
        initrd_placement(config)

    assert excinfo.value.option == "initrd"


def test_dts_of_plain_virt_matches_the_reference_decompile() -> None:
    reference = Path(__file__).resolve().parent.parent / "golden" / "virt.dts"
    plain = VirtConfig.from_options("virt,dtb-randomness=off")

    assert cmd_dts(plain) == reference.read_text()
