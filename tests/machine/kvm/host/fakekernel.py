"""A stand-in for the host's system calls, for the host backend's tests.

It answers just enough of the KVM ioctl ABI to let the backend run, reading
and writing the user pointers the backend packs (so a wrong layout or a
wrong request number shows up as a wrong answer), and records every call
with the bytes it was given. Errnos are injected per request (and per
attribute group/attr for the attribute calls). It also tracks which fds are
open, so tests can check that nothing is left behind.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import struct
from dataclasses import dataclass, field

from virtmodel.machine.kvm import uapi as u
from virtmodel.machine.kvm.host import Syscalls
from virtmodel.machine.kvm.host.abi import (
    CREATE_DEVICE,
    DEVICE_ATTR,
    MEMORY_REGION,
    ONE_REG,
    REG_X1,
    RUN_EXIT_REASON,
    RUN_MMIO_PHYS_ADDR,
    VCPU_INIT,
)

RUN_SIZE = 3 * 4096
TARGET = 5


@dataclass
class Call:
    fd: int
    request: int
    arg: int | bytes


@dataclass
class FakeKernel(Syscalls):
    """Records calls; answers errnos from ``fail``; else behaves plainly."""

    #: request -> errno, or (request, group, attr) -> errno for attributes.
    fail: dict[object, int] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    open_fds: set[int] = field(default_factory=set)
    maps: list[mmap.mmap] = field(default_factory=list)
    #: Device attribute values by (device fd, group, attr).
    attrs: dict[tuple[int, int, int], int] = field(default_factory=dict)
    #: Register values by (vcpu fd, reg id).
    regs: dict[tuple[int, int], int] = field(default_factory=dict)
    run_maps: dict[int, mmap.mmap] = field(default_factory=dict)
    slots: list[tuple[int, int, int, int]] = field(default_factory=list)
    next_fd: int = 100

    def _new_fd(self) -> int:
        self.next_fd += 1
        self.open_fds.add(self.next_fd)
        return self.next_fd

    def open(self, path: str) -> int:
        if "open" in self.fail:
            raise OSError(self.fail["open"], "injected", path)
        return self._new_fd()

    def close(self, fd: int) -> None:
        self.open_fds.remove(fd)

    def eventfd(self) -> int:
        return self._new_fd()

    def map_shared(self, fd: int, size: int) -> mmap.mmap:
        area = mmap.mmap(-1, size)
        self.run_maps[fd] = area
        self.maps.append(area)
        return area

    def map_anonymous(self, size: int) -> mmap.mmap:
        area = mmap.mmap(-1, size)
        self.maps.append(area)
        return area

    def ioctl(self, fd: int, request: int, arg: int | bytearray = 0) -> int:
        assert fd in self.open_fds, f"ioctl on closed fd {fd}"
        self.calls.append(
            Call(fd, request, bytes(arg) if isinstance(arg, bytearray) else arg)
        )
        key: object = request
        if request in (
            u.KVM_SET_DEVICE_ATTR,
            u.KVM_GET_DEVICE_ATTR,
            u.KVM_HAS_DEVICE_ATTR,
        ):
            assert isinstance(arg, bytearray)
            _flags, group, attr, address = DEVICE_ATTR.unpack(arg)
            key = (request, group, attr)
            if key in self.fail or request in self.fail:
                raise OSError(self.fail.get(key, self.fail.get(request)), "injected")
            return self._attr(fd, request, group, attr, address)
        if request in self.fail:
            raise OSError(self.fail[request], "injected")
        return self._answer(fd, request, arg)

    def _attr(self, fd: int, request: int, group: int, attr: int, address: int) -> int:
        if request == u.KVM_HAS_DEVICE_ATTR:
            return 0
        if address == 0:
            raise OSError(errno.EFAULT, "NULL")
        cell = ctypes.c_uint64.from_address(address)
        if request == u.KVM_SET_DEVICE_ATTR:
            self.attrs[fd, group, attr] = cell.value
        else:
            cell.value = self.attrs.get((fd, group, attr), 0) + 1
        return 0

    def _answer(self, fd: int, request: int, arg: int | bytearray) -> int:
        if request == u.KVM_GET_API_VERSION:
            return 12
        if request in (u.KVM_CREATE_VM, u.KVM_CREATE_VCPU):
            return self._new_fd()
        if request == u.KVM_CREATE_DEVICE:
            assert isinstance(arg, bytearray)
            type_id, _fd, flags = CREATE_DEVICE.unpack(arg)
            if not flags:
                arg[:] = CREATE_DEVICE.pack(type_id, self._new_fd(), flags)
            return 0
        if request == u.KVM_ARM_PREFERRED_TARGET:
            assert isinstance(arg, bytearray)
            arg[:] = VCPU_INIT.pack(TARGET, *[0] * 7)
            return 0
        if request == u.KVM_ARM_VCPU_INIT:
            assert isinstance(arg, bytearray)
            if VCPU_INIT.unpack(arg)[0] != TARGET:
                raise OSError(errno.EINVAL, "target")
            return 0
        if request in (u.KVM_SET_ONE_REG, u.KVM_GET_ONE_REG):
            assert isinstance(arg, bytearray)
            reg, address = ONE_REG.unpack(arg)
            cell = ctypes.c_uint64.from_address(address)
            if request == u.KVM_SET_ONE_REG:
                self.regs[fd, reg] = cell.value
            else:
                cell.value = self.regs.get((fd, reg), 0)
            return 0
        if request == u.KVM_CHECK_EXTENSION:
            return 1  # every capability asked of it
        if request in (
            u.KVM_ARM_VCPU_FINALIZE,
            u.KVM_SET_GSI_ROUTING,
            u.KVM_ENABLE_CAP,
            u.KVM_IOEVENTFD,
        ):
            return 0
        if request == u.KVM_SET_USER_MEMORY_REGION:
            assert isinstance(arg, bytearray)
            slot, _flags, base, size, address = MEMORY_REGION.unpack(arg)
            self.slots.append((slot, base, size, address))
            return 0
        if request == u.KVM_GET_VCPU_MMAP_SIZE:
            return RUN_SIZE
        if request == u.KVM_RUN:
            area = self.run_maps[fd]
            struct.pack_into("<I", area, RUN_EXIT_REASON, u.KVM_EXIT_MMIO)
            struct.pack_into("<Q", area, RUN_MMIO_PHYS_ADDR, self.regs[fd, REG_X1])
            return 0
        raise OSError(errno.ENOTTY, f"fake kernel: no request 0x{request:x}")
