"""A pure-Python newc cpio writer and the probe initramfs built with it.

The kernel unpacks an initramfs in archive order and never creates missing
parent directories, so :func:`newc_archive` refuses an archive whose entries
come before their parents. Output is byte-for-byte deterministic: inode numbers
follow entry order, and every timestamp, owner and device number is zero.

The probe initramfs is Debian's static arm64 busybox plus an ``/init`` that
mounts proc, sysfs and devtmpfs, prints what the kernel found between
``VM-FACTS-BEGIN`` and ``VM-FACTS-END`` as ``VM-FACT key=value`` lines, and
powers the machine off. :func:`parse_facts` reads them back from the console.
"""

from __future__ import annotations

import gzip
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from virtmodel.machine.errors import MachineError

__all__ = [
    "PROBE_INIT",
    "CpioEntry",
    "InitramfsError",
    "char_device",
    "directory",
    "newc_archive",
    "parse_facts",
    "probe_initramfs",
    "regular_file",
    "symlink",
]

_MAGIC: Final = b"070701"
_TRAILER: Final = "TRAILER!!!"
_EM_AARCH64: Final = 183
_BEGIN: Final = "VM-FACTS-BEGIN"
_END: Final = "VM-FACTS-END"
_FACT: Final = re.compile(r"^VM-FACT ([A-Za-z0-9_]+)=(.*)$")


class InitramfsError(MachineError, ValueError):
    """An archive entry, a busybox binary or a probe report is unusable.

    ``.culprit`` names the path or marker at fault.
    """

    def __init__(self, culprit: str, message: str) -> None:
        self.culprit = culprit
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class CpioEntry:
    """One member of a newc archive: a path (relative, no ``..``) and its inode."""

    #: Path inside the archive, e.g. ``"bin/busybox"``.
    path: str
    #: Full ``st_mode``: file type bits plus permissions.
    mode: int
    #: File contents, or the target of a symlink.
    data: bytes = b""
    #: (major, minor) of a device node; (0, 0) otherwise.
    rdev: tuple[int, int] = (0, 0)


def directory(path: str, mode: int = 0o755) -> CpioEntry:
    """Return a directory entry."""
    return CpioEntry(path, stat.S_IFDIR | mode)


def regular_file(path: str, data: bytes, mode: int = 0o644) -> CpioEntry:
    """Return a regular file entry holding *data*."""
    return CpioEntry(path, stat.S_IFREG | mode, data)


def symlink(path: str, target: str) -> CpioEntry:
    """Return a symbolic link entry pointing at *target*."""
    return CpioEntry(path, stat.S_IFLNK | 0o777, target.encode())


def char_device(path: str, major: int, minor: int, mode: int = 0o600) -> CpioEntry:
    """Return a character device node; no ``mknod`` on the host is needed."""
    return CpioEntry(path, stat.S_IFCHR | mode, rdev=(major, minor))


def _pad4(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _check_path(entry: CpioEntry, seen: set[str]) -> None:
    path = entry.path
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        msg = f"cpio path {path!r} must be relative, without '.', '..' or '//'"
        raise InitramfsError(path, msg)
    if path in seen:
        msg = f"cpio path {path!r} appears twice"
        raise InitramfsError(path, msg)
    parent = "/".join(parts[:-1])
    if parent and parent not in seen:
        # The kernel's unpacker would fail to create this entry and go on
        # silently, so the mistake is caught here instead.
        msg = f"cpio path {path!r} comes before its directory {parent!r}"
        raise InitramfsError(path, msg)
    if entry.data and not (stat.S_ISREG(entry.mode) or stat.S_ISLNK(entry.mode)):
        msg = f"cpio path {path!r} carries data but is not a file or symlink"
        raise InitramfsError(path, msg)


def _member(ino: int, entry: CpioEntry, name: str) -> bytes:
    encoded = name.encode() + b"\0"
    fields = (
        ino,
        entry.mode,
        0,  # uid
        0,  # gid
        2 if stat.S_ISDIR(entry.mode) else 1,  # nlink
        0,  # mtime: fixed, so the archive is reproducible
        len(entry.data),
        0,  # devmajor
        0,  # devminor
        entry.rdev[0],
        entry.rdev[1],
        len(encoded),
        0,  # check: only used by the "070702" crc format
    )
    header = _MAGIC + b"".join(b"%08x" % field for field in fields)
    head = header + encoded
    return head + _pad4(len(head)) + entry.data + _pad4(len(entry.data))


def newc_archive(entries: Iterable[CpioEntry]) -> bytes:
    """Return a newc ("070701") cpio archive of *entries*, in the given order.

    Raises:
        InitramfsError: A path is absolute, contains ``.``/``..``, repeats, or
            comes before its parent directory; or a non-file carries data.
    """
    seen: set[str] = set()
    members = []
    for ino, entry in enumerate(entries, start=1):
        _check_path(entry, seen)
        seen.add(entry.path)
        members.append(_member(ino, entry, entry.path))
    members.append(_member(0, CpioEntry(_TRAILER, 0), _TRAILER))
    return b"".join(members)


#: The probe's /init. Every fact line is ``VM-FACT key=value``; a missing
#: sysfs file gives the value ``none`` rather than an absent line.
PROBE_INIT: Final = r"""#!/bin/busybox sh
# virtmodel probe: report what the kernel found on this machine, then power off.
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

fact() { echo "VM-FACT $1=${2:-none}"; }
first() { cat "$1" 2>/dev/null | head -n 1; }
count() { ls -d $1 2>/dev/null | wc -l; }
driver() { basename "$(readlink "$1/driver" 2>/dev/null)" 2>/dev/null; }
klog() { dmesg | grep -o "$1" | head -n 1; }

# Names of the interrupt chips: the column after the per-CPU counts.
irqchips() {
    awk 'NR == 1 { n = NF; next }
         $1 ~ /^[0-9]+:$/ && NF > n + 1 { print $(n + 2) }' /proc/interrupts |
        sort -u | tr '\n' ' ' | sed 's/ $//'
}

echo VM-FACTS-BEGIN
fact kernel "$(uname -r)"
fact cpus_online "$(first /sys/devices/system/cpu/online)"
fact cpus_possible "$(first /sys/devices/system/cpu/possible)"
fact dt_cpus "$(count '/proc/device-tree/cpus/cpu@*')"
fact mem_total_kb "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
fact psci "$(klog 'PSCIv[0-9.]*')"
fact irqchips "$(irqchips)"
fact gic_spis "$(klog 'GICv3: [0-9]* SPIs implemented')"
fact gic_redistributors "$(dmesg | grep -c 'found redistributor')"
fact its "$(klog 'ITS \[mem [^]]*\]')"
fact pci_msi_domain "$(klog 'PCI/MSI: [^ ]* domain created')"
fact its_msi_irqs "$(grep -c ITS-MSI /proc/interrupts)"
fact v2m "$(klog 'GICv2m: range\[mem [^]]*\]')"
fact ttyAMA0 "$(driver /sys/class/tty/ttyAMA0/device)"
fact console "$(first /sys/class/tty/console/active)"
fact rtc0 "$(first /sys/class/rtc/rtc0/name)"
amba() {
    for d in /sys/bus/amba/devices/*; do echo "${d##*/}:$(driver "$d")"; done |
        tr '\n' ' ' | sed 's/ $//'
}
fact amba "$(amba)"
fact virtio_mmio_devices "$(count '/sys/bus/platform/devices/*.virtio_mmio')"
fact dt_virtio_mmio "$(count '/proc/device-tree/virtio_mmio@*')"
fact pcie_host "$(driver /sys/bus/platform/devices/*.pcie)"
bridge=/sys/bus/pci/devices/0000:00:00.0
fact pci_host_bridge "$(first $bridge/vendor):$(first $bridge/device)"
fact gpio_keys "$(count /sys/bus/platform/devices/gpio-keys)"
fact fw_cfg "$(count '/sys/bus/platform/devices/*.fw-cfg')"
echo VM-FACTS-END
poweroff -f
"""


def _check_busybox(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"busybox {str(path)!r} cannot be read: {exc.strerror}"
        raise InitramfsError(str(path), msg) from exc
    # ELF64 little-endian, e_machine (offset 18) = EM_AARCH64.
    if (
        data[:6] != b"\x7fELF\x02\x01"
        or int.from_bytes(data[18:20], "little") != _EM_AARCH64
    ):
        msg = f"busybox {str(path)!r} is not an arm64 ELF executable"
        raise InitramfsError(str(path), msg)
    return data


def probe_initramfs(
    busybox: Path, *, init: str = PROBE_INIT, compress: bool = False
) -> bytes:
    """Return the probe initramfs: *busybox* as /bin/busybox and *init* as /init.

    ``/dev/console`` is included so ``/init`` has a console before devtmpfs is
    mounted. With *compress*, the archive is gzip'd (with a fixed mtime).

    Raises:
        InitramfsError: *busybox* is missing or not an arm64 ELF executable.
    """
    entries = [
        directory("bin"),
        regular_file("bin/busybox", _check_busybox(busybox), 0o755),
        directory("dev"),
        char_device("dev/console", 5, 1),
        directory("proc"),
        directory("sys"),
        regular_file("init", init.encode(), 0o755),
    ]
    archive = newc_archive(entries)
    return gzip.compress(archive, mtime=0) if compress else archive


def parse_facts(console: str) -> dict[str, str]:
    """Return the ``VM-FACT`` pairs the probe printed on *console*.

    Lines between the markers that are not facts (kernel messages that slipped
    in) are ignored; the facts themselves must be complete and unique.

    Raises:
        InitramfsError: A marker is missing (the probe did not run or did not
            finish) or a fact is reported twice.
    """
    lines = console.splitlines()
    start = lines.index(_BEGIN) if _BEGIN in lines else -1
    end = lines.index(_END, start + 1) if _END in lines[start + 1 :] else -1
    for marker, found in ((_BEGIN, start), (_END, end)):
        if found < 0:
            msg = f"console has no {marker!r} line; the probe did not run to the end"
            raise InitramfsError(marker, msg)
    body = lines[start + 1 : end]
    facts: dict[str, str] = {}
    for line in body:
        match = _FACT.match(line)
        if match is None:
            continue
        key, value = match.groups()
        if key in facts:
            msg = f"fact {key!r} is reported twice: {facts[key]!r} and {value!r}"
            raise InitramfsError(key, msg)
        facts[key] = value
    return facts
