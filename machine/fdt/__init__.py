"""Flattened device trees laid out byte for byte as QEMU's libfdt lays them out.

``format`` (tokens, layout constants, the header reader) -> ``node`` (the
node record) -> ``builder`` (:class:`Fdt`) -> ``parse`` (blob to tree) and
``dts`` (tree to source, as dtc prints it).
"""

from __future__ import annotations

from virtmodel.machine.fdt.builder import Fdt
from virtmodel.machine.fdt.format import (
    DEFAULT_PHANDLE_START,
    DEFAULT_TOTALSIZE,
    FdtError,
    FdtHeader,
    read_header,
)
from virtmodel.machine.fdt.node import FdtNode

__all__ = [
    "DEFAULT_PHANDLE_START",
    "DEFAULT_TOTALSIZE",
    "Fdt",
    "FdtError",
    "FdtHeader",
    "FdtNode",
    "read_header",
]
