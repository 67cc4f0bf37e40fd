"""The shared libraries an arm64 program needs, found in unpacked packages.

The lab's guest has no package manager: its initramfs carries each program
(QEMU, Python) with exactly the libraries their ELF files name as NEEDED,
transitively, taken from the Debian packages ``dpkg -x`` unpacked.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from virtmodel.machine.lab.paths import LabError

__all__ = ["LOADER", "find_library", "library_closure", "needed"]

#: The dynamic loader's soname on arm64.
LOADER: Final = "ld-linux-aarch64.so.1"

#: Where Debian's arm64 packages put libraries, searched in this order.
SEARCH: Final = (
    "lib/aarch64-linux-gnu",
    "usr/lib/aarch64-linux-gnu",
    "lib",
    "usr/lib",
)


def needed(readelf: str, binary: Path) -> list[str]:
    """Return the sonames *binary* names as NEEDED (``readelf -d``)."""
    out = subprocess.run(
        [readelf, "-d", str(binary)], capture_output=True, text=True, check=True
    ).stdout
    return [
        line.split("[", 1)[1].split("]", 1)[0]
        for line in out.splitlines()
        if "(NEEDED)" in line
    ]


def find_library(tree: Path, soname: str) -> Path:
    """Return the real file of *soname* in the unpacked *tree*.

    Raises:
        LabError: No package brought it.
    """
    for sub in SEARCH:
        candidate = tree / sub / soname
        if candidate.exists():
            return candidate.resolve()
    msg = f"library {soname!r} is not in the downloaded packages"
    raise LabError(msg)


def library_closure(readelf: str, tree: Path, roots: Iterable[Path]) -> dict[str, Path]:
    """Return soname -> file of every library *roots* need, transitively.

    Raises:
        LabError: A needed library is not in *tree*.
    """
    libraries: dict[str, Path] = {}
    todo = list(roots)
    while todo:
        for soname in needed(readelf, todo.pop()):
            if soname not in libraries:
                libraries[soname] = find_library(tree, soname)
                todo.append(libraries[soname])
    return libraries
