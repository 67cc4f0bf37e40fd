"""``lab setup`` end to end against a stand-in Debian archive (no network)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.machine.lab.test_guest import _members
from virtmodel.machine.cli.main import main
from virtmodel.machine.lab import setup as lab_setup
from virtmodel.machine.lab.paths import LabError, LabPaths

FAKE = Path(__file__).with_name("fakeapt.py")
TOOLS = (
    "apt-get", "apt-cache", "dpkg", "aarch64-linux-gnu-readelf",
    "aarch64-linux-gnu-gcc", "qemu-system-aarch64",
)  # fmt: skip


@pytest.fixture
def archive(tmp_path, monkeypatch):
    """Put the stand-ins on PATH; return the log of their calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        # One copy per name: the stand-in acts on its argv[0].
        script = bin_dir / tool
        script.write_text(f"#!{sys.executable}\n" + FAKE.read_text())
        script.chmod(0o755)
    monkeypatch.setattr(lab_setup, "CROSS_KVM_HEADER", FAKE)  # any existing file
    monkeypatch.setenv("PATH", str(bin_dir))
    log = tmp_path / "calls.log"
    monkeypatch.setenv("FAKE_APT_LOG", str(log))
    return log


def test_setup_fetches_builds_and_packs_then_does_nothing(archive, tmp_path):
    paths = LabPaths(tmp_path / "lab")
    said: list[str] = []
    lab_setup.setup_lab(paths, progress=said.append)
    assert paths.image.read_bytes()[0x38:0x3C] == b"ARM\x64"
    assert paths.busybox.read_bytes() == b"\x7fELF busybox"
    assert paths.kernel_release.read_text() == "vmlinuz-6.1.0-99-arm64\n"
    assert paths.qemu_version.read_text() == "1:7.2+dfsg-7\n"
    assert paths.kvmexec.exists()
    assert paths.kvmtrace.exists()
    members = _members(paths.qemu_cpio.read_bytes())
    assert sorted(members) == [
        "lib", "lib/aarch64-linux-gnu", "lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
        "lib/aarch64-linux-gnu/libc.so.6", "lib/aarch64-linux-gnu/libglib-2.0.so.0",
        "lib/ld-linux-aarch64.so.1", "usr", "usr/bin", "usr/bin/qemu-system-aarch64",
    ]  # fmt: skip
    # Only what QEMU loads: the soname, with the real file's bytes.
    assert members["lib/aarch64-linux-gnu/libglib-2.0.so.0"] == b"\x7fELF glib"
    assert (
        members["lib/ld-linux-aarch64.so.1"]
        == b"aarch64-linux-gnu/ld-linux-aarch64.so.1"
    )
    calls = archive.read_text()
    assert "--no-enhances qemu-system-arm\n" in calls  # apt-cache depends
    # qemu-system-common and -data are left out of the closure.
    assert "-s install --no-install-recommends libglib2.0-0 libc6\n" in calls
    assert "download qemu-system-arm:arm64 libglib2.0-0:arm64 libc6:arm64\n" in calls
    assert "qemu-system-common" not in calls
    assert said[-1] == "arm64 QEMU: 3 libraries, 0 MiB archive"
    assert not list(paths.root.glob("tmp*"))  # the downloads are gone
    archive.write_text("")
    said.clear()
    lab_setup.setup_lab(paths, progress=said.append)
    assert archive.read_text() == ""  # nothing fetched, nothing compiled
    assert said == [
        "kvmexec: up to date",
        "kvmtrace.so: up to date",
        f"kernel, busybox and arm64 QEMU: already in {paths.root}",
    ]


def test_a_missing_package_is_named(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_APT_MISSING", "busybox-static")
    paths = LabPaths(tmp_path / "lab")
    with pytest.raises(
        LabError,
        match=r"^downloading 'busybox-static:arm64' failed: E: Unable to locate package busybox-static$",
    ):
        lab_setup.setup_lab(paths)
    assert not paths.image.exists()  # nothing half-done left behind
    assert not paths.busybox.exists()


def test_a_package_missing_from_the_lists_is_named(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_APT_MISSING", "qemu-system-arm")
    with pytest.raises(
        LabError,
        match=r"apt-cache depends qemu-system-arm \(is it in the arm64 lists\?\) failed",
    ):
        lab_setup.setup_lab(LabPaths(tmp_path / "lab"))


def test_lab_setup_on_the_command_line(archive, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VIRTMODEL_LAB_DIR", str(tmp_path / "lab"))
    assert main(["lab", "setup"]) == 0
    out, err = capsys.readouterr()
    assert out == (
        f"lab ready in {tmp_path / 'lab'}: kernel vmlinuz-6.1.0-99-arm64, "
        "qemu-system-arm 1:7.2+dfsg-7\n"
    )
    assert "lab setup: apt: updating the arm64 package lists\n" in err
    monkeypatch.setenv("VIRTMODEL_LAB_DIR", str(tmp_path / "other"))
    monkeypatch.setenv("FAKE_APT_MISSING", "linux-image-arm64")
    assert main(["lab", "setup"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[-1].startswith(
        "virtmodel: lab: apt-cache depends linux-image-arm64"
    )
    assert not err.splitlines()[-1].startswith("virtmodel: lab: lab")


def test_a_partial_lab_fetches_only_what_is_missing(archive, tmp_path):
    paths = LabPaths(tmp_path / "lab")
    lab_setup.setup_lab(paths)
    paths.qemu_version.unlink()
    archive.write_text("")
    said: list[str] = []
    lab_setup.setup_lab(paths, progress=said.append)
    assert paths.qemu_version.read_text() == "1:7.2+dfsg-7\n"
    assert f"kernel and busybox: already in {paths.root}" in said
    calls = archive.read_text()
    assert "download qemu-system-arm:arm64" in calls
    assert "busybox-static" not in calls
