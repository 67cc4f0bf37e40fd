"""Python inside the lab guest: Debian's arm64 3.11 and PyPI's aarch64 wheels.

``virtmodel lab run`` runs virtmodel itself in the guest, against the
guest's real KVM. Nothing is built: Python is Debian's ``python3.11-minimal``
and ``libpython3.11-stdlib`` (with their dependency closure, fetched with
arm64 apt like the lab's QEMU and unpacked with ``dpkg -x``), the libraries
are PyPI's wheels for manylinux2014_aarch64 at the versions this host has
installed (pydantic-core is compiled; the rest is pure Python). They are
packed once into ``python.cpio`` in the lab directory, with bytecode
compiled here (same Python version: the guest would spend minutes doing it
under TCG). virtmodel's own source is packed per run, so the guest runs the
code the host has.

Guest layout: ``/usr/bin/python3.11``, ``/usr/lib/python3.11``, libraries
in ``/lib/aarch64-linux-gnu``, wheels in ``/opt/virtmodel/site``, the
source in ``/opt/virtmodel/src``.
"""

from __future__ import annotations

import importlib.metadata
import os
import py_compile
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from virtmodel.machine.lab.apt import Arm64Apt, require_tool
from virtmodel.machine.lab.elf import LOADER, find_library, library_closure
from virtmodel.machine.lab.paths import LabError, LabPaths
from virtmodel.machine.qemu.initramfs import (
    CpioEntry,
    directory,
    newc_archive,
    regular_file,
    symlink,
)

__all__ = [
    "GUEST_PYTHON",
    "PYTHONPATH",
    "WHEELS",
    "python_archive",
    "source_archive",
]

#: The interpreter in the guest.
GUEST_PYTHON: Final = "/usr/bin/python3.11"
#: Where the guest finds virtmodel and its wheels.
PYTHONPATH: Final = "/opt/virtmodel/src:/opt/virtmodel/site"
#: The distributions virtmodel needs at run time (pip names).
WHEELS: Final = (
    "pydantic",
    "pydantic-core",
    "networkx",
    "typing-extensions",
    "annotated-types",
    "typing-inspection",
)
_PACKAGES: Final = ("python3.11-minimal", "libpython3.11-stdlib")
_STDLIB: Final = "usr/lib/python3.11"
_LIBDIR: Final = "lib/aarch64-linux-gnu"
#: Standard-library parts virtmodel never imports (about half its size).
_SKIP: Final = frozenset(
    {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
     "pydoc_data", "__pycache__", "distutils", "venv", "tests"}
)  # fmt: skip
#: Extension modules for databases and terminals, whose libraries are large.
_SKIP_MODULES: Final = ("_dbm", "_gdbm", "_sqlite3", "readline", "_curses", "nis")

#: How pip is run (tests put a stand-in here).
PIP: tuple[str, ...] = (sys.executable, "-m", "pip")

Progress = Callable[[str], None]


def pins() -> list[str]:
    """Return ``name==version`` for every wheel, as this host has it installed.

    Raises:
        LabError: One of them is not installed here.
    """
    found = []
    for name in WHEELS:
        try:
            found.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            msg = f"{name!r} is not installed on this host; pip install virtmodel"
            raise LabError(msg) from None
    return found


def _archive_path(paths: LabPaths) -> Path:
    return paths.root / "python.cpio"


def python_archive(paths: LabPaths, say: Progress = lambda _text: None) -> Path:
    """Return ``python.cpio``, building it when missing or its pins changed.

    Raises:
        LabError: apt, pip or a package is missing; the message names it.
    """
    archive = _archive_path(paths)
    stamp = archive.with_name("python.pins")
    want = " ".join(pins()) + "\n"
    if archive.exists() and stamp.exists() and stamp.read_text() == want:
        return archive
    paths.root.mkdir(parents=True, exist_ok=True)
    readelf = require_tool("aarch64-linux-gnu-readelf", "binutils-aarch64-linux-gnu")
    apt = Arm64Apt(paths.apt)
    if not any((paths.apt / "lists").glob("*Packages*")):
        say("apt: updating the arm64 package lists")
        apt.update()
    with tempfile.TemporaryDirectory(dir=paths.root) as tmp:
        tree = Path(tmp) / "tree"
        packages = apt.closure(list(_PACKAGES))
        say(f"python: downloading {len(packages)} arm64 packages")
        apt.unpack(apt.download(packages, Path(tmp) / "debs"), tree)
        say(f"python: downloading wheels {', '.join(want.split())}")
        _unpack_wheels(want.split(), Path(tmp) / "wheels", tree / "opt/virtmodel/site")
        say("python: compiling bytecode and packing")
        data = newc_archive(_entries(tree, readelf))
    partial = archive.with_name(archive.name + ".partial")
    partial.write_bytes(data)
    partial.replace(archive)
    stamp.write_text(want)
    say(f"python: {len(data) / 2**20:.0f} MiB archive")
    return archive


def _unpack_wheels(pinned: list[str], into: Path, site: Path) -> None:
    done = subprocess.run(
        [*PIP, "download", "--quiet", "--no-deps",
         "--only-binary=:all:", "--platform", "manylinux2014_aarch64",
         "--python-version", "3.11", "--implementation", "cp",
         "--dest", str(into), *pinned],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if "ERROR" in line]
        detail = lines[-1] if lines else f"status {done.returncode}"
        msg = f"pip download of the aarch64 wheels failed: {detail}"
        raise LabError(msg)
    for wheel in sorted(into.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)


def _python_files(root: Path, skip: frozenset[str]) -> Iterator[Path]:
    for folder, subfolders, files in os.walk(root, followlinks=True):
        subfolders[:] = sorted(d for d in subfolders if d not in skip)
        for name in sorted(files):
            yield Path(folder) / name


def _compiled(source: Path, relative: str) -> CpioEntry | None:
    # Bytecode the guest can trust without looking at dates (cpio's are 0).
    if sys.version_info[:2] != (3, 11) or not relative.endswith(".py"):
        return None
    cache = Path(tempfile.mkstemp(suffix=".pyc")[1])
    try:
        py_compile.compile(
            str(source),
            cfile=str(cache),
            dfile="/" + relative,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        data = cache.read_bytes()
    except py_compile.PyCompileError:
        return None  # a file the guest never imports (a template, a test)
    finally:
        cache.unlink()
    folder, _, name = relative.rpartition("/")
    pyc = f"{folder}/__pycache__/{name[:-3]}.cpython-311.pyc"
    return regular_file(pyc, data)


class _Tree:
    """Entries of one archive, each directory added once before its files."""

    def __init__(self) -> None:
        self.entries: list[CpioEntry] = []
        self._dirs: set[str] = set()

    def parents(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for end in range(1, len(parts) + 1):
            folder = "/".join(parts[:end])
            if folder not in self._dirs:
                self._dirs.add(folder)
                self.entries.append(directory(folder))

    def add(self, entry: CpioEntry) -> None:
        self.parents(entry.path)
        self.entries.append(entry)

    def add_python(self, source: Path, relative: str, mode: int = 0o644) -> None:
        self.add(regular_file(relative, source.read_bytes(), mode))
        compiled = _compiled(source, relative)
        if compiled is not None:
            self.add(compiled)


def _entries(tree: Path, readelf: str) -> list[CpioEntry]:
    out = _Tree()
    binary = tree / "usr/bin/python3.11"
    if not binary.exists():
        msg = "python3.11-minimal has no usr/bin/python3.11"
        raise LabError(msg)
    out.add(regular_file("usr/bin/python3.11", binary.read_bytes(), 0o755))
    out.add(symlink("usr/bin/python3", "python3.11"))
    elves = [binary]
    for root in (tree / _STDLIB, tree / "opt/virtmodel/site"):
        for path in _python_files(root, _SKIP):
            if (path.is_symlink() and not path.exists()) or path.name.startswith(
                _SKIP_MODULES
            ):
                continue
            relative = path.relative_to(tree).as_posix()
            out.add_python(path, relative)
            if path.name.endswith(".so") or ".so." in path.name:
                elves.append(path)
    libraries = library_closure(readelf, tree, elves)
    loader = find_library(tree, LOADER)
    out.add(
        regular_file(f"{_LIBDIR}/ld-linux-aarch64.so.1", loader.read_bytes(), 0o755)
    )
    out.add(
        symlink("lib/ld-linux-aarch64.so.1", "aarch64-linux-gnu/ld-linux-aarch64.so.1")
    )
    for soname, path in sorted(libraries.items()):
        if soname != "ld-linux-aarch64.so.1":
            out.add(regular_file(f"{_LIBDIR}/{soname}", path.read_bytes(), 0o755))
    return out.entries


def source_archive() -> bytes:
    """Return virtmodel's own package, as this host has it, as a newc archive."""
    import virtmodel

    package = Path(virtmodel.__file__).parent
    out = _Tree()
    for path in _python_files(package, frozenset({"__pycache__", "guest"})):
        if path.suffix in (".py", ".typed"):
            relative = path.relative_to(package.parent).as_posix()
            out.add_python(path, f"opt/virtmodel/src/{relative}")
    return newc_archive(out.entries)
