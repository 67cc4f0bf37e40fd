"""The FDT builder follows libfdt 1.6.1's layout rules."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from virtmodel.machine.fdt import DEFAULT_TOTALSIZE, Fdt, FdtError


def header(blob: bytes) -> tuple[int, ...]:
    return struct.unpack_from(">10I", blob)


def test_empty_tree_has_libfdts_header_and_one_empty_reservation() -> None:
    fdt = Fdt()

    blob = fdt.to_dtb()

    magic, total, off_struct, off_strings, off_rsv, version, last, boot, s_str, s_st = (
        header(blob)
    )
    assert (magic, total, off_rsv, off_struct) == (
        0xD00DFEED,
        DEFAULT_TOTALSIZE,
        0x30,
        0x40,
    )
    assert (version, last, boot) == (17, 16, 0)
    assert blob[0x30:0x40] == bytes(16)
    assert (s_st, s_str, off_strings) == (16, 0, 0x50)
    assert blob[0x40:0x50] == bytes.fromhex("00000001 00000000 00000002 00000009")
    assert not any(blob[0x50:])


def test_packed_blob_ends_with_the_strings_block() -> None:
    fdt = Fdt()
    fdt.setprop_cells("/", "#size-cells", 2)

    blob = fdt.to_dtb(totalsize=None)

    assert header(blob)[1] == len(blob)
    assert blob.endswith(b"#size-cells\0")


def test_properties_come_out_in_reverse_creation_order() -> None:
    fdt = Fdt()
    for name in ("a", "b", "c"):
        fdt.setprop_empty("/", name)

    order = [name for name, _ in Fdt.from_dtb(fdt.to_dtb()).root.blob_props()]

    assert order == ["c", "b", "a"]


def test_setting_an_existing_property_keeps_its_place_and_resizes() -> None:
    fdt = Fdt()
    fdt.setprop_cells("/", "a", 1)
    fdt.setprop_cells("/", "b", 2)

    fdt.setprop_cells("/", "a", 1, 2, 3)
    parsed = Fdt.from_dtb(fdt.to_dtb())

    assert list(parsed.root.blob_props()) == [
        ("b", b"\0\0\0\2"),
        ("a", bytes.fromhex("00000001 00000002 00000003")),
    ]


def test_subnodes_go_after_properties_and_before_older_siblings() -> None:
    fdt = Fdt()
    fdt.add_subnode("/first")
    fdt.add_subnode("/second")
    fdt.setprop_empty("/", "late-property")

    parsed = Fdt.from_dtb(fdt.to_dtb())

    assert [c.name for c in parsed.root.blob_children()] == ["second", "first"]
    assert [n for n, _ in parsed.root.blob_props()] == ["late-property"]


def test_strings_are_appended_in_first_use_order_and_reused() -> None:
    fdt = Fdt()
    fdt.add_subnode("/n")
    fdt.setprop_empty("/", "zeta")
    fdt.setprop_empty("/n", "alpha")
    fdt.setprop_empty("/n", "zeta")

    assert fdt.strings_block == b"zeta\0alpha\0"


def test_a_name_that_is_the_tail_of_an_existing_string_reuses_it() -> None:
    fdt = Fdt()
    fdt.setprop_string("/", "enable-method", "psci")

    fdt.setprop_string("/", "method", "hvc")

    assert fdt.strings_block == b"enable-method\0"
    assert fdt.root.props["method"][1] == len("enable-")


def test_padding_after_a_new_value_keeps_the_bytes_libfdt_leaves_there() -> None:
    # libfdt opens a gap with memmove and never clears it: the three padding
    # bytes after a 17-byte value are what was at that offset before.
    # Here that is bytes 17..19 of the older property's value.
    fdt = Fdt()
    fdt.setprop("/", "older", bytes(range(32)))

    fdt.setprop("/", "newer", b"x" * 17)
    blob = fdt.to_dtb(None)

    value_end = 0x40 + 8 + 12 + 17
    assert blob[value_end : value_end + 3] == bytes([17, 18, 19])
    assert Fdt.from_dtb(blob).getprop("/", "newer") == b"x" * 17


def test_path_without_unit_address_matches_the_node_with_one() -> None:
    fdt = Fdt()
    fdt.add_subnode("/intc@8000000")

    fdt.add_subnode("/intc/its@8080000")

    assert fdt.node("/intc@8000000/its@8080000").name == "its@8080000"


def test_path_with_unit_address_must_match_exactly() -> None:
    fdt = Fdt()
    fdt.add_subnode("/intc@8000000")

    with pytest.raises(FdtError, match="no node matches 'intc@9'") as excinfo:
        fdt.node("/intc@9")

    assert excinfo.value.path == "/intc@9"


def test_add_subnode_refuses_a_missing_parent_and_a_duplicate() -> None:
    fdt = Fdt()
    fdt.add_subnode("/a")

    with pytest.raises(FdtError, match="'/a': already exists"):
        fdt.add_subnode("/a")
    with pytest.raises(FdtError, match="no node matches 'missing'"):
        fdt.add_subnode("/missing/child")


def test_add_path_creates_missing_ancestors_and_reuses_existing_ones() -> None:
    fdt = Fdt()
    fdt.add_path("/cpus/cpu-map/socket0/cluster0/core1")

    fdt.add_path("/cpus/cpu-map/socket0/cluster0/core0")

    cluster = fdt.node("/cpus/cpu-map/socket0/cluster0")
    assert [c.name for c in cluster.blob_children()] == ["core0", "core1"]


def test_cells_helpers_encode_big_endian() -> None:
    fdt = Fdt()

    fdt.setprop_cells("/", "cells", 1, 0xFFFFFFFF)
    fdt.setprop_sized_cells("/", "sized", (1, 5), (2, 0x40_0000_0000))
    fdt.setprop_u64("/", "u64", 0x0102030405060708)
    fdt.setprop_stringlist("/", "list", ["a", "bc"])

    assert fdt.getprop("/", "cells") == bytes.fromhex("00000001 ffffffff")
    assert fdt.getprop("/", "sized") == bytes.fromhex("00000005 00000040 00000000")
    assert fdt.getprop("/", "u64") == bytes.fromhex("0102030405060708")
    assert fdt.getprop("/", "list") == b"a\0bc\0"


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (
            lambda f: f.setprop_cells("/", "big", 1 << 32),
            "cell 4294967296 does not fit",
        ),
        (lambda f: f.setprop_sized_cells("/", "s", (3, 1)), "does not fit 3 cell"),
        (lambda f: f.setprop_u64("/", "u", -1), "does not fit 64 bits"),
        (lambda f: f.setprop_stringlist("/", "l", []), "needs strings without NUL"),
    ],
)
def test_values_that_do_not_fit_are_rejected_naming_the_property(
    call: Callable[[Fdt], object], fragment: str
) -> None:
    fdt = Fdt()

    with pytest.raises(ValueError, match=fragment):
        call(fdt)

    assert fdt.to_dtb() == Fdt().to_dtb()


def test_getprop_names_a_missing_property() -> None:
    with pytest.raises(FdtError, match="device tree node '/': has no property 'x'"):
        Fdt().getprop("/", "x")


def test_phandles_count_up_from_0x8000_or_phandle_start() -> None:
    default, rebased = Fdt(), Fdt(phandle_start=0x100)

    got = [default.alloc_phandle(), default.alloc_phandle(), rebased.alloc_phandle()]

    assert got == [0x8000, 0x8001, 0x100]


def test_get_phandle_reads_the_phandle_property() -> None:
    fdt = Fdt()
    fdt.add_subnode("/intc@8000000")
    fdt.setprop_cells("/intc@8000000", "phandle", 0x8005)

    assert fdt.get_phandle("/intc") == 0x8005


def test_a_tree_larger_than_totalsize_is_refused() -> None:
    fdt = Fdt()
    fdt.setprop("/", "blob", bytes(200))

    with pytest.raises(ValueError, match="more than totalsize 0x80"):
        fdt.to_dtb(totalsize=0x80)
