"""Parse a flattened device tree blob back into an :class:`~virtmodel.machine.fdt.Fdt`.

Each property keeps the name offset the blob gave it and the strings block is
kept verbatim, so a blob in libfdt's layout round-trips to identical bytes.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from virtmodel.machine.fdt.format import (
    BLOB,
    FDT_BEGIN_NODE,
    FDT_END,
    FDT_END_NODE,
    FDT_NOP,
    FDT_PROP,
    FdtError,
    read_header,
)
from virtmodel.machine.fdt.node import FdtNode

if TYPE_CHECKING:
    from virtmodel.machine.fdt.builder import Fdt

__all__ = ["parse_dtb"]


def _bad(problem: str) -> FdtError:
    return FdtError(BLOB, problem)


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        msg = f"{what} is not UTF-8: {raw!r}"
        raise _bad(msg) from exc


def parse_dtb(cls: type[Fdt], data: bytes) -> Fdt:
    """Return a new *cls* holding the tree stored in *data*.

    Returns the tree with the blob's image adopted verbatim when it has
    libfdt's layout (so it converts back to the same bytes), else rebuilt.

    Raises:
        FdtError: The blob is truncated, has a bad magic or version, or its
            structure block is malformed.
    """
    header = read_header(data)
    totalsize, off_rsv = header.totalsize, header.off_mem_rsvmap
    off_struct, size_struct = header.off_dt_struct, header.size_dt_struct
    off_strings, size_strings = header.off_dt_strings, header.size_dt_strings
    fdt = cls()
    fdt.boot_cpuid_phys = header.boot_cpuid_phys
    reservations: list[tuple[int, int]] = []
    pos = off_rsv
    while True:
        if pos + 16 > totalsize:
            msg = "reservation map is not terminated"
            raise _bad(msg)
        addr, size = struct.unpack_from(">QQ", data, pos)
        pos += 16
        if addr == 0 and size == 0:
            break
        reservations.append((addr, size))
    strings = data[off_strings : off_strings + size_strings]
    saw_nop = _parse_struct(fdt, data[off_struct : off_struct + size_struct], strings)
    # Keep the image byte for byte only when it has libfdt's own layout.
    libfdt_layout = (
        not saw_nop
        and off_rsv == 0x30
        and off_struct == pos
        and off_strings == off_struct + size_struct
    )
    fdt._adopt_image(
        data[:totalsize], reservations, strings, size_struct if libfdt_layout else None
    )
    return fdt


def _parse_struct(fdt: Fdt, blob: bytes, strings: bytes) -> bool:
    saw_nop = False
    stack: list[tuple[FdtNode, list[FdtNode], list[tuple[str, bytes, int]]]] = []
    pos = 0
    end = len(blob)
    while pos + 4 <= end:
        (token,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        if token == FDT_BEGIN_NODE:
            nul = blob.find(b"\0", pos)
            if nul < 0:
                msg = f"unterminated node name at struct offset 0x{pos:x}"
                raise _bad(msg)
            name = _text(blob[pos:nul], f"node name at struct offset 0x{pos:x}")
            pos = (nul + 4) & ~3
            if not stack:
                if name:
                    msg = f"root node is named {name!r}"
                    raise _bad(msg)
                node = fdt.root
            else:
                node = FdtNode(name, stack[-1][0])
            stack.append((node, [], []))
        elif token == FDT_END_NODE:
            if not stack:
                msg = f"unbalanced end of node at struct offset 0x{pos - 4:x}"
                raise _bad(msg)
            node, children, props = stack.pop()
            # The blob stores creation order reversed; store it back unreversed.
            for pname, value, nameoff in reversed(props):
                node.props[pname] = (value, nameoff)
            for child in reversed(children):
                node._attach(child)
            if stack:
                stack[-1][1].append(node)
        elif token == FDT_PROP:
            if not stack or stack[-1][1]:
                msg = f"property outside a node header at 0x{pos - 4:x}"
                raise _bad(msg)
            length, nameoff = struct.unpack_from(">II", blob, pos)
            pos += 8
            value = blob[pos : pos + length]
            pos = (pos + length + 3) & ~3
            nul = strings.find(b"\0", nameoff)
            if nameoff >= len(strings) or nul < 0:
                msg = f"property name offset 0x{nameoff:x} is outside the strings"
                raise _bad(msg)
            pname = _text(strings[nameoff:nul], f"property name at 0x{nameoff:x}")
            stack[-1][2].append((pname, value, nameoff))
        elif token == FDT_NOP:
            saw_nop = True
        elif token == FDT_END:
            if stack:
                msg = f"node {stack[-1][0].name!r} is not closed"
                raise _bad(msg)
            return saw_nop
        else:
            msg = f"unknown token 0x{token:x} at struct offset 0x{pos - 4:x}"
            raise _bad(msg)
    msg = "structure block has no FDT_END"
    raise _bad(msg)
