"""The two cross-compiled helpers: their sources, flags and where they go.

``kvmexec`` (static) and ``kvmtrace.so`` (an LD_PRELOAD library) are built
from ``machine/lab/guest/*.c`` by ``virtmodel lab setup`` into a directory
named after a digest of those sources and flags, ``bin/<digest>/``. So a
guest never runs helpers older than the sources of the checkout it runs
from, and checkouts with different sources share one lab cache without
rebuilding each other's helpers.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["GUEST_SOURCES", "HELPERS", "Helper", "helper_dir"]

#: The C sources built at setup.
GUEST_SOURCES: Final = Path(__file__).parent / "guest"


@dataclass(frozen=True, slots=True)
class Helper:
    """One helper: its source file, compiler flags and binary name."""

    source: str
    flags: tuple[str, ...]
    name: str


HELPERS: Final = (
    Helper("kvmexec.c", ("-static", "-O2", "-Wall"), "kvmexec"),
    Helper(
        "kvmtrace.c", ("-shared", "-fPIC", "-O2", "-Wall", "-pthread"), "kvmtrace.so"
    ),
)


@functools.cache
def _digest() -> str:
    digest = hashlib.sha256()
    for helper in HELPERS:
        digest.update((GUEST_SOURCES / helper.source).read_bytes())
        digest.update(" ".join(helper.flags).encode() + b"\0")
    return digest.hexdigest()[:16]


def helper_dir(root: Path) -> Path:
    """Return where the helpers built from this checkout's sources live."""
    return root / "bin" / _digest()
