"""A blob someone else wrote, opened and edited in place as libfdt 1.6.1 does.

QEMU treats ``-dtb FILE`` this way: it copies the file into a zeroed buffer of
``(size + 10000) * 2`` bytes, calls ``fdt_open_into`` on it (see
:mod:`~virtmodel.machine.fdt.opening`) and then edits it with libfdt's
read-write calls.  :class:`FdtBlob` keeps that buffer and applies libfdt's
rules to it directly, by offsets, as libfdt does:

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
    FDT_NOP,
    FDT_PROP,
    FdtError,
)
from virtmodel.machine.fdt.node import align4
from virtmodel.machine.fdt.opening import (
    Field,
    get_field,
    next_tag,
    open_into,
    set_field,
)
from virtmodel.machine.fdt.writer import FdtWriter

__all__ = ["FdtBlob"]

_U32 = struct.Struct(">I")
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
        return get_field(self._buf, field)

    def _set(self, field: int, value: int) -> None:
        set_field(self._buf, field, value)

    @property
    def _off_struct(self) -> int:
        return self._get(Field.OFF_STRUCT)

    @property
    def _size_struct(self) -> int:
        return self._get(Field.SIZE_STRUCT)

    @classmethod
    def open_into(cls, data: bytes, bufsize: int) -> FdtBlob:
        """Return *data* opened into a zeroed buffer of *bufsize* bytes.

        Raises:
            FdtError: As :func:`~virtmodel.machine.fdt.opening.open_into`.
        """
        return cls(open_into(data, bufsize))

    # -- walking (libfdt's fdt_next_tag and fdt_next_node) ------------------------

    def _next_tag(self, offset: int) -> tuple[int, int]:
        return next_tag(self._buf, self._off_struct, offset, self._size_struct)

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
        strings = self._get(Field.OFF_STRINGS)
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
        end = self._get(Field.OFF_STRINGS) + self._get(Field.SIZE_STRINGS)
        if end - oldlen + newlen > self._get(Field.TOTALSIZE):
            msg = f"no space left in the 0x{self._get(Field.TOTALSIZE):x}-byte buffer"
            raise FdtError(BLOB, msg)
        self._buf[pos + newlen : end - oldlen + newlen] = self._buf[pos + oldlen : end]

    def _splice_struct(self, offset: int, oldlen: int, newlen: int) -> None:
        self._splice(self._off_struct + offset, oldlen, newlen)
        self._set(Field.SIZE_STRUCT, self._size_struct + newlen - oldlen)
        self._set(Field.OFF_STRINGS, self._get(Field.OFF_STRINGS) + newlen - oldlen)

    def _string_offset(self, name: str) -> int:
        needle = name.encode() + b"\0"
        start, size = self._get(Field.OFF_STRINGS), self._get(Field.SIZE_STRINGS)
        found = self._buf.find(needle, start, start + size)
        if found >= 0:
            return found - start
        self._splice(start + size, 0, len(needle))
        self._buf[start + size : start + size + len(needle)] = needle
        self._set(Field.SIZE_STRINGS, size + len(needle))
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
            end = self._get(Field.OFF_STRINGS) + self._get(Field.SIZE_STRINGS)
            packed = bytearray(self._buf[:end])
            _U32.pack_into(packed, Field.TOTALSIZE, end)
            return bytes(packed)
        if totalsize not in (AS_LOADED, len(self._buf)):
            msg = f"a loaded blob keeps its 0x{len(self._buf):x}-byte buffer"
            raise ValueError(msg)
        return bytes(self._buf)

    def to_dts(self) -> str:
        """Return device tree source in the style of ``dtc -I dtb -O dts``."""
        from virtmodel.machine.fdt.builder import Fdt

        return Fdt.from_dtb(self.to_dtb()).to_dts()
