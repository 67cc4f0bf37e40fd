"""Atomic file output for device-tree blobs, sources and graphs.

A reader (or a QEMU started with ``-dtb``) sees either the old file or the
complete new one, never a partial write.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write *data* to *path* via a temporary file and ``os.replace``.

    Readers see the old file or the complete new one, never a partial write.

    Raises:
        OSError: The directory is not writable (nothing is left behind).
    """
    target = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    try:
        fd, tmp = _create_temporary(target)
    except OSError as exc:
        # Name the file the user asked for, not our temporary one.
        raise OSError(exc.errno, exc.strerror, str(target)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(target)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _create_temporary(target: Path) -> tuple[int, Path]:
    # Created with mode 0o666 so that the kernel applies the umask, as for
    # any new file: reading the umask would mean setting it, which races
    # with other threads (mkstemp's 0o600 would need exactly that).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
