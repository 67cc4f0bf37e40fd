"""Stand-ins for apt-get, dpkg, readelf and pip: a tiny arm64 Python archive.

Installed on PATH under those names (pip as ``pip``; see test_run.py), they
act out python3.11-minimal and libpython3.11-stdlib with a few modules, one
extension module and two libraries, and a wheel, so ``python_archive`` can
be driven end to end without a network. ``FAKE_PIP_FAIL`` makes pip fail.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

CLOSURE = ["libc6", "libffi8", "python3.11-minimal", "libpython3.11-stdlib"]
NEEDED = {
    "python3.11": ["libc.so.6"],
    "_ctypes.cpython-311-aarch64-linux-gnu.so": ["libffi.so.8", "libc.so.6"],
    "_pydantic_core.cpython-311-aarch64-linux-gnu.so": ["libc.so.6"],
    "libffi.so.8.1.2": ["libc.so.6"],
    "libc.so.6": ["ld-linux-aarch64.so.1"],
    "ld-linux-aarch64.so.1": [],
}
FILES = {
    "python3.11-minimal": {"usr/bin/python3.11": b"\x7fELF python"},
    "libpython3.11-stdlib": {
        "usr/lib/python3.11/os.py": b"import sys\n",
        "usr/lib/python3.11/broken_template.py": b"def (:\n",
        "usr/lib/python3.11/test/test_os.py": b"pass\n",
        "usr/lib/python3.11/lib-dynload/_ctypes.cpython-311-aarch64-linux-gnu.so":
            b"\x7fELF ctypes",
        "usr/lib/python3.11/lib-dynload/_sqlite3.cpython-311-aarch64-linux-gnu.so":
            b"\x7fELF sqlite (left out)",
    },
    "libffi8": {"usr/lib/aarch64-linux-gnu/libffi.so.8.1.2": b"\x7fELF ffi"},
    "libc6": {
        "lib/aarch64-linux-gnu/libc.so.6": b"\x7fELF libc",
        "lib/aarch64-linux-gnu/ld-linux-aarch64.so.1": b"\x7fELF ld.so",
    },
}  # fmt: skip
LINKS = {"libffi8": {"usr/lib/aarch64-linux-gnu/libffi.so.8": "libffi.so.8.1.2"}}


def unpack(deb: str, into: Path) -> None:
    name = Path(deb).name.split("_")[0]
    for path, data in FILES.get(name, {}).items():
        (into / path).parent.mkdir(parents=True, exist_ok=True)
        (into / path).write_bytes(data)
    for path, target in LINKS.get(name, {}).items():
        if not (into / path).is_symlink():
            (into / path).symlink_to(target)


def pip(args: list[str]) -> int:
    if os.environ.get("FAKE_PIP_FAIL"):
        print("ERROR: No matching distribution found for pydantic==0", file=sys.stderr)
        return 1
    dest = Path(args[args.index("--dest") + 1])
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / "pydantic_core-2-cp311-cp311-manylinux2014_aarch64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pydantic_core/__init__.py", "VERSION = '2'\n")
        archive.writestr(
            "pydantic_core/_pydantic_core.cpython-311-aarch64-linux-gnu.so", "\x7fELF"
        )
        archive.writestr("pydantic_core/tests/test_x.py", "pass\n")
    return 0


def main() -> int:
    tool, args = Path(sys.argv[0]).name, sys.argv[1:]
    words = [a for a in args if not a.startswith("-")]
    if tool == "pip":
        return pip(args)
    if tool == "apt-get" and words[:1] == ["update"]:
        return 0
    if tool == "apt-get" and words[:1] == ["install"]:
        for name in CLOSURE:
            print(f"Inst {name} (1.0 Debian:12 [arm64])")
        return 0
    if tool == "apt-get" and words[:1] == ["download"]:
        for package in words[1:]:
            Path(f"{package.split(':')[0]}_1.0_arm64.deb").write_bytes(b"!<arch>")
        return 0
    if tool == "dpkg" and args[0] == "-x":
        unpack(args[1], Path(args[2]))
        return 0
    if tool == "aarch64-linux-gnu-readelf":
        for soname in NEEDED[Path(args[-1]).resolve().name]:
            print(f" 0x0000000000000001 (NEEDED)  Shared library: [{soname}]")
        return 0
    print(f"fakepython: {tool} {args} not understood", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
