"""QEMU's memory-region tree and its two monitor views, ``info mtree [-f]``.

A :class:`MemRegion` is what QEMU calls a MemoryRegion: a named range that is
a container (it only holds subregions), a terminating region (RAM, ROM device
or I/O callbacks) or an alias of part of another region. An
:class:`AddressSpace` is a named root. :func:`format_mtree` prints the tree of
every address space the way the HMP command ``info mtree`` does (grouped by
root, followed by every region an alias points at), and :func:`format_flat`
prints ``info mtree -f``: each distinct flattened view, the ranges a CPU or
device would actually reach.

QEMU prints its groups in the order of a hash table keyed by pointers, which
changes from run to run; here they come in the order the address spaces were
created. Every group's text is QEMU's, so a comparison that ignores the order
of the groups (:func:`blocks`) matches line for line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

#: ``memory_region_init(..., UINT64_MAX)`` means the whole 64-bit space.
SIZE_ALL: Final = 1 << 64

Kind = Literal["container", "i/o", "ram", "romd", "rom"]


@dataclass(eq=False)
class MemRegion:
    """One QEMU MemoryRegion (identity matters: compare with ``is``)."""

    name: str
    size: int
    kind: Kind = "i/o"
    priority: int = 0
    enabled: bool = True
    alias: MemRegion | None = None
    alias_offset: int = 0
    #: Offset inside the parent once added (``memory_region_add_subregion``).
    addr: int = 0
    #: Subregions in QEMU's list order: higher priority first, and among equal
    #: priorities the one added last first.
    subregions: list[MemRegion] = field(default_factory=list)

    @property
    def terminates(self) -> bool:
        """Whether the region answers accesses itself (not a pure container)."""
        return self.alias is None and self.kind != "container"

    @property
    def type_name(self) -> str:
        """Return the type ``info mtree`` prints (an alias prints its target's)."""
        if self.alias is not None:
            return self.alias.type_name
        return "i/o" if self.kind == "container" else self.kind

    def add(
        self, offset: int, child: MemRegion, priority: int | None = None
    ) -> MemRegion:
        """Map *child* at *offset* (QEMU's ``add_subregion[_overlap]``); return it."""
        child.addr = offset
        if priority is not None:
            child.priority = priority
        for index, other in enumerate(self.subregions):
            if child.priority >= other.priority:
                self.subregions.insert(index, child)
                return child
        self.subregions.append(child)
        return child


@dataclass(frozen=True)
class AddressSpace:
    """A named view rooted at one region (``address_space_init``)."""

    name: str
    root: MemRegion


def _line(start: int, size: int, mr: MemRegion) -> str:
    return f"{start:016x}-{start + size - 1:016x} (prio {mr.priority}, {mr.type_name})"


def _print_tree(
    mr: MemRegion, level: int, base: int, aliases: list[MemRegion], out: list[str]
) -> None:
    start = base + mr.addr
    indent = "  " * level
    if mr.alias is not None:
        if not any(a is mr.alias for a in aliases):
            aliases.append(mr.alias)
        if mr.enabled:
            target = f"{mr.alias_offset:016x}-{mr.alias_offset + mr.size - 1:016x}"
            out.append(
                f"{indent}{_line(start, mr.size, mr)}: alias {mr.name} "
                f"@{mr.alias.name} {target}"
            )
    elif mr.enabled:
        out.append(f"{indent}{_line(start, mr.size, mr)}: {mr.name}")
    # Siblings print by address; at one address the higher priority first.
    queue: list[MemRegion] = []
    for sub in mr.subregions:
        for index, queued in enumerate(queue):
            if sub.addr < queued.addr or (
                sub.addr == queued.addr and sub.priority > queued.priority
            ):
                queue.insert(index, sub)
                break
        else:
            queue.append(sub)
    for sub in queue:
        _print_tree(sub, level + 1, start, aliases, out)


def format_mtree(spaces: Sequence[AddressSpace]) -> str:
    """Return ``info mtree``: each root with its address spaces, then aliases."""
    groups: list[tuple[MemRegion, list[str]]] = []
    for space in spaces:
        for root, names in groups:
            if root is space.root:
                names.append(space.name)
                break
        else:
            groups.append((space.root, [space.name]))
    out: list[str] = []
    aliases: list[MemRegion] = []
    for root, names in groups:
        # QEMU keeps the names of one root sorted byte-wise (strcmp).
        out.extend(f"address-space: {name}" for name in sorted(names))
        _print_tree(root, 1, 0, aliases, out)
        out.append("")
    index = 0
    while index < len(aliases):  # printing an alias target may queue more
        target = aliases[index]
        out.append(f"memory-region: {target.name}")
        _print_tree(target, 1, 0, aliases, out)
        out.append("")
        index += 1
    return "\n".join(out) + "\n"


@dataclass
class FlatRange:
    """One piece of a flattened view: where it lies and which region answers."""

    start: int
    size: int
    mr: MemRegion
    offset: int


def _insert(
    ranges: list[FlatRange], start: int, size: int, mr: MemRegion, off: int
) -> None:
    """Fill the parts of [start, start+size) no earlier (higher) range covers."""
    index = 0
    while index < len(ranges) and size > 0:
        current = ranges[index]
        if start >= current.start + current.size:
            index += 1
            continue
        if start < current.start:
            now = min(size, current.start - start)
            ranges.insert(index, FlatRange(start, now, mr, off))
            index += 1
            start, off, size = start + now, off + now, size - now
        if size == 0:
            break
        now = min(start + size, current.start + current.size) - start
        start, off, size = start + now, off + now, size - now
        index += 1
    if size > 0:
        ranges.append(FlatRange(start, size, mr, off))
        ranges.sort(key=lambda r: r.start)


def _render(
    ranges: list[FlatRange], mr: MemRegion, base: int, lo: int, hi: int
) -> None:
    if not mr.enabled:
        return
    base += mr.addr
    lo, hi = max(lo, base), min(hi, base + mr.size)
    if lo >= hi:
        return
    if mr.alias is not None:
        _render(ranges, mr.alias, base - mr.alias_offset, lo, hi)
        return
    for sub in mr.subregions:
        _render(ranges, sub, base, lo, hi)
    if mr.terminates:
        _insert(ranges, lo, hi - lo, mr, lo - base)


def _simplify(ranges: list[FlatRange]) -> list[FlatRange]:
    merged: list[FlatRange] = []
    for piece in ranges:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.mr is piece.mr
            and last.start + last.size == piece.start
            and last.offset + last.size == piece.offset
        ):
            last.size += piece.size
        else:
            merged.append(FlatRange(piece.start, piece.size, piece.mr, piece.offset))
    return merged


def flatview_root(mr: MemRegion) -> MemRegion | None:
    """Return the region a flattened view starts from, or None if nothing renders.

    Like QEMU, a region wholly covered by one alias (at offset 0) or by its
    only enabled child is skipped, so address spaces share views.
    """
    current: MemRegion | None = mr
    while current is not None and current.enabled:
        if current.alias is not None:
            if not current.alias_offset and current.size >= current.alias.size:
                current = current.alias
                continue
        elif not current.terminates:
            enabled = [c for c in current.subregions if c.enabled]
            if not enabled:
                return None
            only = enabled[0]
            if len(enabled) == 1 and not only.addr and current.size >= only.size:
                current = only
                continue
        return current
    return None


def flatten(root: MemRegion | None) -> list[FlatRange]:
    """Return the ranges a view rooted at *root* reaches, merged like QEMU."""
    ranges: list[FlatRange] = []
    if root is not None:
        _render(ranges, root, 0, 0, SIZE_ALL)
    return _simplify(ranges)


def format_flat(spaces: Sequence[AddressSpace]) -> str:
    """Return ``info mtree -f``: each flattened view and who uses it."""
    views: list[tuple[MemRegion | None, list[AddressSpace]]] = []
    for space in spaces:
        root = flatview_root(space.root)
        for view_root, users in views:
            if view_root is root:
                users.append(space)
                break
        else:
            views.append((root, [space]))
    out: list[str] = []
    for number, (root, users) in enumerate(views):
        out.append(f"FlatView #{number}")
        out.extend(f' AS "{s.name}", root: {s.root.name}' for s in users)
        out.append(f" Root memory region: {root.name if root else '(none)'}")
        ranges = flatten(root)
        for piece in ranges:
            at = f" @{piece.offset:016x}" if piece.offset else ""
            out.append(
                f"  {_line(piece.start, piece.size, piece.mr)}: {piece.mr.name}{at}"
            )
        if not ranges:
            out.append("  No rendered FlatView")
        out.append("")
    return "\n".join(out) + "\n"


def blocks(text: str, *, flat: bool = False) -> list[str]:
    """Split monitor output into its groups, sorted (QEMU's order is random).

    For ``-f`` output the ``FlatView #N`` numbers are dropped, since they only
    count the random order.
    """
    parts = [part.strip("\n") for part in text.split("\n\n") if part.strip()]
    if flat:
        parts = ["\n".join(part.splitlines()[1:]) for part in parts]
    return sorted(parts)


def regions_in(root: MemRegion) -> Iterable[tuple[int, MemRegion]]:
    """Yield (absolute address, region) for every region under *root*."""
    stack = [(0, root)]
    while stack:
        base, mr = stack.pop()
        start = base + mr.addr
        yield start, mr
        stack.extend((start, sub) for sub in reversed(mr.subregions))
