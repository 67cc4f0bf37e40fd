"""The flattened device tree format: tokens, layout constants, the header.

:func:`read_header` is the one reader of a blob's header and block bounds;
the parser and the boot packer (which lays a padded blob out again without
its free space) both use it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
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
    "HEADER",
    "OFF_DT_STRUCT",
    "OFF_MEM_RSVMAP",
    "FdtError",
    "FdtHeader",
    "read_header",
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
        #: What is wrong, without the path.
        self.problem = problem
        super().__init__(f"device tree node {path!r}: {problem}")


#: The culprit named when a whole blob, not a node, is bad.
BLOB: Final = "<blob>"


@dataclass(frozen=True, slots=True)
class FdtHeader:
    """The header fields of a blob, with the struct size derived for version 16."""

    totalsize: int
    off_dt_struct: int
    off_dt_strings: int
    off_mem_rsvmap: int
    version: int
    last_comp_version: int
    boot_cpuid_phys: int
    size_dt_strings: int
    size_dt_struct: int


def read_header(data: bytes, *, min_version: int = 16) -> FdtHeader:
    """Return the header of the blob *data*, its blocks checked to lie inside it.

    Raises:
        FdtError: *data* is shorter than a header, has a bad magic, is older
            than *min_version*, or a block lies outside the blob (past
            ``totalsize`` or past the bytes given). ``problem`` says which.
    """
    if len(data) < HEADER.size:
        msg = f"{len(data)} bytes is too short for a header"
        raise FdtError(BLOB, msg)
    (
        magic,
        totalsize,
        off_struct,
        off_strings,
        off_rsv,
        version,
        last,
        boot_cpu,
        size_strings,
        size_struct,
    ) = HEADER.unpack_from(data)
    if magic != FDT_MAGIC:
        msg = f"bad magic 0x{magic:08x}"
        raise FdtError(BLOB, msg)
    if version < min_version:
        msg = f"version {version} is older than {min_version}"
        raise FdtError(BLOB, msg)
    if version < 17:
        size_struct = off_strings - off_struct
    limit = min(totalsize, len(data))
    for name, start, size in (
        ("struct", off_struct, size_struct),
        ("strings", off_strings, size_strings),
        ("reservation map", off_rsv, 16),
    ):
        if start + size > limit:
            msg = (
                f"{name} block [0x{start:08x}, 0x{start + size:08x}) lies outside "
                f"the blob [0x00000000, 0x{limit:08x})"
            )
            raise FdtError(BLOB, msg)
    if totalsize > len(data):
        msg = f"totalsize 0x{totalsize:08x} is past the {len(data)} bytes given"
        raise FdtError(BLOB, msg)
    return FdtHeader(
        totalsize,
        off_struct,
        off_strings,
        off_rsv,
        version,
        last,
        boot_cpu,
        size_strings,
        size_struct,
    )
