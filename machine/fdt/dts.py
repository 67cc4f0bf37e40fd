"""Write device tree source the way ``dtc -I dtb -O dts`` (1.6.1) prints a blob.

A blob carries no type information, so each value is printed by dtc's guess:
a string (list) if it is NUL-terminated printable text with fewer NULs than
other characters, else 32-bit cells if the length is a multiple of 4, else
bytes.  Matching dtc makes diffs against real QEMU decompiles readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from virtmodel.machine.fdt.builder import Fdt
    from virtmodel.machine.fdt.node import FdtNode

__all__ = ["format_value", "to_dts"]

_ESCAPES = {
    0x07: "\\a",
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0B: "\\v",
    0x0C: "\\f",
    0x0D: "\\r",
    0x5C: "\\\\",
    0x22: '\\"',
    0x00: "\\0",
}


def _is_string_byte(b: int) -> bool:
    return 0x20 <= b < 0x7F or b == 0 or 0x07 <= b <= 0x0D


def format_value(value: bytes) -> str:
    """Return the DTS form of a property value: ``"..."``, ``<...>`` or ``[...]``.

    An empty value gives the empty string (the property is a bare flag).
    """
    if not value:
        return ""
    nul = value.count(0)
    if value[-1] == 0 and nul <= len(value) - nul and all(map(_is_string_byte, value)):
        text = "".join(
            _ESCAPES.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}")
            for b in value[:-1]
        )
        return f'"{text}"'
    if len(value) % 4 == 0:
        cells = (
            int.from_bytes(value[i : i + 4], "big") for i in range(0, len(value), 4)
        )
        return "<" + " ".join(f"0x{c:02x}" for c in cells) + ">"
    return "[" + " ".join(f"{b:02x}" for b in value) + "]"


def _node(node: FdtNode, level: int, out: list[str]) -> None:
    indent = "\t" * level
    out.append(f"{indent}{node.name or '/'} {{\n")
    for name, value in node.blob_props():
        text = format_value(value)
        out.append(f"{indent}\t{name} = {text};\n" if text else f"{indent}\t{name};\n")
    for child in node.blob_children():
        out.append("\n")
        _node(child, level + 1, out)
    out.append(f"{indent}}};\n")


def to_dts(fdt: Fdt) -> str:
    """Return the source text of *fdt*, ``/dts-v1/;`` header included."""
    out = ["/dts-v1/;\n\n"]
    for addr, size in fdt.reservations:
        out.append(f"/memreserve/\t0x{addr:016x} 0x{size:016x};\n")
    _node(fdt.root, 0, out)
    return "".join(out)
