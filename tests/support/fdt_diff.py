"""A structural diff of two device trees, for test failure messages.

Lines read ``node /x: property y: <a> != <b>``; nodes and properties present on
one side only, order differences and header/strings differences are reported
too, so an empty list means the two blobs are byte-identical in content.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from virtmodel.machine.fdt.dts import format_value

if TYPE_CHECKING:
    from virtmodel.machine.fdt import Fdt, FdtNode

__all__ = ["fdt_diff"]


def _short(value: bytes, limit: int = 120) -> str:
    text = format_value(value) or "<empty>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _join(parent: str, name: str) -> str:
    return f"/{name}" if parent == "/" else f"{parent}/{name}"


def _diff_node(path: str, a: FdtNode, b: FdtNode, out: list[str]) -> None:
    a_props = dict(a.blob_props())
    b_props = dict(b.blob_props())
    for name, value in a_props.items():
        if name not in b_props:
            out.append(f"node {path}: property {name}: only in a ({_short(value)})")
        elif value != b_props[name]:
            both = f"{_short(value)} != {_short(b_props[name])}"
            out.append(f"node {path}: property {name}: {both}")
    out += [
        f"node {path}: property {name}: only in b ({_short(value)})"
        for name, value in b_props.items()
        if name not in a_props
    ]
    common = [n for n in a_props if n in b_props]
    if common != [n for n in b_props if n in a_props]:
        out.append(f"node {path}: property order: {list(a_props)} != {list(b_props)}")
    a_kids = {c.name: c for c in a.blob_children()}
    b_kids = {c.name: c for c in b.blob_children()}
    out += [f"node {_join(path, n)}: only in a" for n in a_kids if n not in b_kids]
    out += [f"node {_join(path, n)}: only in b" for n in b_kids if n not in a_kids]
    shared = [n for n in a_kids if n in b_kids]
    if shared != [n for n in b_kids if n in a_kids]:
        out.append(f"node {path}: subnode order: {list(a_kids)} != {list(b_kids)}")
    for name in shared:
        _diff_node(_join(path, name), a_kids[name], b_kids[name], out)


def fdt_diff(a: Fdt, b: Fdt) -> list[str]:
    """Return readable differences between trees *a* and *b* (empty if equal).

    Besides nodes and properties, the strings block, the reservation map and
    ``boot_cpuid_phys`` are compared, since they change the bytes too.
    """
    out: list[str] = []
    _diff_node("/", a.root, b.root, out)
    if a.strings_block != b.strings_block:
        sa = a.strings_block.split(b"\0")
        sb = b.strings_block.split(b"\0")
        first = next(
            (i for i, (x, y) in enumerate(zip(sa, sb, strict=False)) if x != y), None
        )
        where = (
            f"first difference at entry {first}"
            if first is not None
            else "lengths differ"
        )
        sizes = f"{len(a.strings_block)} bytes != {len(b.strings_block)} bytes"
        out.append(f"strings block: {sizes} ({where})")
    if a.reservations != b.reservations:
        out.append(f"reservation map: {a.reservations} != {b.reservations}")
    if a.boot_cpuid_phys != b.boot_cpuid_phys:
        out.append(f"boot_cpuid_phys: {a.boot_cpuid_phys} != {b.boot_cpuid_phys}")
    return out
