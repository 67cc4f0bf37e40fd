"""Where the lab keeps what ``virtmodel lab setup`` fetched and built.

Everything lives in one cache directory, ``$XDG_CACHE_HOME/virtmodel/lab``
(``~/.cache/virtmodel/lab`` without it), or wherever ``VIRTMODEL_LAB_DIR``
points. The layout is fixed so that a guest run only has to check that the
files exist; :class:`LabPaths` names them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from virtmodel.machine.errors import MachineError
from virtmodel.machine.lab.helpers import helper_dir

__all__ = ["LabError", "LabNotReadyError", "LabPaths", "lab_dir"]


class LabError(MachineError, RuntimeError):
    """The lab failed: a fetch, a build, or a guest that did not finish.

    The message is one line. ``.console`` holds what the guest printed, when
    a guest was involved, so a caller can show it.
    """

    def __init__(self, message: str, console: str = "") -> None:
        self.console = console
        super().__init__(message)


class LabNotReadyError(LabError):
    """A file the lab needs is missing: ``virtmodel lab setup`` has not run."""


def lab_dir() -> Path:
    """Return the lab's cache directory (it may not exist yet)."""
    override = os.environ.get("VIRTMODEL_LAB_DIR")
    if override:
        return Path(override)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "virtmodel" / "lab"


@dataclass(frozen=True, slots=True)
class LabPaths:
    """The files of one lab directory."""

    root: Path

    @classmethod
    def default(cls) -> LabPaths:
        """Return the paths of the user's lab directory."""
        return cls(lab_dir())

    @property
    def image(self) -> Path:
        """Debian's arm64 kernel Image, booted with ``-kernel``."""
        return self.root / "Image"

    @property
    def kernel_release(self) -> Path:
        """One line: the kernel file's name, e.g. ``vmlinuz-6.1.0-57-arm64``."""
        return self.root / "kernel-release"

    @property
    def busybox(self) -> Path:
        """Debian's static arm64 busybox."""
        return self.root / "busybox"

    @property
    def kvmexec(self) -> Path:
        """The cross-compiled KVM script runner (static arm64)."""
        return helper_dir(self.root) / "kvmexec"

    @property
    def kvmtrace(self) -> Path:
        """The cross-compiled ioctl tracer (arm64 shared library)."""
        return helper_dir(self.root) / "kvmtrace.so"

    @property
    def qemu_cpio(self) -> Path:
        """Debian's arm64 QEMU and the libraries it loads, as a newc archive."""
        return self.root / "qemu.cpio"

    @property
    def qemu_version(self) -> Path:
        """One line: the Debian version of the arm64 ``qemu-system-arm``."""
        return self.root / "qemu-version"

    @property
    def apt(self) -> Path:
        """Private apt state (lists, cache, status) for arm64 downloads."""
        return self.root / "apt"

    def require(self, *paths: Path) -> None:
        """Raise :class:`LabNotReadyError` naming the first missing path."""
        for path in paths:
            if not path.exists():
                msg = f"{path} is missing; run: virtmodel lab setup"
                raise LabNotReadyError(msg)
