"""``lab setup``'s checks and the cross-compiled helpers (no network needed)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import require_tool
from tests.machine.lab.conftest import fake_qemu
from virtmodel.machine.lab import helpers
from virtmodel.machine.lab.paths import LabError, LabPaths, lab_dir
from virtmodel.machine.lab.setup import GUEST_SOURCES, _build_helpers, setup_lab


def test_the_cache_directory_follows_xdg_and_the_override(monkeypatch, tmp_path):
    monkeypatch.delenv("VIRTMODEL_LAB_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert lab_dir() == tmp_path / "xdg" / "virtmodel" / "lab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert lab_dir() == tmp_path / "home" / ".cache" / "virtmodel" / "lab"
    monkeypatch.setenv("VIRTMODEL_LAB_DIR", str(tmp_path / "mine"))
    assert lab_dir() == tmp_path / "mine"


def test_a_missing_host_qemu_names_its_package(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        LabError,
        match=r"^'qemu-system-aarch64' not found; install the Debian package 'qemu-system-arm'$",
    ):
        setup_lab(LabPaths(tmp_path / "lab"))


def test_a_missing_cross_compiler_names_its_package(monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_qemu(bin_dir, "exit 0\n")
    (bin_dir / "fake-qemu").rename(bin_dir / "qemu-system-aarch64")
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(LabError, match="'gcc-aarch64-linux-gnu'"):
        setup_lab(LabPaths(tmp_path / "lab"))


def _elf(path):
    data = path.read_bytes()
    return (
        data[:4],
        int.from_bytes(data[16:18], "little"),
        int.from_bytes(data[18:20], "little"),
    )


def test_helpers_are_cross_compiled_once_and_again_when_changed(tmp_path, monkeypatch):
    require_tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu")
    paths = LabPaths(tmp_path / "lab")
    said: list[str] = []
    _build_helpers(paths, said.append)
    assert said == ["kvmexec: compiling kvmexec.c", "kvmtrace.so: compiling kvmtrace.c"]
    # ELF, type EXEC (static) / DYN (the preload library), machine AArch64.
    assert _elf(paths.kvmexec) == (b"\x7fELF", 2, 183)
    assert _elf(paths.kvmtrace) == (b"\x7fELF", 3, 183)
    assert b"/lib/ld-linux" not in paths.kvmexec.read_bytes()[:4096]  # no interpreter
    built = paths.kvmexec.stat().st_mtime_ns
    said.clear()
    _build_helpers(paths, said.append)
    assert said == ["kvmexec: up to date", "kvmtrace.so: up to date"]
    assert paths.kvmexec.stat().st_mtime_ns == built
    # Other sources (another checkout, an edit): their own directory.
    old = paths.kvmexec
    monkeypatch.setattr(helpers, "_digest", lambda: "0123456789abcdef")
    assert paths.kvmexec == paths.root / "bin" / "0123456789abcdef" / "kvmexec"
    said.clear()
    _build_helpers(paths, said.append)
    assert said == ["kvmexec: compiling kvmexec.c", "kvmtrace.so: compiling kvmtrace.c"]
    assert old.exists()  # the first checkout's helpers stay usable


def test_the_helper_directory_follows_the_sources(tmp_path, monkeypatch):
    today = helpers.helper_dir(tmp_path)
    sources = tmp_path / "guest"
    shutil.copytree(helpers.GUEST_SOURCES, sources)
    monkeypatch.setattr(helpers, "GUEST_SOURCES", sources)
    helpers._digest.cache_clear()
    try:
        assert helpers.helper_dir(tmp_path) == today  # same bytes, same place
        with (sources / "kvmexec.c").open("a") as source:
            source.write("/* edited */\n")
        helpers._digest.cache_clear()
        assert helpers.helper_dir(tmp_path) != today
        assert helpers.helper_dir(tmp_path).parent == tmp_path / "bin"
    finally:
        helpers._digest.cache_clear()


@pytest.mark.parametrize(
    ("source", "flags"),
    [("kvmexec.c", ["-static"]), ("kvmtrace.c", ["-shared", "-fPIC", "-pthread"])],
)
def test_the_c_sources_compile_without_warnings(tmp_path, source, flags):
    gcc = require_tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu")
    done = subprocess.run(
        [gcc, *flags, "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "out"),
         str(GUEST_SOURCES / source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
