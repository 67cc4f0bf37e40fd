"""The node record of :class:`~virtmodel.machine.fdt.Fdt`.

A node keeps its properties and subnodes in *creation order* (libfdt's
insertions make the blob show both reversed) and its byte sizes, from which
the builder computes offsets into the blob image without scanning it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import Final

from virtmodel.machine.fdt.format import (
    FDT_BEGIN_NODE,
    FDT_END_NODE,
    FDT_PROP,
)

__all__ = ["FdtNode"]


class FdtNode:
    """One node: properties and subnodes kept in creation order."""

    __slots__ = (
        "_by_base",
        "_by_name",
        "children",
        "header_size",
        "index",
        "name",
        "parent",
        "props",
        "props_size",
        "size",
    )

    def __init__(self, name: str, parent: FdtNode | None = None) -> None:
        #: The node name including any unit address (``"pl011@9000000"``).
        self.name: Final = name
        #: The parent node (None for the root).
        self.parent: Final = parent
        #: Property name -> (value, string offset), in creation order.
        self.props: dict[str, tuple[bytes, int]] = {}
        #: Subnodes in creation order (the blob shows them reversed).
        self.children: list[FdtNode] = []
        #: Position in the parent's ``children``.
        self.index = 0
        #: Bytes of the FDT_BEGIN_NODE token and padded name.
        self.header_size: Final = 4 + align4(len(name.encode()) + 1)
        #: Bytes of all property records of this node.
        self.props_size = 0
        #: Bytes of the whole subtree, FDT_END_NODE included.
        self.size = self.header_size + 4
        self._by_name: dict[str, FdtNode] = {}
        self._by_base: dict[str, FdtNode] = {}

    def _attach(self, child: FdtNode) -> None:
        child.index = len(self.children)
        self.children.append(child)
        self._by_name[child.name] = child
        self._by_base[child.name.partition("@")[0]] = child

    def _grow(self, delta: int) -> None:
        node: FdtNode | None = self
        while node is not None:
            node.size += delta
            node = node.parent

    def subnode(self, name: str) -> FdtNode | None:
        """Return the subnode libfdt's path lookup finds for *name*, or None.

        A name without a unit address also matches ``name@...`` (libfdt's
        ``fdt_nodename_eq_``); the first match in blob order wins, which is the
        most recently created one.
        """
        if "@" in name:
            return self._by_name.get(name)
        return self._by_base.get(name)

    def blob_props(self) -> Iterator[tuple[str, bytes]]:
        """Yield ``(name, value)`` in the order the blob stores them."""
        for name in reversed(self.props):
            yield name, self.props[name][0]

    def blob_children(self) -> Iterator[FdtNode]:
        """Yield subnodes in the order the blob stores them."""
        return reversed(self.children)

    @property
    def path(self) -> str:
        """The node's full path (``"/"`` for the root)."""
        parts: list[str] = []
        node: FdtNode | None = self
        while node is not None and node.parent is not None:
            parts.append(node.name)
            node = node.parent
        return "/" + "/".join(reversed(parts))


U32 = struct.Struct(">I")
PROP_HDR = struct.Struct(">III")
RSV = struct.Struct(">QQ")


def pack_cells(name: str, cells: Sequence[int]) -> bytes:
    try:
        return struct.pack(f">{len(cells)}I", *cells)
    except struct.error:
        bad = next(c for c in cells if not 0 <= c <= 0xFFFFFFFF)
        msg = f"property {name!r}: cell {bad!r} does not fit 32 bits"
        raise ValueError(msg) from None


def align4(n: int) -> int:
    return (n + 3) & ~3


def pad4(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def compute_sizes(node: FdtNode) -> int:
    node.props_size = sum(12 + align4(len(v)) for v, _ in node.props.values())
    node.size = node.header_size + node.props_size + 4
    node.size += sum(compute_sizes(child) for child in node.children)
    return node.size


def emit_node(node: FdtNode, out: list[bytes]) -> None:
    out.append(U32.pack(FDT_BEGIN_NODE) + pad4(node.name.encode() + b"\0"))
    props = node.props
    for name in reversed(props):
        value, nameoff = props[name]
        out.append(PROP_HDR.pack(FDT_PROP, len(value), nameoff))
        if value:
            out.append(pad4(value))
    for child in reversed(node.children):
        emit_node(child, out)
    out.append(U32.pack(FDT_END_NODE))
