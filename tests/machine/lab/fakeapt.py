"""Stand-ins for apt-get, apt-cache, dpkg, readelf and the cross compiler.

Installed on PATH under those names (see test_setup_fetch.py), they act out
a tiny Debian archive: a kernel, busybox, and qemu-system-arm with two
libraries, so ``lab setup`` can be driven end to end without a network.
``FAKE_APT_MISSING`` names a package the archive does not have; every call
is appended to ``FAKE_APT_LOG``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

KERNEL = "linux-image-6.1.0-99-arm64"
DEPENDS = {
    "linux-image-arm64": [KERNEL],
    "qemu-system-arm": [
        "libglib2.0-0",
        "libc6",
        "qemu-system-common",
        "qemu-system-data",
    ],
}
CLOSURE = {"libglib2.0-0": ["libglib2.0-0", "libc6"], "libc6": ["libc6"]}
NEEDED = {
    "qemu-system-aarch64": ["libglib-2.0.so.0", "libc.so.6"],
    "libglib-2.0.so.0.7400.6": ["libc.so.6"],
    "libc.so.6": ["ld-linux-aarch64.so.1"],
    "ld-linux-aarch64.so.1": [],
}


def image() -> bytes:
    data = bytearray(0x100)
    data[0x38:0x3C] = b"ARM\x64"
    return bytes(data)


def unpack(deb: str, into: Path) -> None:
    name = Path(deb).name.split("_")[0]
    files: dict[str, bytes] = {}
    links: dict[str, str] = {}
    if name == KERNEL:
        files["boot/vmlinuz-6.1.0-99-arm64"] = image()
    elif name == "busybox-static":
        files["bin/busybox"] = b"\x7fELF busybox"
    elif name == "qemu-system-arm":
        files["usr/bin/qemu-system-aarch64"] = b"\x7fELF qemu"
        files["usr/bin/qemu-system-arm"] = b"\x7fELF qemu-arm (not wanted)"
    elif name == "libglib2.0-0":
        files["usr/lib/aarch64-linux-gnu/libglib-2.0.so.0.7400.6"] = b"\x7fELF glib"
        links["usr/lib/aarch64-linux-gnu/libglib-2.0.so.0"] = "libglib-2.0.so.0.7400.6"
    elif name == "libc6":
        files["lib/aarch64-linux-gnu/libc.so.6"] = b"\x7fELF libc"
        files["lib/aarch64-linux-gnu/ld-linux-aarch64.so.1"] = b"\x7fELF ld.so"
        links["lib/ld-linux-aarch64.so.1"] = "aarch64-linux-gnu/ld-linux-aarch64.so.1"
    for path, data in files.items():
        (into / path).parent.mkdir(parents=True, exist_ok=True)
        (into / path).write_bytes(data)
    for path, target in links.items():
        (into / path).parent.mkdir(parents=True, exist_ok=True)
        if not (into / path).is_symlink():
            (into / path).symlink_to(target)


def main() -> int:
    tool, args = Path(sys.argv[0]).name, sys.argv[1:]
    with open(os.environ["FAKE_APT_LOG"], "a") as log:
        log.write(" ".join([tool, *[a for a in args if not a.startswith("-o")]]) + "\n")
    missing = os.environ.get("FAKE_APT_MISSING", "")
    words = [a for a in args if not a.startswith("-")]
    if tool == "apt-get" and words[:1] == ["update"]:
        return 0
    if tool == "apt-cache" and words[:1] == ["depends"]:
        package = words[1]
        if package == missing or package not in DEPENDS:
            print("E: No packages found", file=sys.stderr)
            return 100
        print(package)
        for dep in DEPENDS[package]:
            print(f"  Depends: {dep}")
        return 0
    if tool == "apt-get" and words[:1] == ["install"] and "-s" in args:
        for package in words[1:]:
            for name in CLOSURE[package]:
                print(f"Inst {name} (1.0 Debian:12 [arm64])")
        return 0
    if tool == "apt-get" and words[:1] == ["download"]:
        for package in words[1:]:
            name = package.split(":")[0]
            if name == missing:
                print(f"E: Unable to locate package {name}", file=sys.stderr)
                return 100
            # As apt names them: the epoch's colon URL-encoded.
            Path(f"{name}_1%3a7.2+dfsg-7_arm64.deb").write_bytes(b"!<arch>")
        return 0
    if tool == "dpkg" and args[0] == "-x":
        unpack(args[1], Path(args[2]))
        return 0
    if tool == "aarch64-linux-gnu-readelf":
        for soname in NEEDED[Path(args[-1]).resolve().name]:
            print(f" 0x0000000000000001 (NEEDED)  Shared library: [{soname}]")
        return 0
    if tool == "aarch64-linux-gnu-gcc":
        Path(args[args.index("-o") + 1]).write_bytes(b"\x7fELF helper")
        return 0
    if tool == "qemu-system-aarch64":
        return 0
    print(f"fakeapt: {tool} {args} not understood", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
