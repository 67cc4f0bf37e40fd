"""Opening a blob into a larger buffer as libfdt 1.6.1's ``fdt_open_into`` does.

QEMU copies a ``-dtb`` file into a zeroed buffer and opens it in place there.
A blob whose blocks are in order (reservation map, structure, strings; gaps
between them allowed) stays where it is: only its version (17), its
``size_dt_struct`` (counted for version 16) and its ``totalsize`` (the buffer)
change. A blob out of that order is laid out again right after its own end
and then moved to the front, so the bytes of that copy stay behind it in the
buffer, and its ``boot_cpuid_phys`` is what the copy's header held.

:func:`next_tag` is libfdt's ``fdt_next_tag``: the token reader both the
opener (version 16 has no struct size) and the editor walk with.
"""

from __future__ import annotations

import struct
from typing import Final

from virtmodel.machine.fdt.format import (
    BLOB,
    FDT_BEGIN_NODE,
    FDT_END,
    FDT_END_NODE,
    FDT_MAGIC,
    FDT_NOP,
    FDT_PROP,
    FdtError,
)
from virtmodel.machine.fdt.node import align4

__all__ = ["HEADER_END", "Field", "get_field", "next_tag", "open_into", "set_field"]

_U32 = struct.Struct(">I")
_INT32_MAX: Final = 0x7FFFFFFF
#: ``FDT_ALIGN(sizeof(struct fdt_header), 8)``: where a repacked map starts.
HEADER_END: Final = 40


class Field:
    """Byte offsets of the header fields (libfdt's ``struct fdt_header``)."""

    MAGIC: Final = 0
    TOTALSIZE: Final = 4
    OFF_STRUCT: Final = 8
    OFF_STRINGS: Final = 12
    OFF_RSV: Final = 16
    VERSION: Final = 20
    LAST_COMP: Final = 24
    BOOT_CPU: Final = 28
    SIZE_STRINGS: Final = 32
    SIZE_STRUCT: Final = 36


def get_field(buf: bytearray, field: int) -> int:
    """Return the header field at byte offset *field*."""
    return int(_U32.unpack_from(buf, field)[0])


def set_field(buf: bytearray, field: int, value: int) -> None:
    """Write the header field at byte offset *field*."""
    _U32.pack_into(buf, field, value)


def next_tag(buf: bytearray, base: int, offset: int, limit: int) -> tuple[int, int]:
    """Return the token at struct *offset* and the offset of the next one.

    *base* is where the structure block starts and *limit* its size.

    Raises:
        FdtError: The token is unknown or runs past *limit*.
    """
    if offset < 0 or offset + 4 > limit:
        msg = f"structure block ends early at offset 0x{offset:x}"
        raise FdtError(BLOB, msg)
    tag = int(_U32.unpack_from(buf, base + offset)[0])
    nxt = offset + 4
    if tag == FDT_BEGIN_NODE:
        nul = buf.find(b"\0", base + nxt, base + limit)
        if nul < 0:
            msg = f"node name at offset 0x{nxt:x} is not terminated"
            raise FdtError(BLOB, msg)
        nxt = nul - base + 1
    elif tag == FDT_PROP:
        if nxt + 8 > limit:
            msg = f"property at offset 0x{offset:x} is cut off"
            raise FdtError(BLOB, msg)
        nxt += 8 + int(_U32.unpack_from(buf, base + nxt)[0])
    elif tag not in (FDT_END, FDT_END_NODE, FDT_NOP):
        msg = f"unknown token 0x{tag:x} at struct offset 0x{offset:x}"
        raise FdtError(BLOB, msg)
    if nxt > limit:
        msg = f"token at offset 0x{offset:x} runs past the structure block"
        raise FdtError(BLOB, msg)
    return tag, align4(nxt)


def open_into(data: bytes, bufsize: int) -> bytearray:
    """Return *data* opened into a zeroed buffer of *bufsize* bytes.

    Raises:
        FdtError: The blob has a bad magic or version, its blocks do not fit
            the buffer, or its reservation map or (version 16) structure
            block has no end.
    """
    if len(data) > bufsize:
        msg = f"{len(data)} bytes do not fit a buffer of {bufsize}"
        raise FdtError(BLOB, msg)
    buf = bytearray(bufsize)
    buf[: len(data)] = data
    _open(buf)
    _check_header(buf)
    return buf


def _open(buf: bytearray) -> None:
    bufsize = len(buf)
    magic = get_field(buf, Field.MAGIC)
    if magic != FDT_MAGIC:
        msg = f"bad magic 0x{magic:08x}"
        raise FdtError(BLOB, msg)
    version, last = get_field(buf, Field.VERSION), get_field(buf, Field.LAST_COMP)
    if version < 16 or last > 17:
        msg = f"version {version} (compatible with {last}) is not 16 or 17"
        raise FdtError(BLOB, msg)
    totalsize = get_field(buf, Field.TOTALSIZE)
    if totalsize >= _INT32_MAX:
        msg = f"totalsize 0x{totalsize:x} is too large"
        raise FdtError(BLOB, msg)
    rsv_size = (_count_reservations(buf) + 1) * 16
    off_rsv, off_struct = (
        get_field(buf, Field.OFF_RSV),
        get_field(buf, Field.OFF_STRUCT),
    )
    if version >= 17:
        struct_size = get_field(buf, Field.SIZE_STRUCT)
    else:
        struct_size = _scan_struct(buf, off_struct, min(totalsize, bufsize))
    off_strings = get_field(buf, Field.OFF_STRINGS)
    size_strings = get_field(buf, Field.SIZE_STRINGS)
    misordered = (
        off_rsv < HEADER_END
        or off_struct < off_rsv + rsv_size
        or off_strings < off_struct + struct_size
        or totalsize < off_strings + size_strings
    )
    if not misordered:
        if totalsize > bufsize:
            msg = f"totalsize 0x{totalsize:x} is past the 0x{bufsize:x}-byte buffer"
            raise FdtError(BLOB, msg)
        set_field(buf, Field.VERSION, 17)
        set_field(buf, Field.SIZE_STRUCT, struct_size)
        set_field(buf, Field.TOTALSIZE, bufsize)
        return
    blocks = (
        (off_rsv, rsv_size),
        (off_struct, struct_size),
        (off_strings, size_strings),
    )
    _repack(buf, totalsize, blocks)


def _repack(
    buf: bytearray, totalsize: int, blocks: tuple[tuple[int, int], ...]
) -> None:
    """Lay the blocks out in order after the old tree, then move them to the front."""
    bufsize = len(buf)
    (off_rsv, rsv_size), (off_struct, struct_size), (off_strings, size_strings) = blocks
    newsize = HEADER_END + rsv_size + struct_size + size_strings
    # The front overlaps the old tree, so the copy is built right after it.
    tmp = totalsize
    if bufsize < newsize or tmp + newsize > bufsize:
        msg = f"reordering the blocks needs more than the 0x{bufsize:x} bytes"
        raise FdtError(BLOB, msg)
    if any(start + size > bufsize for start, size in blocks):
        msg = "a block lies outside the buffer"
        raise FdtError(BLOB, msg)
    struct_off = HEADER_END + rsv_size
    strings_off = struct_off + struct_size
    # In libfdt's order: each block copied, then its header fields written.
    buf[tmp + HEADER_END : tmp + struct_off] = buf[off_rsv : off_rsv + rsv_size]
    set_field(buf, tmp + Field.OFF_RSV, HEADER_END)
    buf[tmp + struct_off : tmp + strings_off] = buf[
        off_struct : off_struct + struct_size
    ]
    set_field(buf, tmp + Field.OFF_STRUCT, struct_off)
    set_field(buf, tmp + Field.SIZE_STRUCT, struct_size)
    buf[tmp + strings_off : tmp + newsize] = buf[
        off_strings : off_strings + size_strings
    ]
    set_field(buf, tmp + Field.OFF_STRINGS, strings_off)
    set_field(buf, tmp + Field.SIZE_STRINGS, get_field(buf, Field.SIZE_STRINGS))
    buf[0:newsize] = buf[tmp : tmp + newsize]
    set_field(buf, Field.MAGIC, FDT_MAGIC)
    set_field(buf, Field.TOTALSIZE, bufsize)
    set_field(buf, Field.VERSION, 17)
    set_field(buf, Field.LAST_COMP, 16)
    # boot_cpuid_phys stays as the copy's header had it: libfdt reads it back
    # from the buffer it has just overwritten.


def _count_reservations(buf: bytearray) -> int:
    off = get_field(buf, Field.OFF_RSV)
    total = min(get_field(buf, Field.TOTALSIZE), len(buf))
    count = 0
    while off + 16 * count + 16 <= total:
        if struct.unpack_from(">Q", buf, off + 16 * count + 8)[0] == 0:
            return count
        count += 1
    msg = "reservation map has no end inside the blob"
    raise FdtError(BLOB, msg)


def _scan_struct(buf: bytearray, off_struct: int, end: int) -> int:
    """Return a version-16 struct block's size: the offset past its FDT_END."""
    offset = 0
    while True:
        tag, offset = next_tag(buf, off_struct, offset, end - off_struct)
        if tag == FDT_END:
            return offset


def _check_header(buf: bytearray) -> None:
    total = get_field(buf, Field.TOTALSIZE)
    blocks = (
        ("reservation map", get_field(buf, Field.OFF_RSV), 0),
        ("struct", get_field(buf, Field.OFF_STRUCT), get_field(buf, Field.SIZE_STRUCT)),
        (
            "strings",
            get_field(buf, Field.OFF_STRINGS),
            get_field(buf, Field.SIZE_STRINGS),
        ),
    )
    for name, start, size in blocks:
        if not HEADER_END <= start <= start + size <= total:
            msg = f"{name} block [0x{start:x}, 0x{start + size:x}) is outside it"
            raise FdtError(BLOB, msg)
