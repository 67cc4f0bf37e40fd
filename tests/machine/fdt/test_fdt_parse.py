"""Parsing blobs back into trees."""

from __future__ import annotations

import gzip
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import require_tool
from virtmodel.machine.fdt import Fdt, FdtError

GOLDEN = Path(__file__).resolve().parents[3] / "tests" / "golden"


def small_tree() -> Fdt:
    fdt = Fdt()
    fdt.setprop_string("/", "model", "m")
    fdt.add_subnode("/a@1")
    fdt.setprop_cells("/a@1", "reg", 1)
    fdt.add_subnode("/a@1/b")
    return fdt


def test_a_qemu_blob_converts_back_to_identical_bytes() -> None:
    blob = gzip.decompress((GOLDEN / "v3_secure_smp4.dtb.gz").read_bytes())

    assert Fdt.from_dtb(blob).to_dtb() == blob


def test_parsed_tree_keeps_names_values_and_order() -> None:
    parsed = Fdt.from_dtb(small_tree().to_dtb(None))

    assert parsed.getprop("/a@1", "reg") == b"\0\0\0\1"
    assert parsed.node("/a/b").path == "/a@1/b"
    assert parsed.strings_block == b"model\0reg\0"


def test_a_parsed_tree_can_be_edited_with_libfdt_rules() -> None:
    built = small_tree()
    parsed = Fdt.from_dtb(built.to_dtb())

    for fdt in (built, parsed):
        fdt.add_subnode("/a@1/c")
        fdt.setprop_cells("/a@1/c", "reg", 7)

    assert parsed.to_dtb() == built.to_dtb()


def test_nop_tokens_are_dropped_and_the_struct_rebuilt() -> None:
    blob = bytearray(small_tree().to_dtb(None))
    # Overwrite the root's "model" property (12-byte header + 4-byte value) with NOPs.
    blob[0x48:0x58] = struct.pack(">4I", 4, 4, 4, 4)

    parsed = Fdt.from_dtb(bytes(blob))

    assert "model" not in parsed.root.props
    assert parsed.getprop("/a@1", "reg") == b"\0\0\0\1"
    assert b"\0\0\0\4" not in parsed.struct_block()[:8]


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda b: b[:20], "too short for a header"),
        (lambda b: b"\0\0\0\0" + b[4:], "bad magic 0x00000000"),
        (
            lambda b: b[:20] + struct.pack(">I", 15) + b[24:],
            "version 15 is older than 16",
        ),
        (lambda b: b[:0x40] + struct.pack(">I", 7) + b[0x44:], "unknown token 0x7"),
        (lambda b: b[:0x100], r"totalsize 0x[0-9a-f]{8} is past the 256 bytes given"),
    ],
)
def test_malformed_blobs_are_refused_with_the_reason(
    mutate: Callable[[bytes], bytes], fragment: str
) -> None:
    good = small_tree().to_dtb(0x200)

    with pytest.raises(FdtError, match=fragment) as excinfo:
        Fdt.from_dtb(mutate(good))

    assert excinfo.value.path == "<blob>"


@pytest.mark.external
def test_a_dtc_blob_with_a_reservation_reads_and_prints_like_dtc(
    tmp_path: Path,
) -> None:
    dtc = require_tool("dtc", "device-tree-compiler")
    source = (
        "/dts-v1/;\n/memreserve/ 0x1000 0x2000;\n"
        '/ {\n\tmodel = "x";\n\tn { b = [01 02]; };\n};\n'
    )
    (tmp_path / "in.dts").write_text(source)
    subprocess.run(
        [
            dtc,
            "-q",
            "-O",
            "dtb",
            "-o",
            str(tmp_path / "in.dtb"),
            str(tmp_path / "in.dts"),
        ],
        check=True,
    )
    expected = subprocess.run(
        [dtc, "-q", "-I", "dtb", "-O", "dts", str(tmp_path / "in.dtb")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    parsed = Fdt.from_dtb((tmp_path / "in.dtb").read_bytes())

    assert parsed.reservations == ((0x1000, 0x2000),)
    assert parsed.to_dts() == expected
    assert Fdt.from_dtb(parsed.to_dtb(None)).reservations == ((0x1000, 0x2000),)


@pytest.mark.parametrize(
    ("name", "where"),
    [(b"cafe", "node name at struct offset"), (b"tag", "property name at 0x")],
)
def test_a_name_that_is_not_utf8_is_an_fdt_error(name: bytes, where: str) -> None:
    fdt = Fdt()
    fdt.add_subnode("/cafe")
    fdt.setprop_cells("/cafe", "tag", 1)
    blob = fdt.to_dtb(totalsize=None)
    broken = blob.replace(name, name[:-1] + b"\xff", 1)

    with pytest.raises(FdtError, match=where) as excinfo:
        Fdt.from_dtb(broken)

    assert excinfo.value.path == "<blob>"
    assert "is not UTF-8" in excinfo.value.problem
