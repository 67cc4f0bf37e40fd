"""The two cross-compiled helpers: their sources, flags and freshness.

``kvmexec`` (static) and ``kvmtrace.so`` (an LD_PRELOAD library) are built
from ``machine/lab/guest/*.c`` by ``virtmodel lab setup``. Next to each
binary a ``.sha256`` stamp records the source and flags it was built from,
so setup rebuilds only what changed, and a guest never runs a helper older
than the source in this checkout (:func:`stale_helpers`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from virtmodel.machine.lab.paths import LabPaths

__all__ = ["GUEST_SOURCES", "HELPERS", "Helper", "stale_helpers"]

#: The C sources built at setup.
GUEST_SOURCES: Final = Path(__file__).parent / "guest"


@dataclass(frozen=True, slots=True)
class Helper:
    """One helper: its source file, compiler flags and where it goes."""

    source: str
    flags: tuple[str, ...]
    #: Name of the ``LabPaths`` property that locates the binary.
    output: str

    def binary(self, paths: LabPaths) -> Path:
        """Return where the built helper lives in *paths*."""
        path = getattr(paths, self.output)
        assert isinstance(path, Path)
        return path

    def stamp_file(self, paths: LabPaths) -> Path:
        """Return the stamp file next to the binary."""
        binary = self.binary(paths)
        return binary.with_name(binary.name + ".sha256")

    def stamp(self) -> str:
        """Return the digest of the source and flags the binary must match."""
        digest = hashlib.sha256((GUEST_SOURCES / self.source).read_bytes())
        digest.update(" ".join(self.flags).encode())
        return digest.hexdigest()

    def fresh(self, paths: LabPaths) -> bool:
        """Whether the binary exists and was built from today's source."""
        stamp = self.stamp_file(paths)
        return (
            self.binary(paths).exists()
            and stamp.exists()
            and stamp.read_text().strip() == self.stamp()
        )


HELPERS: Final = (
    Helper("kvmexec.c", ("-static", "-O2", "-Wall"), "kvmexec"),
    Helper("kvmtrace.c", ("-shared", "-fPIC", "-O2", "-Wall", "-pthread"), "kvmtrace"),
)


def stale_helpers(paths: LabPaths) -> list[str]:
    """Return the names of helpers that exist but predate their source."""
    return [
        h.binary(paths).name
        for h in HELPERS
        if h.binary(paths).exists() and not h.fresh(paths)
    ]
