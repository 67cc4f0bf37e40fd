"""FdtBlob: a blob opened and edited in place by libfdt's rules."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from virtmodel.machine.fdt import Fdt, FdtBlob, FdtError
from virtmodel.machine.fdt.format import FDT_NOP

NOP = struct.pack(">I", FDT_NOP)


def _tree() -> Fdt:
    fdt = Fdt()
    fdt.setprop_cells("/", "#address-cells", 2)
    fdt.add_subnode("/memory@40000000")
    fdt.setprop_string("/memory@40000000", "device_type", "memory")
    fdt.add_subnode("/chosen")
    fdt.setprop_string("/chosen", "stdout-path", "/pl011")
    return fdt


def _header(blob: bytes) -> tuple[int, ...]:
    return struct.unpack_from(">10I", blob)


# Operations drawn on a small vocabulary, so names and values collide often.
_NAMES = ("a", "b@1", "b@2", "cpus", "x")
_PROPS = ("reg", "compatible", "status", "g", "reg-names")
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("node"), st.lists(st.sampled_from(_NAMES), max_size=3)),
        st.tuples(
            st.just("prop"),
            st.lists(st.sampled_from(_NAMES), max_size=3),
            st.sampled_from(_PROPS),
            st.binary(max_size=11),
        ),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(_ops)
def test_blob_and_builder_lay_out_the_same_calls_identically(ops: list) -> None:  # type: ignore[type-arg]
    built = Fdt()
    blob = FdtBlob.open_into(Fdt().to_dtb(), 0x100000)
    for op in ops:
        path = "/" + "/".join(op[1])
        for tree in (built, blob):
            try:
                if op[0] == "node":
                    tree.add_subnode(path)
                else:
                    tree.setprop(path, op[2], op[3])
            except FdtError:
                pass  # both refuse (checked by the bytes below)
    assert blob.to_dtb() == built.to_dtb()
    assert blob.to_dtb(None) == built.to_dtb(None)


def test_open_into_keeps_an_ordered_blob_in_place_and_takes_the_buffer() -> None:
    packed = _tree().to_dtb(None)
    blob = FdtBlob.open_into(packed, 0x400)
    out = blob.to_dtb()
    assert len(out) == 0x400
    assert _header(out)[1] == 0x400  # totalsize is the buffer
    assert out[:4] == packed[:4]
    assert out[8 : len(packed)] == packed[8:]
    assert out[len(packed) :] == bytes(0x400 - len(packed))


def test_nop_node_leaves_its_bytes_as_nop_tokens() -> None:
    packed = _tree().to_dtb(None)
    blob = FdtBlob.open_into(packed, 0x400)
    before = blob.to_dtb()
    blob.nop_node("/memory")
    after = blob.to_dtb()
    changed = [i for i in range(len(after)) if after[i] != before[i]]
    start, end = changed[0] & ~3, (changed[-1] | 3) + 1
    assert after[start:end] == NOP * ((end - start) // 4)
    assert not blob.exists("/memory@40000000")
    assert blob.exists("/chosen")
    # The struct keeps its size: the node is gone, its bytes are not.
    assert _header(after)[9] == _header(before)[9]


def test_a_new_subnode_goes_after_the_nops_that_follow_the_properties() -> None:
    blob = FdtBlob.open_into(_tree().to_dtb(None), 0x400)
    blob.nop_node("/chosen")  # the first subnode in the blob, after the props
    blob.add_subnode("/new")
    names = [path for _, path in blob.walk()]
    assert names == ["/", "/new", "/memory@40000000"]
    data = blob.to_dtb()
    first_child = data.index(b"new\0") - 4
    assert data[first_child - 4 : first_child] == NOP  # after the NOP run


def test_a_misordered_blob_is_repacked_after_its_own_end() -> None:
    packed = _tree().to_dtb(None)
    magic, _, off_struct, off_strings, *_ = _header(packed)
    size_strings, size_struct = _header(packed)[8], _header(packed)[9]
    strings = packed[off_strings : off_strings + size_strings]
    structure = packed[off_struct : off_struct + size_struct]
    # Strings before the structure: libfdt's read-write calls refuse that order.
    body = bytes(16) + strings + structure
    header = struct.pack(
        ">10I",
        magic,
        40 + len(body),
        40 + 16 + len(strings),
        40 + 16,
        40,
        17,
        16,
        0,
        size_strings,
        size_struct,
    )
    blob = FdtBlob.open_into(header + body, 0x400)
    out = blob.to_dtb()
    assert _header(out)[2:5] == (40 + 16, 40 + 16 + size_struct, 40)
    assert out[40 + 16 : 40 + 16 + size_struct] == structure
    # The copy built after the old tree stays behind in the buffer.
    assert out[40 + len(body) + 56 :][:size_struct] == structure
    assert [p for _, p in blob.walk()] == ["/", "/chosen", "/memory@40000000"]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x00" * 64, "bad magic"),
        (b"\xd0\x0d\xfe\xed" + bytes(60), "version"),
    ],
)
def test_open_into_refuses_what_libfdt_refuses(data: bytes, problem: str) -> None:
    with pytest.raises(FdtError, match=problem):
        FdtBlob.open_into(data, 0x400)


def test_setprop_resizes_in_place_and_getprop_reads_it_back() -> None:
    blob = FdtBlob.open_into(_tree().to_dtb(None), 0x400)
    built = _tree()
    for tree in (blob, built):
        tree.setprop_string("/chosen", "stdout-path", "/a-much-longer-path")
        tree.setprop_cells("/chosen", "new", 1)
    assert blob.getprop("/chosen", "stdout-path") == b"/a-much-longer-path\0"
    assert blob.to_dtb(None) == built.to_dtb(None)


def test_to_dtb_keeps_the_buffer_size_it_was_opened_into() -> None:
    blob = FdtBlob.open_into(_tree().to_dtb(None), 0x400)
    with pytest.raises(ValueError, match="buffer"):
        blob.to_dtb(0x800)
