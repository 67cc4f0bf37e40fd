"""A flattened device tree (FDT) builder that lays out bytes as libfdt 1.6.1 does.

QEMU builds its DTB by calling libfdt's read-write API on a 1 MiB buffer, and
libfdt's insertion rules decide the byte layout.  :class:`Fdt` reproduces them:

* a new property goes right after the node header, before the existing ones,
  so a node's properties come out in reverse creation order; setting an
  existing property resizes it in place and keeps its position;
* a new subnode goes after the parent's properties and before its existing
  subnodes, so siblings also come out in reverse creation order;
* property names are appended to the strings block in order of first use, and
  a name is reused if its bytes plus NUL occur *anywhere* in the block (even as
  the tail of a longer name), like libfdt's ``fdt_find_string_``;
* the header has ``off_mem_rsvmap`` 0x30, ``off_dt_struct`` 0x40, version 17,
  one empty reservation entry, and the strings block right after the struct.

Why not a library: the pure-Python ``fdt`` package (pyfdt) serialises a tree in
the order it was built (append, not prepend) and keeps its own string table, and
libfdt's ``pylibfdt`` bindings are not on PyPI for Python 3.11 (Debian ships
them only for its system Python) and would tie us to a C library.  The rules
above are small, so we implement them here.

Invariant: nodes and properties are stored in *creation order* and emitted
reversed; a property's name offset is fixed when the property is first created.
"""

from __future__ import annotations

from typing import Final

from virtmodel.machine.fdt.format import (
    DEFAULT_PHANDLE_START,
    DEFAULT_TOTALSIZE,
    FDT_BEGIN_NODE,
    FDT_END,
    FDT_END_NODE,
    FDT_MAGIC,
    FDT_PROP,
    HEADER,
    OFF_DT_STRUCT,
    OFF_MEM_RSVMAP,
    FdtError,
)
from virtmodel.machine.fdt.node import (
    PROP_HDR,
    RSV,
    U32,
    FdtNode,
    align4,
    compute_sizes,
    emit_node,
)
from virtmodel.machine.fdt.writer import FdtWriter

__all__ = [
    "DEFAULT_TOTALSIZE",
    "Fdt",
    "FdtError",
    "FdtNode",
]


class Fdt(FdtWriter):
    r"""A device tree built with QEMU's path-based helpers and libfdt's layout.

    The blob image is kept in a buffer and edited with libfdt's splices, so
    even the padding after a property value holds the stale bytes libfdt would
    leave there; a node tree alongside gives path lookup and offsets.

    Example:
        >>> fdt = Fdt()
        >>> fdt.add_subnode("/chosen")
        >>> fdt.setprop_string("/chosen", "stdout-path", "/pl011@9000000")
        >>> fdt.setprop_cells("/", "#size-cells", 2)
        >>> fdt.getprop("/chosen", "stdout-path")
        b'/pl011@9000000\x00'
        >>> len(fdt.to_dtb()), len(fdt.to_dtb(totalsize=None))
        (1048576, 164)
    """

    def __init__(self, *, phandle_start: int = 0) -> None:
        if not 0 <= phandle_start < 0xFFFFFFFF:
            msg = f"phandle-start 0x{phandle_start:x} is not a valid phandle"
            raise ValueError(msg)
        #: The root node (name ``""``).
        self.root: Final = FdtNode("")
        #: First phandle handed out; 0 means QEMU's default 0x8000.
        self.phandle_start: Final = phandle_start
        self._next_phandle: int | None = None
        self._reservations: tuple[tuple[int, int], ...] = ()
        #: ``boot_cpuid_phys`` header field.
        self.boot_cpuid_phys = 0
        self._strings = bytearray()
        self._string_offsets: dict[str, int] = {}
        self._off_struct = OFF_DT_STRUCT
        # The image as create_device_tree leaves it: an empty root and FDT_END.
        self._buf = bytearray(OFF_DT_STRUCT)
        self._buf += U32.pack(FDT_BEGIN_NODE) + bytes(4) + U32.pack(FDT_END_NODE)
        self._buf += U32.pack(FDT_END)
        self._size_struct = 16

    @property
    def reservations(self) -> tuple[tuple[int, int], ...]:
        """Memory reservation entries ``(address, size)`` read from a blob.

        QEMU writes none, and the builder offers no way to add one.
        """
        return self._reservations

    # -- lookup -----------------------------------------------------------------

    def node(self, path: str) -> FdtNode:
        """Return the node at *path*, matching components as libfdt does.

        Raises:
            FdtError: No node matches the path, or the path is not absolute.
        """
        if not path.startswith("/"):
            raise FdtError(path, "path must start with '/'")
        current = self.root
        for comp in path.split("/"):
            if not comp:
                continue
            found = current.subnode(comp)
            if found is None:
                raise FdtError(path, f"no node matches {comp!r}")
            current = found
        return current

    def exists(self, path: str) -> bool:
        """Return whether a node matches *path*."""
        try:
            self.node(path)
        except FdtError:
            return False
        return True

    def getprop(self, path: str, name: str) -> bytes:
        """Return the raw value of property *name* of the node at *path*.

        Raises:
            FdtError: The node or the property does not exist.
        """
        node = self.node(path)
        try:
            return node.props[name][0]
        except KeyError:
            raise FdtError(path, f"has no property {name!r}") from None

    # -- the buffer, edited as libfdt's fdt_splice_ does ---------------------------

    def _offset(self, node: FdtNode) -> int:
        parent = node.parent
        if parent is None:
            return self._off_struct
        kids = parent.children
        later = sum(kids[i].size for i in range(len(kids) - 1, node.index, -1))
        return self._offset(parent) + parent.header_size + parent.props_size + later

    def _splice(self, pos: int, oldlen: int, newlen: int) -> None:
        # memmove the tail; the bytes of a newly opened gap are left as they were.
        buf = self._buf
        end = self._off_struct + self._size_struct + len(self._strings)
        grow = end - oldlen + newlen - len(buf)
        if grow > 0:
            buf += bytes(grow)
        buf[pos + newlen : end - oldlen + newlen] = buf[pos + oldlen : end]

    def _splice_struct(self, pos: int, oldlen: int, newlen: int) -> None:
        self._splice(pos, oldlen, newlen)
        self._size_struct += newlen - oldlen

    # -- nodes ------------------------------------------------------------------

    def add_subnode(self, path: str) -> None:
        """Create the node at *path*; its parent must exist (qemu_fdt_add_subnode).

        Raises:
            FdtError: The parent is missing or a node of that name exists.
        """
        parent_path, _, name = path.rstrip("/").rpartition("/")
        if not name:
            raise FdtError(path, "cannot create the root node")
        parent = self.node(parent_path or "/")
        self._create(parent, name, path)

    def add_path(self, path: str) -> None:
        """Create the node at *path* and any missing ancestors (qemu_fdt_add_path).

        Raises:
            FdtError: The path is not absolute or a name is invalid.
        """
        if not path.startswith("/"):
            raise FdtError(path, "path must start with '/'")
        current = self.root
        for comp in path.split("/"):
            if not comp:
                continue
            found = current.subnode(comp)
            current = found if found is not None else self._create(current, comp, path)

    def _create(self, parent: FdtNode, name: str, path: str) -> FdtNode:
        if parent.subnode(name) is not None:
            raise FdtError(path, "already exists")
        if "/" in name or "\0" in name:
            raise FdtError(path, f"invalid node name {name!r}")
        child = FdtNode(name, parent)
        pos = self._offset(parent) + parent.header_size + parent.props_size
        self._splice_struct(pos, 0, child.size)
        raw = name.encode()
        self._buf[pos : pos + child.size] = (
            U32.pack(FDT_BEGIN_NODE)
            + raw
            + bytes(child.header_size - 4 - len(raw))
            + U32.pack(FDT_END_NODE)
        )
        parent._attach(child)
        parent._grow(child.size)
        return child

    # -- properties -------------------------------------------------------------

    def _string_offset(self, name: str) -> int:
        off = self._string_offsets.get(name)
        if off is None:
            needle = name.encode() + b"\0"
            off = self._strings.find(needle)
            if off < 0:
                off = len(self._strings)
                pos = self._off_struct + self._size_struct + off
                self._splice(pos, 0, len(needle))
                self._buf[pos : pos + len(needle)] = needle
                self._strings += needle
            self._string_offsets[name] = off
        return off

    def setprop(self, path: str, name: str, value: bytes) -> None:
        """Set property *name* to raw bytes; an existing one keeps its place.

        Raises:
            FdtError: The node does not exist or the name is empty.
        """
        if not name or "\0" in name:
            raise FdtError(path, f"invalid property name {name!r}")
        node = self.node(path)
        value = bytes(value)
        old = node.props.get(name)
        base = self._offset(node) + node.header_size
        if old is not None:
            later = list(node.props)
            after = later[later.index(name) + 1 :]
            pos = base + sum(12 + align4(len(node.props[n][0])) for n in after)
            oldlen, newlen = align4(len(old[0])), align4(len(value))
            self._splice_struct(pos + 12, oldlen, newlen)
            self._buf[pos + 4 : pos + 8] = U32.pack(len(value))
            node.props[name] = (value, old[1])
            delta = newlen - oldlen
        else:
            nameoff = self._string_offset(name)
            delta = 12 + align4(len(value))
            self._splice_struct(base, 0, delta)
            self._buf[base : base + 12] = PROP_HDR.pack(FDT_PROP, len(value), nameoff)
            node.props[name] = (value, nameoff)
            pos = base
        self._buf[pos + 12 : pos + 12 + len(value)] = value
        node.props_size += delta
        node._grow(delta)

    # -- phandles ---------------------------------------------------------------

    def alloc_phandle(self) -> int:
        """Hand out the next phandle, as QEMU's ``qemu_fdt_alloc_phandle``.

        The counter starts at ``phandle_start`` (0x8000 when that is 0) on first
        use and increments by one per allocation.
        """
        if self._next_phandle is None:
            self._next_phandle = self.phandle_start or DEFAULT_PHANDLE_START
        phandle = self._next_phandle
        self._next_phandle += 1
        return phandle

    def get_phandle(self, path: str) -> int:
        """Return the ``phandle`` property of the node at *path*.

        Raises:
            FdtError: The node does not exist or has no 4-byte phandle.
        """
        value = self.getprop(path, "phandle")
        if len(value) != 4:
            raise FdtError(path, "phandle is not one cell")
        return int.from_bytes(value, "big")

    # -- serialisation ------------------------------------------------------------

    @property
    def strings_block(self) -> bytes:
        """The strings block, in first-use order."""
        return bytes(self._strings)

    def struct_block(self) -> bytes:
        """Return the structure block, ending with FDT_END."""
        return bytes(self._buf[self._off_struct : self._off_struct + self._size_struct])

    def to_dtb(self, totalsize: int | None = DEFAULT_TOTALSIZE) -> bytes:
        """Return the blob; ``totalsize=None`` packs it to its real size.

        QEMU's ``dumpdtb`` writes the whole 1 MiB buffer (the default); a
        kernel given a blob with ``-dtb`` wants the packed one.

        Raises:
            ValueError: The tree does not fit *totalsize*.
        """
        off_strings = self._off_struct + self._size_struct
        used = off_strings + len(self._strings)
        size = used if totalsize is None else totalsize
        if size < used:
            msg = f"device tree needs 0x{used:x} bytes, more than totalsize 0x{size:x}"
            raise ValueError(msg)
        blob = self._buf[:size]
        if len(blob) < size:
            blob += bytes(size - len(blob))
        blob[: HEADER.size] = HEADER.pack(
            FDT_MAGIC,
            size,
            self._off_struct,
            off_strings,
            OFF_MEM_RSVMAP,
            17,
            16,
            self.boot_cpuid_phys,
            len(self._strings),
            self._size_struct,
        )
        return bytes(blob)

    @classmethod
    def from_dtb(cls, data: bytes) -> Fdt:
        """Parse a blob (version 16 or 17) into an :class:`Fdt`.

        Name offsets and padding bytes are kept, so a blob in libfdt's layout
        converts back to identical bytes.  NOP tokens are dropped (the image is
        then rewritten compactly).

        Raises:
            FdtError: The blob is truncated or malformed.
        """
        from virtmodel.machine.fdt.parse import parse_dtb

        return parse_dtb(cls, data)

    def to_dts(self) -> str:
        """Return device tree source in the style of ``dtc -I dtb -O dts``."""
        from virtmodel.machine.fdt.dts import to_dts

        return to_dts(self)

    def _adopt_image(
        self,
        image: bytes,
        reservations: list[tuple[int, int]],
        strings: bytes,
        size_struct: int | None,
    ) -> None:
        """Take over a parsed blob; *size_struct* None means rebuild the struct."""
        self._reservations = tuple(reservations)
        self._strings = bytearray(strings)
        self._string_offsets.clear()
        compute_sizes(self.root)
        rsv = b"".join(RSV.pack(a, s) for a, s in reservations) + bytes(16)
        self._off_struct = OFF_MEM_RSVMAP + len(rsv)
        if size_struct is not None:
            self._buf = bytearray(image)
            self._size_struct = size_struct
            return
        out: list[bytes] = []
        emit_node(self.root, out)
        out.append(U32.pack(FDT_END))
        dt_struct = b"".join(out)
        self._buf = bytearray(OFF_MEM_RSVMAP) + rsv + dt_struct + strings
        self._size_struct = len(dt_struct)
