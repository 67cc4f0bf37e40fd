"""The system calls the host backend makes, behind one small class.

:class:`Syscalls` opens, closes, maps and issues ``ioctl`` exactly as the C
API would (``fcntl.ioctl`` with a request number and an integer or a
mutable buffer). The backend takes one as a parameter so that its packing
and its bookkeeping can be tested on any machine with a stand-in that
records what it was asked; only the real class ever touches a kernel.

KVM_RUN is bounded: :func:`bounded_ioctl` arms a one-shot SIGALRM timer
whose handler raises, so a guest that never exits interrupts the ioctl
(the kernel answers EINTR) instead of hanging the process.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import signal
import threading
from types import FrameType
from typing import Final

__all__ = ["MAP_NORESERVE", "Syscalls", "bounded_ioctl", "kernel_reason"]

#: Linux's MAP_NORESERVE (the same on arm64 and x86-64); Python's mmap
#: module only names it from 3.13 on.
MAP_NORESERVE: Final = 0x4000


class Syscalls:
    """The real thing: ``os.open``, ``fcntl.ioctl``, ``mmap``."""

    def open(self, path: str) -> int:
        """Open *path* read-write, close-on-exec.

        Raises:
            OSError: The open failed (ENOENT, EACCES, ...).
        """
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)

    def close(self, fd: int) -> None:
        """Close *fd*."""
        os.close(fd)

    def eventfd(self) -> int:
        """Open a new eventfd (counter 0), close-on-exec."""
        return os.eventfd(0, os.EFD_CLOEXEC)

    def ioctl(self, fd: int, request: int, arg: int | bytearray = 0) -> int:
        """Issue ioctl *request* on *fd*; a buffer *arg* is updated in place.

        Raises:
            OSError: The kernel's errno.
        """
        if isinstance(arg, bytearray):
            return int(fcntl.ioctl(fd, request, arg, True))
        # fcntl passes an integer argument as a C int; the kernel reads an
        # unsigned long and KVM keeps its low 32 bits, so wrap u32 values.
        return fcntl.ioctl(fd, request, arg - (1 << 32) if arg >= 1 << 31 else arg)

    def map_shared(self, fd: int, size: int) -> mmap.mmap:
        """Map *size* bytes of *fd* shared, readable and writable (kvm_run)."""
        return mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    def map_anonymous(self, size: int) -> mmap.mmap:
        """Map *size* bytes of private anonymous memory (guest RAM).

        No swap is reserved (MAP_NORESERVE), as for QEMU's RAM: a board's
        RAM may be larger than the host's, and only touched pages count.
        """
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE
        return mmap.mmap(-1, size, flags)


def kernel_reason(code: int) -> str:
    """Return the reason a record gives for the host kernel's errno *code*."""
    return f"host kernel: {os.strerror(code)}"


class _Expired(Exception):
    """The SIGALRM bound of one ioctl ran out (raised by the handler)."""


def _expire(_signum: int, _frame: FrameType | None) -> None:
    raise _Expired


def bounded_ioctl(syscalls: Syscalls, fd: int, request: int, seconds: float) -> int:
    """Issue an argument-less ioctl that a signal may interrupt, for *seconds*.

    The handler raises, so the ioctl ends whether or not Python would retry
    it after EINTR; the previous SIGALRM handler is put back afterwards.

    Raises:
        OSError: The kernel's errno; EINTR when the time ran out.
        RuntimeError: Not called from the main thread (signals need it).
    """
    if threading.current_thread() is not threading.main_thread():
        msg = "a bounded KVM_RUN needs the main thread (it uses SIGALRM)"
        raise RuntimeError(msg)
    previous = signal.signal(signal.SIGALRM, _expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return syscalls.ioctl(fd, request, 0)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Expired:
        message = f"interrupted after {seconds:g} s (the guest did not exit)"
        raise OSError(errno.EINTR, message) from None
    finally:
        signal.signal(signal.SIGALRM, previous)
