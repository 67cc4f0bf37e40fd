"""Flattened device trees laid out byte for byte as QEMU's libfdt lays them out.

``format`` (tokens, layout constants, the header reader) -> ``node`` (the
node record) -> ``writer`` (QEMU's typed setters, :class:`FdtWriter`) ->
``builder`` (the board's tree, :class:`Fdt`) and ``blob`` (someone else's blob
opened and edited in place, :class:`FdtBlob`) -> ``parse`` (blob to tree) and
``dts`` (tree to source, as dtc prints it).
"""

from __future__ import annotations

from virtmodel.machine.fdt.blob import FdtBlob
from virtmodel.machine.fdt.builder import Fdt
from virtmodel.machine.fdt.format import (
    DEFAULT_PHANDLE_START,
    DEFAULT_TOTALSIZE,
    FdtError,
    FdtHeader,
    read_header,
)
from virtmodel.machine.fdt.node import FdtNode
from virtmodel.machine.fdt.writer import FdtWriter

__all__ = [
    "DEFAULT_PHANDLE_START",
    "DEFAULT_TOTALSIZE",
    "Fdt",
    "FdtBlob",
    "FdtError",
    "FdtHeader",
    "FdtNode",
    "FdtWriter",
    "read_header",
]
