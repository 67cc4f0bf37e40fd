"""Whether this process can use the host's KVM, and why not.

The host backend issues arm64 KVM ioctls, so it needs an arm64 Linux host,
a ``/dev/kvm`` and the right to open it read-write. Each missing piece is
a :class:`KvmUnavailable` whose one-line message names the cause; nothing
is left open when it is raised.
"""

from __future__ import annotations

import errno
import os
import platform
import sys
from typing import Final

from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.host.syscalls import Syscalls

__all__ = ["DEV_KVM", "KVM_API_VERSION", "KvmUnavailable", "check_host", "open_kvm"]

#: The KVM device node.
DEV_KVM: Final = "/dev/kvm"
#: The only KVM API version there has ever been (KVM_GET_API_VERSION).
KVM_API_VERSION: Final = 12
_ARM64: Final = ("aarch64", "arm64")


class KvmUnavailable(OSError):
    """The host's KVM cannot be used here; ``.errno`` says why, the message how."""

    def __str__(self) -> str:
        return str(self.strerror)


def check_host(machine: str | None = None, system: str | None = None) -> None:
    """Refuse a host that cannot run arm64 KVM ioctls at all.

    *machine* and *system* default to this host's ``platform.machine()``
    and ``sys.platform``.

    Raises:
        KvmUnavailable: ENOSYS on anything but arm64 Linux.
    """
    machine = machine if machine is not None else platform.machine()
    system = system if system is not None else sys.platform
    if system != "linux" or machine not in _ARM64:
        where = f"{system}/{machine or 'unknown'}"
        message = (
            f"--kvm host needs an arm64 Linux host with KVM; this is {where} "
            "(use the simulator, --kvm sim, or the lab: virtmodel lab run)"
        )
        raise KvmUnavailable(errno.ENOSYS, message)


def open_kvm(syscalls: Syscalls, path: str = DEV_KVM) -> int:
    """Open *path* and check its API version; return the fd.

    Raises:
        KvmUnavailable: *path* is missing, not openable, or not KVM.
    """
    try:
        fd = syscalls.open(path)
    except FileNotFoundError:
        message = f"{path} does not exist: this host has no KVM (is it enabled?)"
        raise KvmUnavailable(errno.ENOENT, message) from None
    except PermissionError as exc:
        message = (
            f"{path}: permission denied; join its group (usually 'kvm') "
            "or ask for read-write access"
        )
        raise KvmUnavailable(exc.errno or errno.EACCES, message) from None
    except OSError as exc:
        code = exc.errno or errno.EIO
        message = f"{path} cannot be opened: {os.strerror(code)}"
        raise KvmUnavailable(code, message) from None
    try:
        version = syscalls.ioctl(fd, u.KVM_GET_API_VERSION, 0)
    except OSError as exc:
        syscalls.close(fd)
        code = exc.errno or errno.EIO
        message = f"{path} is not a KVM device: {os.strerror(code)}"
        raise KvmUnavailable(code, message) from None
    if version != KVM_API_VERSION:
        syscalls.close(fd)
        message = f"{path} speaks KVM API {version}, not {KVM_API_VERSION}"
        raise KvmUnavailable(errno.EPROTO, message)
    return fd
