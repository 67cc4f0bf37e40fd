"""Everything a host VM holds open, and the one place that lets it go.

A :class:`Resources` belongs to one VM. It is separate from the VM object so
that ``weakref.finalize`` can close it when the VM is dropped without
keeping the VM alive; :meth:`close` is idempotent, so an explicit close, the
context manager and the finalizer can all call it.
"""

from __future__ import annotations

import mmap
from typing import final

from virtmodel.machine.kvm.host.syscalls import Syscalls

__all__ = ["Resources"]


@final
class Resources:
    """File descriptors and mappings, closed in reverse order of creation."""

    def __init__(self, syscalls: Syscalls) -> None:
        self.syscalls = syscalls
        self._fds: list[int] = []
        #: kvm_run areas: unmapped before their vCPU fds are closed.
        self._run_maps: list[mmap.mmap] = []
        #: Guest memory: unmapped after the VM fd, which refers to it.
        self._memory: list[mmap.mmap] = []
        self.closed = False

    def fd(self, fd: int) -> int:
        """Take ownership of *fd*; return it."""
        self._fds.append(fd)
        return fd

    def run_map(self, area: mmap.mmap) -> mmap.mmap:
        """Take ownership of a vCPU's kvm_run mapping; return it."""
        self._run_maps.append(area)
        return area

    def memory(self, area: mmap.mmap) -> mmap.mmap:
        """Take ownership of guest memory; return it."""
        self._memory.append(area)
        return area

    @property
    def open_fds(self) -> list[int]:
        """The descriptors still owned, oldest first."""
        return list(self._fds)

    def close(self) -> None:
        """Unmap and close everything; later calls do nothing.

        A descriptor the kernel refuses to close (it cannot happen for KVM
        fds) does not stop the others from being closed.
        """
        if self.closed:
            return
        self.closed = True
        for area in reversed(self._run_maps):
            area.close()
        self._run_maps.clear()
        while self._fds:
            fd = self._fds.pop()
            try:
                self.syscalls.close(fd)
            except OSError:
                continue
        for area in reversed(self._memory):
            area.close()
        self._memory.clear()
