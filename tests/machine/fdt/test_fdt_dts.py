"""DTS output reads like ``dtc -I dtb -O dts``."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool
from virtmodel.machine.fdt import Fdt
from virtmodel.machine.fdt.dts import format_value

GOLDEN = Path(__file__).resolve().parents[3] / "tests" / "golden"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (b"", ""),
        (b"hvc\0", '"hvc"'),
        (b"arm,pl011\0arm,primecell\0", '"arm,pl011\\0arm,primecell"'),
        (b'q"\\\t\0', '"q\\"\\\\\\t"'),
        (bytes.fromhex("00008005"), "<0x8005>"),
        (bytes.fromhex("00000002"), "<0x02>"),
        (b"\0\0\0", "[00 00 00]"),
        (b"a\0\0\0", "<0x61000000>"),
        (b"\x01\x02\0", "[01 02 00]"),
    ],
)
def test_values_are_printed_as_dtc_guesses_their_type(value: bytes, text: str) -> None:
    assert format_value(value) == text


def test_empty_nodes_and_flags_use_dtcs_layout() -> None:
    fdt = Fdt()
    fdt.add_subnode("/pmu")
    fdt.add_subnode("/intc@8000000")
    fdt.setprop_empty("/intc@8000000", "ranges")

    text = fdt.to_dts()

    assert text == (
        "/dts-v1/;\n\n/ {\n\n\tintc@8000000 {\n\t\tranges;\n\t};\n\n\tpmu {\n\t};\n};\n"
    )


@pytest.mark.external
@pytest.mark.parametrize("name", ["v3_its_smp4", "v3_smmuv3_secure", "v2_virt_smp4"])
def test_dts_equals_dtcs_decompile_of_the_same_blob(name: str, tmp_path: Path) -> None:
    dtc = require_tool("dtc", "device-tree-compiler")
    blob = gzip.decompress((GOLDEN / f"{name}.dtb.gz").read_bytes())
    (tmp_path / "in.dtb").write_bytes(blob)

    expected = subprocess.run(
        [dtc, "-q", "-I", "dtb", "-O", "dts", str(tmp_path / "in.dtb")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert Fdt.from_dtb(blob).to_dts() == expected


@pytest.mark.external
def test_random_seed_values_are_printed_as_dtc_prints_them(tmp_path: Path) -> None:
    from virtmodel.machine.boards.virt.config import VirtConfig
    from virtmodel.machine.boards.virt.tree import build_virt_fdt

    dtc = require_tool("dtc", "device-tree-compiler")
    config = VirtConfig.from_options("virt,secure=on", cpu="max")
    for seed in range(8):
        fdt = build_virt_fdt(config, seed=seed)
        (tmp_path / "in.dtb").write_bytes(fdt.to_dtb())

        expected = subprocess.run(
            [dtc, "-q", "-I", "dtb", "-O", "dts", str(tmp_path / "in.dtb")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

        assert fdt.to_dts() == expected, f"seed {seed}"
