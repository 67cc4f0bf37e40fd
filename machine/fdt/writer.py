"""QEMU's path-based device-tree setters, shared by every tree that takes them.

QEMU writes a tree through ``qemu_fdt_setprop_cells`` and its siblings, which
encode a value and hand the bytes to one ``setprop``.  :class:`FdtWriter` is
that layer: a subclass supplies the raw operations (``add_subnode``,
``setprop``, ``getprop``, ``exists``) and inherits the typed setters.  The
board's own tree (:class:`~virtmodel.machine.fdt.builder.Fdt`) and a user's
blob edited in place (:class:`~virtmodel.machine.fdt.blob.FdtBlob`) are both
writers, so a device that describes itself (``/psci``) writes either.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from virtmodel.machine.fdt.node import pack_cells

__all__ = ["FdtWriter"]


class FdtWriter(ABC):
    """The typed setters over a tree's raw ``setprop``."""

    @abstractmethod
    def add_subnode(self, path: str) -> None:
        """Create the node at *path*; its parent must exist."""

    @abstractmethod
    def setprop(self, path: str, name: str, value: bytes) -> None:
        """Set property *name* of the node at *path* to raw bytes."""

    @abstractmethod
    def getprop(self, path: str, name: str) -> bytes:
        """Return the raw value of property *name* of the node at *path*."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """Return whether a node matches *path*."""

    def setprop_empty(self, path: str, name: str) -> None:
        """Set a zero-length property (a flag such as ``dma-coherent``)."""
        self.setprop(path, name, b"")

    def setprop_cells(self, path: str, name: str, *cells: int) -> None:
        """Set a property of big-endian 32-bit cells.

        Raises:
            FdtError: The node does not exist.
            ValueError: A cell does not fit 32 bits.
        """
        self.setprop(path, name, pack_cells(name, cells))

    def setprop_sized_cells(
        self, path: str, name: str, *pairs: tuple[int, int]
    ) -> None:
        """Set ``(ncells, value)`` pairs: 1 cell, or 2 cells written hi then lo.

        Raises:
            FdtError: The node does not exist.
            ValueError: A size is not 1 or 2, or a value does not fit.
        """
        out: list[int] = []
        for size, value in pairs:
            if size == 1 and 0 <= value <= 0xFFFFFFFF:
                out.append(value)
            elif size == 2 and 0 <= value <= 0xFFFFFFFFFFFFFFFF:
                out += (value >> 32, value & 0xFFFFFFFF)
            else:
                msg = (
                    f"property {name!r}: value 0x{value:x} does not fit {size} cell(s)"
                )
                raise ValueError(msg)
        self.setprop(path, name, pack_cells(name, out))

    def setprop_u64(self, path: str, name: str, value: int) -> None:
        """Set an 8-byte big-endian property.

        Raises:
            FdtError: The node does not exist.
            ValueError: The value does not fit 64 bits.
        """
        if not 0 <= value <= 0xFFFFFFFFFFFFFFFF:
            msg = f"property {name!r}: value {value!r} does not fit 64 bits"
            raise ValueError(msg)
        self.setprop(path, name, value.to_bytes(8, "big"))

    def setprop_string(self, path: str, name: str, value: str) -> None:
        """Set a NUL-terminated string property."""
        self.setprop_stringlist(path, name, [value])

    def setprop_stringlist(self, path: str, name: str, values: Sequence[str]) -> None:
        """Set a string list: each string NUL-terminated, back to back.

        Raises:
            FdtError: The node does not exist.
            ValueError: The list is empty or a string holds a NUL.
        """
        if isinstance(values, str) or not values or any("\0" in v for v in values):
            msg = f"property {name!r}: a string list needs strings without NUL"
            raise ValueError(msg)
        self.setprop(path, name, b"".join(v.encode() + b"\0" for v in values))
