"""The guest-physical memory map: named regions that never overlap.

Regions are half-open ``[base, end)`` ranges owned by a device path. Adding a
region that overlaps another or breaks its alignment raises an error naming
both regions; a rejected region leaves the map unchanged. Listeners see every
mapping as QEMU's MemoryListener ``region_add``/``region_del`` would, which is
how the KVM address queue learns where the board put each device.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import final

from virtmodel.machine.errors import AddressConflictError, AlignmentError


@final
@dataclass(frozen=True, slots=True)
class Region:
    """A named, half-open range of guest-physical addresses."""

    name: str
    base: int
    size: int
    owner: str = ""
    kind: str = "mmio"

    @property
    def end(self) -> int:
        """The first address after the region."""
        return self.base + self.size

    def overlaps(self, other: Region) -> bool:
        """Return whether the two ranges share at least one address."""
        return self.base < other.end and other.base < self.end

    def __str__(self) -> str:
        return f"{self.name!r} [0x{self.base:08x}, 0x{self.end:08x})"


RegionListener = Callable[[Region], None]


@final
class MemoryMap:
    """The regions of one address space, kept sorted by base address.

    Example:
        >>> mm = MemoryMap()
        >>> uart = mm.add("uart0", 0x09000000, 0x1000, owner="/machine/uart0")
        >>> try:
        ...     mm.add("rtc", 0x09000800, 0x1000)
        ... except AddressConflictError as exc:
        ...     print(exc.existing)
        'uart0' [0x09000000, 0x09001000)
    """

    def __init__(self, name: str = "system") -> None:
        self.name = name
        self._bases: list[int] = []
        self._regions: list[Region] = []
        self._by_name: dict[str, Region] = {}
        self._on_add: list[RegionListener] = []
        self._on_del: list[RegionListener] = []

    def add_listener(
        self, on_add: RegionListener | None = None, on_del: RegionListener | None = None
    ) -> None:
        """Observe mappings; *on_add* is first replayed for existing regions."""
        if on_add is not None:
            self._on_add.append(on_add)
            for region in self._regions:
                on_add(region)
        if on_del is not None:
            self._on_del.append(on_del)

    def remove_listener(
        self, on_add: RegionListener | None = None, on_del: RegionListener | None = None
    ) -> None:
        """Stop observing; unknown listeners are ignored."""
        if on_add in self._on_add:
            self._on_add.remove(on_add)
        if on_del in self._on_del:
            self._on_del.remove(on_del)

    def add(
        self,
        name: str,
        base: int,
        size: int,
        *,
        owner: str = "",
        kind: str = "mmio",
        align: int = 1,
    ) -> Region:
        """Map a new region and return it.

        Raises:
            AddressConflictError: The range overlaps an existing region.
            AlignmentError: *base* or *size* is not a multiple of *align*.
            ValueError: The name is taken, or the size or base is not positive.
        """
        region = Region(name, base, size, owner, kind)
        if name in self._by_name:
            msg = f"region {name!r} is already mapped at {self._by_name[name]}"
            raise ValueError(msg)
        if base < 0 or size <= 0:
            msg = f"region {region} needs a base >= 0 and a size > 0"
            raise ValueError(msg)
        if base % align or size % align:
            raise AlignmentError(region, align)
        i = bisect.bisect_right(self._bases, base)
        for j in (i - 1, i):
            if 0 <= j < len(self._regions) and self._regions[j].overlaps(region):
                raise AddressConflictError(region, self._regions[j])
        self._bases.insert(i, base)
        self._regions.insert(i, region)
        self._by_name[name] = region
        for listener in self._on_add:
            listener(region)
        return region

    def remove(self, name: str) -> Region:
        """Unmap the region called *name* and return it.

        Raises:
            KeyError: No region has that name.
        """
        region = self._by_name.pop(name)
        i = self._regions.index(region)
        del self._regions[i]
        del self._bases[i]
        for listener in self._on_del:
            listener(region)
        return region

    def remove_owned_by(self, owner: str) -> list[Region]:
        """Unmap every region of *owner* and return them."""
        return [self.remove(r.name) for r in list(self._regions) if r.owner == owner]

    def __getitem__(self, name: str) -> Region:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def find(self, address: int) -> Region | None:
        """Return the region that contains *address*, if any."""
        i = bisect.bisect_right(self._bases, address) - 1
        if i >= 0 and address < self._regions[i].end:
            return self._regions[i]
        return None

    def __iter__(self) -> Iterator[Region]:
        return iter(list(self._regions))

    def __len__(self) -> int:
        return len(self._regions)

    def dump(self) -> str:
        """Return a listing in the spirit of QEMU's ``info mtree``."""
        lines = [f"address-space: {self.name}"]
        for r in self._regions:
            owner = f" ({r.owner})" if r.owner else ""
            lines.append(
                f"  {r.base:016x}-{r.end - 1:016x} (prio 0, {r.kind}): {r.name}{owner}"
            )
        return "\n".join(lines)
