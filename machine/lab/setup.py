"""``virtmodel lab setup``: fetch and build everything the lab guest needs.

Four steps, each skipped when its output already exists (the helpers are
rebuilt when their C source changed), each output written under a temporary
name and renamed, so an interrupted setup never leaves a half-written file:

1. Debian's arm64 kernel (the one ``linux-image-arm64`` depends on) and
   static busybox, from Debian's arm64 archive.
2. ``kvmexec`` (static) and ``kvmtrace.so`` (LD_PRELOAD), cross-compiled
   from ``machine/lab/guest/*.c`` with ``aarch64-linux-gnu-gcc``.
3. Debian's arm64 ``qemu-system-arm`` without ``qemu-system-common`` and
   ``qemu-system-data``: only ``qemu-system-aarch64``, the shared libraries
   it loads (found through its DT_NEEDED entries) and the dynamic loader,
   packed as a newc archive to append to the guest's initramfs.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final
from urllib.parse import unquote

from virtmodel.machine.lab.apt import Arm64Apt, require_tool
from virtmodel.machine.lab.elf import LOADER, find_library, library_closure
from virtmodel.machine.lab.helpers import GUEST_SOURCES, HELPERS, helper_dir
from virtmodel.machine.lab.paths import LabError, LabPaths
from virtmodel.machine.qemu.initramfs import (
    CpioEntry,
    directory,
    newc_archive,
    regular_file,
    symlink,
)

__all__ = ["GUEST_SOURCES", "setup_lab"]

#: The arm64 KVM UAPI header the helpers include (libc6-dev-arm64-cross).
CROSS_KVM_HEADER = Path("/usr/aarch64-linux-gnu/include/linux/kvm.h")
_CC: Final = "aarch64-linux-gnu-gcc"
_READELF: Final = "aarch64-linux-gnu-readelf"
_QEMU_BIN: Final = "usr/bin/qemu-system-aarch64"
_LOADER: Final = "lib/ld-linux-aarch64.so.1"
_LIBDIR: Final = "lib/aarch64-linux-gnu"
_LEFT_OUT: Final = ("qemu-system-common", "qemu-system-data")

Progress = Callable[[str], None]


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.chmod(mode)
    partial.replace(path)


def _fetch_kernel(paths: LabPaths, apt: Arm64Apt, say: Progress) -> None:
    if _have(paths.image, paths.busybox, paths.kernel_release):
        say(f"kernel and busybox: already in {paths.root}")
        return
    kernel = next(
        (d for d in apt.depends("linux-image-arm64") if d.startswith("linux-image-6")),
        None,
    )
    if kernel is None:
        msg = "no versioned kernel package behind 'linux-image-arm64'"
        raise LabError(msg)
    say(f"kernel and busybox: downloading {kernel} and busybox-static (arm64)")
    with tempfile.TemporaryDirectory(dir=paths.root) as tmp:
        debs = apt.download([kernel, "busybox-static"], Path(tmp) / "debs")
        tree = Path(tmp) / "tree"
        apt.unpack(debs, tree)
        images = sorted((tree / "boot").glob("vmlinuz-*"))
        busybox = tree / "bin" / "busybox"
        if not images or not busybox.exists():
            msg = f"{kernel} or busybox-static lacks boot/vmlinuz-* or bin/busybox"
            raise LabError(msg)
        data = images[0].read_bytes()
        if data[:2] == b"\x1f\x8b":  # a gzip'd Image: QEMU wants it raw here
            data = gzip.decompress(data)
        if data[0x38:0x3C] != b"ARM\x64":
            msg = f"{images[0].name} is not an arm64 Image (no ARM\\x64 magic)"
            raise LabError(msg)
        _write(paths.busybox, busybox.read_bytes(), 0o755)
        _write(paths.kernel_release, f"{images[0].name}\n".encode())
        _write(paths.image, data)
    say(f"kernel and busybox: {images[0].name}")


def _have(*paths: Path) -> bool:
    return all(path.exists() for path in paths)


def _build_helpers(paths: LabPaths, say: Progress) -> None:
    cc = require_tool(_CC, "gcc-aarch64-linux-gnu")
    headers = CROSS_KVM_HEADER
    if not headers.exists():
        msg = f"{headers} not found; install the Debian package 'libc6-dev-arm64-cross'"
        raise LabError(msg)
    into = helper_dir(paths.root)
    for helper in HELPERS:
        output = into / helper.name
        if output.exists():
            say(f"{helper.name}: up to date")
            continue
        say(f"{helper.name}: compiling {helper.source}")
        into.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        source = GUEST_SOURCES / helper.source
        done = subprocess.run(
            [cc, *helper.flags, "-o", str(partial), str(source)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            detail = lines[0] if lines else done.returncode
            msg = f"compiling {helper.source} failed: {detail}"
            raise LabError(msg)
        partial.replace(output)


def _qemu_entries(tree: Path, readelf: str) -> list[CpioEntry]:
    binary = tree / _QEMU_BIN
    if not binary.exists():
        msg = f"qemu-system-arm has no {_QEMU_BIN}"
        raise LabError(msg)
    libraries = library_closure(readelf, tree, [binary])
    loader = find_library(tree, LOADER)
    entries = [
        directory("lib"),
        directory("lib/aarch64-linux-gnu"),
        regular_file(f"{_LIBDIR}/ld-linux-aarch64.so.1", loader.read_bytes(), 0o755),
        symlink(_LOADER, "aarch64-linux-gnu/ld-linux-aarch64.so.1"),
    ]
    entries += [
        regular_file(f"{_LIBDIR}/{soname}", path.read_bytes(), 0o755)
        for soname, path in sorted(libraries.items())
        if soname != "ld-linux-aarch64.so.1"
    ]
    entries += [
        directory("usr"),
        directory("usr/bin"),
        regular_file(_QEMU_BIN, binary.read_bytes(), 0o755),
    ]
    return entries


def _fetch_qemu(paths: LabPaths, apt: Arm64Apt, say: Progress) -> None:
    if _have(paths.qemu_cpio, paths.qemu_version):
        say(f"arm64 QEMU: already in {paths.qemu_cpio}")
        return
    readelf = require_tool(_READELF, "binutils-aarch64-linux-gnu")
    deps = [d for d in apt.depends("qemu-system-arm") if d not in _LEFT_OUT]
    # dict.fromkeys: the closure in apt's order, each package once.
    packages = list(dict.fromkeys(["qemu-system-arm", *apt.closure(deps)]))
    say(f"arm64 QEMU: downloading qemu-system-arm and {len(packages) - 1} packages")
    with tempfile.TemporaryDirectory(dir=paths.root) as tmp:
        debs = apt.download(packages, Path(tmp) / "debs")
        tree = Path(tmp) / "tree"
        say(f"arm64 QEMU: unpacking {len(debs)} packages")
        apt.unpack(debs, tree)
        entries = _qemu_entries(tree, readelf)
        deb = next(d.name for d in debs if d.name.startswith("qemu-system-arm_"))
        # apt-get download names files with the epoch's colon as "%3a".
        version = unquote(deb.split("_")[1])
        _write(paths.qemu_version, f"{version}\n".encode())
        _write(paths.qemu_cpio, newc_archive(entries))
    size = paths.qemu_cpio.stat().st_size
    libraries = sum(e.path.startswith(f"{_LIBDIR}/") for e in entries)
    say(f"arm64 QEMU: {libraries} libraries, {size / 2**20:.0f} MiB archive")


def setup_lab(
    paths: LabPaths | None = None, *, progress: Progress | None = None
) -> LabPaths:
    """Fetch and build whatever of the lab is missing; return its paths.

    Raises:
        LabError: A tool, package or download is missing; the message names it.
    """
    paths = paths or LabPaths.default()
    say = progress or (lambda _text: None)
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    paths.root.mkdir(parents=True, exist_ok=True)
    _build_helpers(paths, say)
    apt: Arm64Apt | None = None
    fetched = (paths.image, paths.busybox, paths.kernel_release)
    if not _have(*fetched, paths.qemu_cpio, paths.qemu_version):
        apt = Arm64Apt(paths.apt)
        say("apt: updating the arm64 package lists")
        apt.update()
        _fetch_kernel(paths, apt, say)
        _fetch_qemu(paths, apt, say)
        shutil.rmtree(paths.apt / "cache" / "archives", ignore_errors=True)
    else:
        say(f"kernel, busybox and arm64 QEMU: already in {paths.root}")
    return paths
