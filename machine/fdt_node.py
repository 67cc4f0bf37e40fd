"""The node record of :class:`~machine.fdt.Fdt` and the FDT format constants.

A node keeps its properties and subnodes in *creation order* (libfdt's
insertions make the blob show both reversed) and its byte sizes, from which
the builder computes offsets into the blob image without scanning it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from typing import Final

from virtmodel.machine.errors import MachineError

__all__ = [
    "DEFAULT_PHANDLE_START",
    "DEFAULT_TOTALSIZE",
    "FDT_BEGIN_NODE",
    "FDT_END",
    "FDT_END_NODE",
    "FDT_MAGIC",
    "FDT_NOP",
    "FDT_PROP",
    "GIC_FDT_IRQ_FLAGS_EDGE_LO_HI",
    "GIC_FDT_IRQ_FLAGS_LEVEL_HI",
    "GIC_FDT_IRQ_TYPE_PPI",
    "GIC_FDT_IRQ_TYPE_SPI",
    "OFF_DT_STRUCT",
    "OFF_MEM_RSVMAP",
    "FdtError",
    "FdtNode",
    "ppi_flags",
]

FDT_MAGIC: Final = 0xD00DFEED
FDT_BEGIN_NODE: Final = 1
FDT_END_NODE: Final = 2
FDT_PROP: Final = 3
FDT_NOP: Final = 4
FDT_END: Final = 9
#: QEMU's FDT_MAX_SIZE: the buffer ``create_device_tree`` allocates and dumps.
DEFAULT_TOTALSIZE: Final = 0x100000
#: Where libfdt's ``fdt_create`` puts the reservation map and the struct block.
OFF_MEM_RSVMAP: Final = 0x30
OFF_DT_STRUCT: Final = 0x40
#: Phandle QEMU hands out first when ``phandle-start`` is 0.
DEFAULT_PHANDLE_START: Final = 0x8000
HEADER = struct.Struct(">10I")


class FdtError(MachineError, ValueError):
    """A device-tree operation names a missing or clashing node, or a blob is bad."""

    def __init__(self, path: str, problem: str) -> None:
        #: The node path (or ``"<blob>"`` for a malformed DTB) at fault.
        self.path = path
        super().__init__(f"device tree node {path!r}: {problem}")


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


#: Interrupt specifier encoding of the GIC binding (QEMU ``include/hw/arm/fdt.h``).
GIC_FDT_IRQ_TYPE_SPI: Final = 0
GIC_FDT_IRQ_TYPE_PPI: Final = 1
GIC_FDT_IRQ_FLAGS_EDGE_LO_HI: Final = 1
GIC_FDT_IRQ_FLAGS_LEVEL_HI: Final = 4


def ppi_flags(flags: int, cpus: int | None) -> int:
    """Return PPI flags with the GICv2 CPU mask (bits [15:8]) for *cpus* CPUs.

    ``cpus=None`` (GICv3 and later) leaves the flags as they are; the mask is
    eight bits wide, as QEMU's ``deposit32`` makes it.
    """
    if cpus is None:
        return flags
    return (flags & ~0xFF00) | ((((1 << cpus) - 1) & 0xFF) << 8)
