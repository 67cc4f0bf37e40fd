"""A blob someone else wrote, opened and edited in place as libfdt 1.6.1 does.

QEMU treats ``-dtb FILE`` this way: it copies the file into a zeroed buffer of
``(size + 10000) * 2`` bytes, calls ``fdt_open_into`` on it and then edits it
with libfdt's read-write calls.  :class:`FdtBlob` keeps that buffer and applies
libfdt's rules to it directly, by offsets, as libfdt does:

* ``open_into`` leaves a blob whose blocks are in order (reservation map,
  structure, strings; gaps allowed) where it is, setting version 17 and
  ``totalsize`` to the buffer size; a blob out of order is repacked after its
  own end and moved to the front, leaving that copy's bytes behind it;
* a new property goes right after its node's name, a new subnode after its
  parent's properties *and any NOP tokens that follow them*, an existing
  property is resized in place; every insertion moves the rest of the data
  (structure, any gap, strings) and leaves the opened gap's old bytes;
* a property name is added to the strings block unless its bytes and NUL occur
  anywhere in it;
* ``nop_node`` overwrites a node, from its FDT_BEGIN_NODE to its
  FDT_END_NODE, with FDT_NOP tokens: the bytes stay, the node is gone;
* a path component without a unit address matches ``name@...`` too, and the
  first match in blob order wins.

The board's own tree is built by :class:`~virtmodel.machine.fdt.builder.Fdt`,
which keeps sizes instead of scanning; a test checks the two agree byte for
byte on the same calls.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
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
from virtmodel.machine.fdt.writer import FdtWriter

__all__ = ["FdtBlob"]

_U32 = struct.Struct(">I")
#: Header field offsets (libfdt's ``struct fdt_header``).
_MAGIC, _TOTALSIZE, _OFF_STRUCT, _OFF_STRINGS, _OFF_RSV = 0, 4, 8, 12, 16
_VERSION, _LAST_COMP, _BOOT_CPU, _SIZE_STRINGS, _SIZE_STRUCT = 20, 24, 28, 32, 36
#: ``FDT_ALIGN(sizeof(struct fdt_header), 8)``: where a repacked map starts.
_HEADER_END: Final = 40
_INT32_MAX: Final = 0x7FFFFFFF
#: ``to_dtb``'s default: the buffer at the size it was opened into.
AS_LOADED: Final = -1


class FdtBlob(FdtWriter):
    """A blob in a fixed buffer, edited by offsets with libfdt's rules.

    Example:
        >>> from virtmodel.machine.fdt import Fdt
        >>> blob = FdtBlob.open_into(Fdt().to_dtb(None), 0x200)
        >>> blob.add_subnode("/memory@0")
        >>> blob.nop_node("/memory@0")
        >>> blob.add_subnode("/chosen")
        >>> len(blob.to_dtb()), blob.exists("/memory"), blob.exists("/chosen")
        (512, False, True)
    """

    def __init__(self, buf: bytearray) -> None:
        # Use open_into: it checks the header the offsets below rely on.
        self._buf = buf

    # -- header fields -------------------------------------------------------------

    def _get(self, field: int) -> int:
        return int(_U32.unpack_from(self._buf, field)[0])

    def _set(self, field: int, value: int) -> None:
        _U32.pack_into(self._buf, field, value)

    @property
    def _off_struct(self) -> int:
        return self._get(_OFF_STRUCT)

    @property
    def _size_struct(self) -> int:
        return self._get(_SIZE_STRUCT)

    # -- opening -------------------------------------------------------------------

    @classmethod
    def open_into(cls, data: bytes, bufsize: int) -> FdtBlob:
        """Return *data* opened into a zeroed buffer of *bufsize* bytes.

        Raises:
            FdtError: The blob has a bad magic or version, its blocks do not
                fit the buffer, or its reservation map or (version 16)
                structure block has no end.
        """
        if len(data) > bufsize:
            msg = f"{len(data)} bytes do not fit a buffer of {bufsize}"
            raise FdtError(BLOB, msg)
        buf = bytearray(bufsize)
        buf[: len(data)] = data
        blob = cls(buf)
        blob._open(bufsize)
        blob._check_header()
        return blob

    def _open(self, bufsize: int) -> None:
        get = self._get
        if get(_MAGIC) != FDT_MAGIC:
            msg = f"bad magic 0x{get(_MAGIC):08x}"
            raise FdtError(BLOB, msg)
        version, last = get(_VERSION), get(_LAST_COMP)
        if version < 16 or last > 17:
            msg = f"version {version} (compatible with {last}) is not 16 or 17"
            raise FdtError(BLOB, msg)
        totalsize = get(_TOTALSIZE)
        if totalsize >= _INT32_MAX:
            msg = f"totalsize 0x{totalsize:x} is too large"
            raise FdtError(BLOB, msg)
        rsv_size = (self._count_reservations() + 1) * 16
        struct_size = get(_SIZE_STRUCT) if version >= 17 else self._scan_struct_v16()
        off_rsv, off_struct = get(_OFF_RSV), get(_OFF_STRUCT)
        off_strings, size_strings = get(_OFF_STRINGS), get(_SIZE_STRINGS)
        misordered = (
            off_rsv < _HEADER_END
            or off_struct < off_rsv + rsv_size
            or off_strings < off_struct + struct_size
            or totalsize < off_strings + size_strings
        )
        if not misordered:
            if totalsize > bufsize:
                msg = f"totalsize 0x{totalsize:x} is past the 0x{bufsize:x}-byte buffer"
                raise FdtError(BLOB, msg)
            self._set(_VERSION, 17)
            self._set(_SIZE_STRUCT, struct_size)
            self._set(_TOTALSIZE, bufsize)
            return
        newsize = _HEADER_END + rsv_size + struct_size + size_strings
        # The copy is built right after the old tree, since the front overlaps it.
        tmp = totalsize
        sources = (
            (off_rsv, rsv_size),
            (off_struct, struct_size),
            (off_strings, size_strings),
        )
        if bufsize < newsize or tmp + newsize > bufsize:
            msg = f"reordering the blocks needs more than the 0x{bufsize:x} bytes"
            raise FdtError(BLOB, msg)
        if any(start + size > bufsize for start, size in sources):
            msg = "a block lies outside the buffer"
            raise FdtError(BLOB, msg)
        buf = self._buf
        struct_off = _HEADER_END + rsv_size
        strings_off = struct_off + struct_size
        buf[tmp + _HEADER_END : tmp + struct_off] = buf[off_rsv : off_rsv + rsv_size]
        _U32.pack_into(buf, tmp + _OFF_RSV, _HEADER_END)
        buf[tmp + struct_off : tmp + strings_off] = buf[
            off_struct : off_struct + struct_size
        ]
        _U32.pack_into(buf, tmp + _OFF_STRUCT, struct_off)
        _U32.pack_into(buf, tmp + _SIZE_STRUCT, struct_size)
        buf[tmp + strings_off : tmp + newsize] = buf[
            off_strings : off_strings + size_strings
        ]
        _U32.pack_into(buf, tmp + _OFF_STRINGS, strings_off)
        _U32.pack_into(buf, tmp + _SIZE_STRINGS, get(_SIZE_STRINGS))
        buf[0:newsize] = buf[tmp : tmp + newsize]
        self._set(_MAGIC, FDT_MAGIC)
        self._set(_TOTALSIZE, bufsize)
        self._set(_VERSION, 17)
        self._set(_LAST_COMP, 16)
        # boot_cpuid_phys is left as the copy's header had it: libfdt reads it
        # back from the buffer it has just overwritten.

    def _count_reservations(self) -> int:
        off = self._get(_OFF_RSV)
        total = min(self._get(_TOTALSIZE), len(self._buf))
        count = 0
        while off + 16 * count + 16 <= total:
            size = struct.unpack_from(">Q", self._buf, off + 16 * count + 8)[0]
            if size == 0:
                return count
            count += 1
        msg = "reservation map has no end inside the blob"
        raise FdtError(BLOB, msg)

    def _scan_struct_v16(self) -> int:
        # Version 16 has no size_dt_struct: walk to FDT_END, bounded by totalsize.
        limit = min(self._get(_TOTALSIZE), len(self._buf)) - self._off_struct
        offset = 0
        while True:
            tag, offset = self._next_tag(offset, limit)
            if tag == FDT_END:
                return offset

    def _check_header(self) -> None:
        total = self._get(_TOTALSIZE)
        blocks = (
            ("reservation map", self._get(_OFF_RSV), 0),
            ("struct", self._off_struct, self._size_struct),
            ("strings", self._get(_OFF_STRINGS), self._get(_SIZE_STRINGS)),
        )
        for name, start, size in blocks:
            if not _HEADER_END <= start <= start + size <= total:
                msg = f"{name} block [0x{start:x}, 0x{start + size:x}) is outside it"
                raise FdtError(BLOB, msg)

    # -- walking (libfdt's fdt_next_tag and fdt_next_node) ------------------------

    def _next_tag(self, offset: int, limit: int | None = None) -> tuple[int, int]:
        """Return the tag at struct *offset* and the offset of the next one."""
        base = self._off_struct
        if limit is None:
            limit = self._size_struct
        if offset < 0 or offset + 4 > limit:
            msg = f"structure block ends early at offset 0x{offset:x}"
            raise FdtError(BLOB, msg)
        tag = int(_U32.unpack_from(self._buf, base + offset)[0])
        nxt = offset + 4
        if tag == FDT_BEGIN_NODE:
            nul = self._buf.find(b"\0", base + nxt, base + limit)
            if nul < 0:
                msg = f"node name at offset 0x{nxt:x} is not terminated"
                raise FdtError(BLOB, msg)
            nxt = nul - base + 1
        elif tag == FDT_PROP:
            if nxt + 8 > limit:
                msg = f"property at offset 0x{offset:x} is cut off"
                raise FdtError(BLOB, msg)
            nxt += 8 + int(_U32.unpack_from(self._buf, base + nxt)[0])
        elif tag not in (FDT_END, FDT_END_NODE, FDT_NOP):
            msg = f"unknown token 0x{tag:x} at structure offset 0x{offset:x}"
            raise FdtError(BLOB, msg)
        if nxt > limit:
            msg = f"token at offset 0x{offset:x} runs past the structure block"
            raise FdtError(BLOB, msg)
        return tag, align4(nxt)

    def _after_header(self, offset: int) -> int:
        if offset % 4 or self._next_tag(offset)[0] != FDT_BEGIN_NODE:
            msg = f"offset 0x{offset:x} is not a node"
            raise FdtError(BLOB, msg)
        return self._next_tag(offset)[1]

    def _next_node(self, offset: int, depth: int) -> tuple[int, int] | None:
        """Return the next node's offset and depth, or past the node's end.

        Stepping out of the node *offset* started from (depth below 0)
        returns the offset after its FDT_END_NODE; FDT_END returns None.
        """
        nxt = self._after_header(offset)
        while True:
            offset = nxt
            tag, nxt = self._next_tag(offset)
            if tag == FDT_BEGIN_NODE:
                return offset, depth + 1
            if tag == FDT_END_NODE:
                depth -= 1
                if depth < 0:
                    return nxt, depth
            elif tag == FDT_END:
                return None

    def _name_at(self, offset: int) -> bytes:
        start = self._off_struct + offset + 4
        return bytes(self._buf[start : self._buf.index(b"\0", start)])

    def walk(self) -> Iterator[tuple[int, str]]:
        """Yield ``(offset, path)`` of every node in blob order, root first."""
        names: list[str] = []
        step: tuple[int, int] | None = (0, 0)
        while step is not None and step[1] >= 0:
            offset, depth = step
            del names[depth:]
            names.append(self._name_at(offset).decode(errors="replace"))
            yield offset, "/" + "/".join(names[1:])
            step = self._next_node(offset, depth)

    # -- lookup --------------------------------------------------------------------

    def _subnode(self, parent: int, name: bytes) -> int | None:
        has_unit = b"@" in name
        step = self._next_node(parent, 0)
        while step is not None and step[1] >= 0:
            offset, depth = step
            if depth == 1:
                full = self._name_at(offset)
                if full == name or (not has_unit and full.startswith(name + b"@")):
                    return offset
            step = self._next_node(offset, depth)
        return None

    def offset(self, path: str) -> int:
        """Return the struct offset of the node at *path* (``fdt_path_offset``).

        Raises:
            FdtError: No node matches, or the path is not absolute.
        """
        if not path.startswith("/"):
            raise FdtError(path, "path must start with '/'")
        offset = 0
        for comp in path.split("/"):
            if comp:
                found = self._subnode(offset, comp.encode())
                if found is None:
                    raise FdtError(path, f"no node matches {comp!r}")
                offset = found
        return offset

    def exists(self, path: str) -> bool:
        """Return whether a node matches *path*."""
        try:
            self.offset(path)
        except FdtError:
            return False
        return True

    def _props(self, node: int) -> Iterator[tuple[int, bytes]]:
        """Yield ``(offset, name)`` of the node's properties, skipping NOPs."""
        offset = self._after_header(node)
        strings = self._get(_OFF_STRINGS)
        while True:
            tag, nxt = self._next_tag(offset)
            if tag == FDT_PROP:
                nameoff = int(
                    _U32.unpack_from(self._buf, self._off_struct + offset + 8)[0]
                )
                start = strings + nameoff
                yield offset, bytes(self._buf[start : self._buf.index(b"\0", start)])
            elif tag != FDT_NOP:
                return
            offset = nxt

    def _prop(self, node: int, name: str) -> int | None:
        raw = name.encode()
        return next((off for off, n in self._props(node) if n == raw), None)

    def getprop(self, path: str, name: str) -> bytes:
        """Return the raw value of property *name* of the node at *path*.

        Raises:
            FdtError: The node or the property does not exist.
        """
        prop = self._prop(self.offset(path), name)
        if prop is None:
            raise FdtError(path, f"has no property {name!r}")
        start = self._off_struct + prop + 12
        length = int(_U32.unpack_from(self._buf, start - 8)[0])
        return bytes(self._buf[start : start + length])

    # -- editing (libfdt's fdt_splice_ and its users) ------------------------------

    def _splice(self, pos: int, oldlen: int, newlen: int) -> None:
        end = self._get(_OFF_STRINGS) + self._get(_SIZE_STRINGS)
        if end - oldlen + newlen > self._get(_TOTALSIZE):
            msg = f"no space left in the 0x{self._get(_TOTALSIZE):x}-byte buffer"
            raise FdtError(BLOB, msg)
        self._buf[pos + newlen : end - oldlen + newlen] = self._buf[pos + oldlen : end]

    def _splice_struct(self, offset: int, oldlen: int, newlen: int) -> None:
        self._splice(self._off_struct + offset, oldlen, newlen)
        self._set(_SIZE_STRUCT, self._size_struct + newlen - oldlen)
        self._set(_OFF_STRINGS, self._get(_OFF_STRINGS) + newlen - oldlen)

    def _string_offset(self, name: str) -> int:
        needle = name.encode() + b"\0"
        start, size = self._get(_OFF_STRINGS), self._get(_SIZE_STRINGS)
        found = self._buf.find(needle, start, start + size)
        if found >= 0:
            return found - start
        self._splice(start + size, 0, len(needle))
        self._buf[start + size : start + size + len(needle)] = needle
        self._set(_SIZE_STRINGS, size + len(needle))
        return size

    def setprop(self, path: str, name: str, value: bytes) -> None:
        """Set property *name*: resized in place if present, else added first.

        Raises:
            FdtError: The node does not exist, or the buffer is full.
        """
        if not name or "\0" in name:
            raise FdtError(path, f"invalid property name {name!r}")
        node = self.offset(path)
        prop = self._prop(node, name)
        if prop is not None:
            oldlen = int(_U32.unpack_from(self._buf, self._off_struct + prop + 4)[0])
            self._splice_struct(prop + 12, align4(oldlen), align4(len(value)))
        else:
            prop = self._after_header(node)
            nameoff = self._string_offset(name)
            self._splice_struct(prop, 0, 12 + align4(len(value)))
            struct.pack_into(
                ">III", self._buf, self._off_struct + prop, FDT_PROP, 0, nameoff
            )
        start = self._off_struct + prop
        _U32.pack_into(self._buf, start + 4, len(value))
        self._buf[start + 12 : start + 12 + len(value)] = value

    def add_subnode(self, path: str) -> None:
        """Create the node at *path* after its parent's properties and NOPs.

        Raises:
            FdtError: The parent is missing, a node of that name exists, or
                the buffer is full.
        """
        parent_path, _, name = path.rstrip("/").rpartition("/")
        if not name or "\0" in name:
            raise FdtError(path, f"invalid node name {name!r}")
        parent = self.offset(parent_path or "/")
        raw = name.encode()
        if self._subnode(parent, raw) is not None:
            raise FdtError(path, "already exists")
        offset = self._after_header(parent)
        while True:
            tag, nxt = self._next_tag(offset)
            if tag not in (FDT_PROP, FDT_NOP):
                break
            offset = nxt
        size = 4 + align4(len(raw) + 1) + 4
        self._splice_struct(offset, 0, size)
        start = self._off_struct + offset
        self._buf[start : start + size] = (
            _U32.pack(FDT_BEGIN_NODE)
            + raw
            + bytes(size - 8 - len(raw))
            + _U32.pack(FDT_END_NODE)
        )

    def nop_node(self, path: str) -> None:
        """Overwrite the node at *path* and its subtree with FDT_NOP tokens.

        Raises:
            FdtError: No node matches *path*.
        """
        node = self.offset(path)
        step: tuple[int, int] | None = (node, 0)
        while step is not None and step[1] >= 0:
            step = self._next_node(*step)
        assert step is not None, "a node found by its path has an end"
        start = self._off_struct + node
        self._buf[start : self._off_struct + step[0]] = _U32.pack(FDT_NOP) * (
            (step[0] - node) // 4
        )

    # -- output --------------------------------------------------------------------

    def to_dtb(self, totalsize: int | None = AS_LOADED) -> bytes:
        """Return the whole buffer (what QEMU dumps), or with ``None`` packed.

        Packed means cut after the strings block, ``totalsize`` set to match:
        the blocks stay where they are, as :meth:`Fdt.to_dtb` packs.

        Raises:
            ValueError: *totalsize* is neither None nor the buffer's size.
        """
        if totalsize is None:
            end = self._get(_OFF_STRINGS) + self._get(_SIZE_STRINGS)
            packed = bytearray(self._buf[:end])
            _U32.pack_into(packed, _TOTALSIZE, end)
            return bytes(packed)
        if totalsize not in (AS_LOADED, len(self._buf)):
            msg = f"a loaded blob keeps its 0x{len(self._buf):x}-byte buffer"
            raise ValueError(msg)
        return bytes(self._buf)

    def to_dts(self) -> str:
        """Return device tree source in the style of ``dtc -I dtb -O dts``."""
        from virtmodel.machine.fdt.builder import Fdt

        return Fdt.from_dtb(self.to_dtb()).to_dts()
